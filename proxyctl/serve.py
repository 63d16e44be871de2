"""``proxyctl serve STACK``: run one stack in the foreground with its production settings.

What a container's command or a systemd unit runs. It builds the same server command line
``proxyctl up`` and the test suite use (:func:`proxyctl.procs.server_argv`), then *replaces
itself* with the server (``exec``), so signals from the supervisor (SIGTERM to drain, SIGHUP
to gunicorn) reach the server directly and no extra process sits in between.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from proxyctl.procs import ROOT, SERVERS, server_argv
from proxyctl.runstate import CliError, port_arg
from shared.config import config_path
from shared.runtime import server_settings

__all__ = ["DEFAULT_PORTS", "add_parser", "run"]

DEFAULT_PORTS = {"flask": 3001, "fastapi": 3002}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve",
        help="run one stack in the foreground with its production settings (containers, systemd)",
        description="Run one stack in the foreground: gunicorn+gevent for flask; uvicorn, or gunicorn with "
        "uvicorn workers, for fastapi. Workers: --workers, else WEB_CONCURRENCY, else 1. Drain limit: "
        "PROXY_DRAIN_TIMEOUT (default 30 s). Config: --config, else PROXY_CONFIG, else ./config.json.",
    )
    p.add_argument("stack", choices=sorted(SERVERS), help="which stack")
    p.add_argument("--server", choices=("gunicorn", "uvicorn"), help="flask: gunicorn; fastapi: uvicorn (default)")
    p.add_argument(
        "--host",
        default=os.environ.get("PROXY_HOST") or "127.0.0.1",
        help="address to listen on (default: PROXY_HOST, else 127.0.0.1; 0.0.0.0: every interface)",
    )
    p.add_argument(
        "--port",
        type=port_arg,
        default=os.environ.get("PORT") or None,
        help="port (default: PORT, as container platforms set it, else 3001 for flask, 3002 for fastapi)",
    )
    p.add_argument("--workers", type=int, help="worker processes (default: WEB_CONCURRENCY, else 1)")
    p.add_argument("--config", help="proxy config.json (default: PROXY_CONFIG, else ./config.json)")
    p.add_argument("--print-command", action="store_true", help="print the server's command line and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    server = args.server or SERVERS[args.stack][0]
    if server not in SERVERS[args.stack]:
        raise CliError(f"the {args.stack} stack runs under {' or '.join(SERVERS[args.stack])}, not {server}")
    try:
        workers = args.workers if args.workers is not None else server_settings.workers(os.environ)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    if workers < 1:
        raise CliError(f"--workers {workers}: give at least 1")
    port = args.port or DEFAULT_PORTS[args.stack]
    try:
        argv = server_argv(args.stack, server, port, workers, host=args.host)
    except ValueError as exc:  # a bad PROXY_DRAIN_TIMEOUT
        raise CliError(str(exc)) from exc
    # The server starts in ROOT (see proxyctl.procs), so a relative config path is resolved first.
    env = dict(os.environ, PROXY_CONFIG=str(Path(args.config or config_path(os.environ)).resolve()))
    if args.print_command:
        print(shlex.join(argv))
        return 0
    if workers > 1 and server == "uvicorn" and env.get("PROMETHEUS_MULTIPROC_DIR"):
        # gunicorn empties the metrics directory itself (on_starting); uvicorn has no such hook.
        from shared.runtime.multiproc import reset_dir

        reset_dir(env["PROMETHEUS_MULTIPROC_DIR"])
    sys.stdout.flush()
    os.chdir(ROOT)
    os.execve(argv[0], argv, env)
    return 0  # pragma: no cover - execve does not return
