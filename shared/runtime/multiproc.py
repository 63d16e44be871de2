"""Housekeeping of ``PROMETHEUS_MULTIPROC_DIR``, without importing prometheus_client.

With several workers (gunicorn ``--workers N``, uvicorn ``--workers N``) every worker
writes its metrics to memory-mapped files in one directory and ``/metrics`` sums them
(``shared/runtime/metrics.py``). That directory must be empty when the server starts — stale
files from an earlier run would be summed too — and the live gauges
(``aicore_proxy_streams_in_flight``, mode ``livesum``) of a worker that died must be removed,
or its open streams would be counted forever.

This module does that with ``os`` alone because the gunicorn *master* calls it
(:mod:`shared.runtime.gunicorn_settings`: ``on_starting``, ``child_exit``): importing prometheus_client
there would import ``ssl`` before gevent patches it in the workers forked afterwards
(the reason ``preload_app`` is off). :func:`mark_process_dead` removes exactly the
files ``prometheus_client.multiprocess.mark_process_dead`` removes;
``tests/unit/test_metrics.py`` checks that they agree.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ENV", "mark_process_dead", "multiproc_dir", "reset_dir", "sweep_dead_workers"]

ENV = "PROMETHEUS_MULTIPROC_DIR"
# prometheus_client's Gauge multiprocess modes whose files belong to one live process.
_LIVE_MODES = ("liveall", "livemin", "livemax", "livesum", "livemostrecent")


def multiproc_dir(environ: Mapping[str, str]) -> str | None:
    """The multiprocess directory when multiprocess collection is on, else None."""
    return environ.get(ENV) or None


def reset_dir(path: str | os.PathLike[str]) -> None:
    """Create ``path`` if needed and delete every metrics file in it: call before any worker starts."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for db in directory.glob("*.db"):
        db.unlink(missing_ok=True)


def mark_process_dead(pid: int, path: str | os.PathLike[str]) -> None:
    """Forget the live gauges of worker ``pid`` (its counters and histograms stay: they are totals)."""
    for mode in _LIVE_MODES:
        for name in glob.glob(os.path.join(os.fspath(path), f"gauge_{mode}_{pid}.db")):
            try:
                os.remove(name)
            except FileNotFoundError:  # pragma: no cover - removed concurrently
                pass


def sweep_dead_workers(path: str | os.PathLike[str]) -> list[int]:
    """:func:`mark_process_dead` for every worker whose live-gauge file outlived it; the pids swept.

    uvicorn has no ``child_exit`` hook, so each new worker sweeps when it starts: a
    worker that replaces a dead one removes the dead one's in-flight streams.
    """
    dead = []
    for name in glob.glob(os.path.join(os.fspath(path), "gauge_live*_*.db")):
        pid_text = name.rsplit("_", 1)[1][: -len(".db")]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            dead.append(int(pid_text))
    for pid in sorted(set(dead)):
        mark_process_dead(pid, path)
    return sorted(set(dead))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
