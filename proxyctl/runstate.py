"""The run directory (default ``.run/``): what ``proxyctl up`` started and the chosen weight.

Files, all small JSON or text:

``state.json``     PIDs (with their start times, so a recycled PID is never signalled),
                   ports, the Runtime API socket and the servers; present while up.
``rollout.json``   the FastAPI percentage last set; survives ``down`` so the next ``up`` restores it.
``haproxy.cfg``    the generated HAProxy config; ``haproxy.state`` its server-state file.
``snapshots.json`` recent counter snapshots, so ``status`` can report over a window.
``logs/``          one log per process.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxyctl.procs import ROOT, SOURCE_TREE

__all__ = [
    "CliError",
    "RunDir",
    "add_common",
    "add_socket",
    "default_run_dir",
    "percent_arg",
    "pid_alive",
    "port_arg",
    "proc_start_time",
    "shutdown",
    "stop_pid",
    "wait_gone",
]


class CliError(Exception):
    """A user-facing failure: printed as ``proxyctl <command>: <message>``, exit ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def percent_arg(text: str) -> int:
    """argparse type: a whole percentage 0-100 (``50`` or ``50%``)."""
    value = text.strip().removesuffix("%")
    if not value.isdigit() or not 0 <= int(value) <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage: give a whole number from 0 to 100")
    return int(value)


def port_arg(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return int(text)


def default_run_dir(env: Mapping[str, str]) -> Path:
    """``PROXYCTL_RUN_DIR``; else ``.run/`` in a source checkout; else the user's state directory.

    An installed proxyctl must not write into site-packages: it uses ``$XDG_STATE_HOME/proxyctl``
    (``~/.local/state/proxyctl``), as the XDG base directory convention has it.
    """
    if env.get("PROXYCTL_RUN_DIR"):
        return Path(env["PROXYCTL_RUN_DIR"])
    if SOURCE_TREE:
        return ROOT / ".run"
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "proxyctl"


def add_common(p: argparse.ArgumentParser) -> None:
    default = str(default_run_dir(os.environ))
    p.add_argument("--run-dir", type=Path, default=Path(default), help=f"state directory (default {default})")


def add_socket(p: argparse.ArgumentParser) -> None:
    p.add_argument("--socket", help="HAProxy Runtime API: a unix socket path or host:port (default: from the run dir)")


@dataclass
class RunDir:
    path: Path

    def __post_init__(self) -> None:
        self.path = self.path.resolve()

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def logs(self) -> Path:
        return self.path / "logs"

    @property
    def socket(self) -> Path:
        return self.path / "haproxy.sock"

    def ensure(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)

    def _read(self, name: str) -> Any:
        try:
            return json.loads(self.file(name).read_text())
        except (OSError, ValueError):
            return None

    def _write(self, name: str, doc: Any) -> None:
        self.ensure()
        tmp = self.file(name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        tmp.replace(self.file(name))

    def state(self) -> dict[str, Any] | None:
        doc = self._read("state.json")
        return doc if isinstance(doc, dict) else None

    def write_state(self, doc: dict[str, Any]) -> None:
        self._write("state.json", doc)

    def clear_state(self) -> None:
        self.file("state.json").unlink(missing_ok=True)

    def live_pids(self) -> dict[str, int]:
        """Processes recorded in state.json that are still the same processes."""
        state = self.state() or {}
        alive = {}
        for name, entry in (state.get("pids") or {}).items():
            pid, started = int(entry["pid"]), entry.get("start")
            if pid_alive(pid) and (started is None or proc_start_time(pid) in (None, started)):
                alive[name] = pid
        return alive

    def weight(self) -> int | None:
        doc = self._read("rollout.json")
        value = doc.get("fastapi_percent") if isinstance(doc, dict) else None
        return value if isinstance(value, int) and 0 <= value <= 100 else None

    def write_weight(self, percent: int, source: str) -> None:
        self._write("rollout.json", {"fastapi_percent": percent, "set_at": time.time(), "by": source})

    def snapshots(self) -> list[dict[str, Any]]:
        doc = self._read("snapshots.json")
        return doc if isinstance(doc, list) else []

    def add_snapshot(self, snap: dict[str, Any], keep_s: float = 3600, keep_n: int = 120) -> None:
        snaps = [s for s in self.snapshots() if snap["t"] - s.get("t", 0) < keep_s] + [snap]
        self._write("snapshots.json", snaps[-keep_n:])


def proc_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a recycled PID from ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its new parent) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Signal ``pid``, wait up to ``timeout`` s, then SIGKILL. True if it was running."""
    if not pid_alive(pid) or not _signal(pid, sig):
        return False
    if not wait_gone(pid, timeout):
        _signal(pid, signal.SIGKILL)
        wait_gone(pid, 5)
    return True


def shutdown(pids: dict[str, int], drain: float = 30.0) -> None:
    """Stop a deployment in order: HAProxy first (soft stop: no new connections, open
    streams finish), then both stacks together (each drains its streams), then the rest."""
    haproxy = pids.get("haproxy")
    if haproxy and pid_alive(haproxy) and _signal(haproxy, signal.SIGUSR1) and not wait_gone(haproxy, drain):
        stop_pid(haproxy, signal.SIGTERM, 5)
    stacks = [pids[n] for n in ("flask", "fastapi") if n in pids and _signal(pids[n], signal.SIGTERM)]
    for pid in stacks:
        if not wait_gone(pid, drain + 5):
            stop_pid(pid, signal.SIGKILL, 5)
    for name, pid in pids.items():
        if name not in ("haproxy", "flask", "fastapi"):
            stop_pid(pid, signal.SIGTERM, 10)
