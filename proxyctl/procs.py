"""Start, watch and stop the processes of a local deployment (and of the test suite).

Everything is started as a real process with its production command line —
``python -m aicore_sim``, ``gunicorn ... proxy_server:app``, ``uvicorn
proxy_server_fastapi:app`` — because in-process clients buffer streams and hide the
bugs a real server shows. The server command lines are built here and only here
(``proxyctl serve``, ``proxyctl up``, the tests, the benchmark); their settings come from
:mod:`shared.runtime.server_settings`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shared.runtime import server_settings

__all__ = [
    "GUNICORN_SETTINGS",
    "ROOT",
    "SERVERS",
    "SOURCE_TREE",
    "UVICORN_WORKER",
    "Service",
    "fastapi_argv",
    "flask_argv",
    "free_port",
    "metrics_env",
    "port_in_use",
    "server_argv",
    "sim_argv",
    "start_service",
    "stop_all",
]

# The directory holding the top-level modules: the repo root in a checkout, site-packages
# in an installed wheel. Servers start here, so their `shared` is this one, never a `shared/`
# folder in the caller's directory (gunicorn and uvicorn put their cwd first on sys.path).
ROOT = Path(__file__).resolve().parent.parent
SOURCE_TREE = (ROOT / "pyproject.toml").is_file()

GUNICORN_SETTINGS = "python:shared.runtime.gunicorn_settings"
UVICORN_WORKER = "uvicorn_worker.UvicornWorker"
# The servers each stack runs under, the default first.
SERVERS = {"flask": ("gunicorn",), "fastapi": ("uvicorn", "gunicorn")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def metrics_env(directory: Path) -> dict[str, str]:
    """Environment for a stack with several workers: an emptied ``PROMETHEUS_MULTIPROC_DIR``.

    Each worker then writes its metrics there and ``GET /metrics`` on any worker sums
    them all (docs/operations.md). Give every stack process its own directory, and call
    this before each start: uvicorn, unlike gunicorn (``on_starting`` in
    :mod:`shared.runtime.gunicorn_settings`), has no hook that empties it.
    """
    from shared.runtime.multiproc import ENV, reset_dir

    reset_dir(directory)
    return {ENV: str(directory)}


def sim_argv(port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "aicore_sim", "--host", "127.0.0.1", "--port", str(port), "--quiet", *extra]


def _executable(name: str) -> str:
    """A console script of this environment (gunicorn, uvicorn), beside its python."""
    return str(Path(sys.executable).with_name(name))


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def flask_argv(port: int, workers: int = 1, *, host: str = "127.0.0.1") -> list[str]:
    return server_argv("flask", "gunicorn", port, workers, host=host)


def fastapi_argv(port: int, workers: int = 1, *, host: str = "127.0.0.1", server: str = "uvicorn") -> list[str]:
    return server_argv("fastapi", server, port, workers, host=host)


def server_argv(stack: str, server: str, port: int, workers: int, *, host: str = "127.0.0.1") -> list[str]:
    """The production command line of ``stack`` under ``server`` (one of :data:`SERVERS`)."""
    if server not in SERVERS.get(stack, ()):
        raise ValueError(f"the {stack} stack does not run under {server}")
    app = "proxy_server:app" if stack == "flask" else "proxy_server_fastapi:app"
    if server == "gunicorn":
        worker = [] if stack == "flask" else ["--worker-class", UVICORN_WORKER]
        return [
            _executable("gunicorn"), "--config", GUNICORN_SETTINGS, *worker,
            "--bind", _hostport(host, port), "--workers", str(workers), app,
        ]  # fmt: skip
    return [
        _executable("uvicorn"), app, "--host", host, "--port", str(port), "--workers", str(workers),
        *server_settings.uvicorn_options(os.environ),
    ]  # fmt: skip


@dataclass
class Service:
    name: str
    argv: list[str]
    health_url: str
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def start_service(
    name: str,
    argv: Sequence[str],
    health_url: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    detach: bool = False,
    cwd: Path = ROOT,
) -> Service:
    """Start ``argv`` in ``cwd`` (the repo root) and wait until ``health_url`` answers 200.

    ``detach``: own session and no stdin, so the process outlives its starter and a
    terminal's Ctrl-C reaches only the starter (which then stops things in order).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    service = Service(name, list(argv), health_url, log_dir / f"{name}.log")
    full_env = {**os.environ, **(env or {})}
    with open(service.log_path, "wb") as log:
        service.proc = subprocess.Popen(
            argv, cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL if detach else None, start_new_session=detach,
        )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {service.proc.returncode}:\n{service.log_tail()}")
        try:
            with urllib.request.urlopen(health_url, timeout=1) as resp:
                if resp.status == 200:
                    return service
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    service.stop()
    raise RuntimeError(f"{name} did not become healthy within {timeout:.0f}s:\n{service.log_tail()}")


def stop_all(services: Sequence[Service]) -> None:
    for service in reversed(services):
        service.stop()
