"""Gunicorn settings: ``gunicorn -c python:shared.runtime.gunicorn_settings proxy_server:app``.

An importable module rather than a ``gunicorn.conf.py`` beside the code, so an installed
wheel carries it. The Flask stack runs gevent workers (the default below); the FastAPI stack
can run here too with ``-k uvicorn_worker.UvicornWorker``, which takes ``keepalive`` and the
drain limit from these same settings (``proxyctl serve fastapi --server gunicorn``).

``preload_app`` stays False: preloading imports ``requests``/``ssl`` in the master before
gevent patches them in the workers (gunicorn#2796, gevent#1016). The command line overrides
anything here (``--bind``, ``--workers``, ``-k``).
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn import glogging  # type: ignore[import-untyped]

from shared.runtime import logs, server_settings

# gunicorn reads every module-level name it knows as a setting; these are them.
__all__ = [
    "accesslog",
    "bind",
    "child_exit",
    "control_socket_disable",
    "graceful_timeout",
    "keepalive",
    "logconfig_dict",
    "logger_class",
    "loglevel",
    "on_starting",
    "preload_app",
    "timeout",
    "worker_class",
    "worker_connections",
    "workers",
]

worker_class = "gevent"
workers = server_settings.workers(os.environ)
worker_connections = int(os.environ.get("PROXY_WORKER_CONNECTIONS", "10000"))
preload_app = False
bind = os.environ.get("PROXY_BIND", "127.0.0.1:3001")
# Streams can run for minutes; gevent workers heartbeat independently of requests.
timeout = int(os.environ.get("PROXY_WORKER_TIMEOUT", "120"))
graceful_timeout = server_settings.drain_seconds(os.environ)
keepalive = server_settings.KEEPALIVE_SECONDS
accesslog = "-" if server_settings.SERVER_ACCESS_LOG else None


class _NoAccessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's logger without the access line, which the app writes itself.

    With ``logconfig_dict`` set, gunicorn counts its access log as enabled whatever
    ``accesslog`` says, and formats every request's atoms for a logger nobody reads: about a
    tenth of a Flask worker's CPU per instant-upstream request (measured with py-spy).
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = glogging.Logger if server_settings.SERVER_ACCESS_LOG else _NoAccessLogger
loglevel = server_settings.log_level(os.environ)
# The master's and workers' own lines in the app's JSON format (shared/runtime/logs.py); each
# worker's create_app then stamps them with its stack.
logconfig_dict = logs.dict_config("gunicorn", loglevel)
# gunicorn >= 25.1 opens a control socket for `gunicornc` by default, in $XDG_RUNTIME_DIR or
# $HOME/.gunicorn/: a write outside the deployment (and a failure where $HOME is read-only,
# as for a non-root container user). Nothing here uses it.
# https://gunicorn.org/reference/settings/ (Control: control_socket_disable)
control_socket_disable = True


# Metrics with several workers (docs/operations.md): with PROMETHEUS_MULTIPROC_DIR set,
# every worker writes its metrics to files there and GET /metrics sums them. The
# directory is emptied before the first worker starts, and a dead worker's live gauges
# (in-flight streams) are dropped. shared.runtime.multiproc imports no prometheus_client:
# importing it here, in the master, would import ssl before gevent patches the workers.
def on_starting(server: Any) -> None:
    from shared.runtime.multiproc import multiproc_dir, reset_dir

    path = multiproc_dir(os.environ)
    if path:
        reset_dir(path)


def child_exit(server: Any, worker: Any) -> None:
    from shared.runtime.multiproc import mark_process_dead, multiproc_dir

    path = multiproc_dir(os.environ)
    if path:
        mark_process_dead(worker.pid, path)
