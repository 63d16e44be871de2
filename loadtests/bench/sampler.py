"""Samples a server's memory, CPU and open connections from ``/proc`` while Locust runs.

Reading ``/proc`` directly keeps the load generator and the servers free of extra
dependencies: RSS from ``/proc/PID/status`` (VmRSS), CPU from the ``utime``+``stime``
ticks of ``/proc/PID/stat``, and established TCP connections on the server's port from
``/proc/net/tcp`` and ``tcp6`` (how many clients the server holds right now).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

__all__ = ["Sample", "Sampler", "children", "established"]

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the sampler started
    rss_mb: float  # sum over the sampled processes
    cpu_pct: float  # of one core, since the previous sample
    connections: int  # established connections on the server port


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (gunicorn's workers)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0


def established(port: int) -> int:
    """Established TCP connections whose local port is ``port``."""
    suffix = f":{port:04X}"
    count = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split(None, 4)
                    if len(parts) > 3 and parts[3] == "01" and parts[1].endswith(suffix):
                        count += 1
        except OSError:
            continue
    return count


class Sampler:
    """Background thread sampling ``pids`` every ``interval`` seconds until :meth:`stop`."""

    def __init__(self, pids: list[int], port: int, interval: float = 0.5) -> None:
        self.pids = pids
        self.port = port
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(5)
        return self.samples

    def _loop(self) -> None:
        start = last_t = time.monotonic()
        last_ticks = sum(_cpu_ticks(p) for p in self.pids)
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            ticks = sum(_cpu_ticks(p) for p in self.pids)
            cpu = (ticks - last_ticks) / _TICKS / max(now - last_t, 1e-6) * 100.0
            rss = sum(_rss_kb(p) for p in self.pids) / 1024.0
            self.samples.append(Sample(round(now - start, 2), round(rss, 1), round(cpu, 1), established(self.port)))
            last_t, last_ticks = now, ticks
