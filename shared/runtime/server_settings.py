"""The settings both servers share, decided once: workers, keep-alive, drain limit, logs.

gunicorn reads them through :mod:`shared.runtime.gunicorn_settings`; uvicorn gets them as
command-line options from :func:`uvicorn_options` (``proxyctl serve``, ``proxyctl up`` and
the test suite all start the servers with those). The environment is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "DEFAULT_DRAIN_SECONDS",
    "KEEPALIVE_SECONDS",
    "SERVER_ACCESS_LOG",
    "drain_seconds",
    "log_level",
    "uvicorn_options",
    "workers",
]

# Idle keep-alive of a client connection, in seconds. Longer than HAProxy's
# `timeout http-keep-alive` (75 s, proxyctl/haproxy.py) so that the server is never the side
# that closes an idle connection HAProxy may be reusing at that instant (the same holds for any
# load balancer in front). tests/packaging/test_server_settings.py compares the two.
KEEPALIVE_SECONDS = 90

# How long a SIGTERM'd server lets open requests and streams finish (PROXY_DRAIN_TIMEOUT).
DEFAULT_DRAIN_SECONDS = 30

# The servers write no access log: the app writes one JSON line per request itself, on both
# stacks alike (config `access_log`, shared/runtime/logs.py), so this is the one place that decides.
SERVER_ACCESS_LOG = False


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name}={text!r}: must be a whole number of at least 1")
    return int(text)


def workers(env: Mapping[str, str]) -> int:
    """Worker processes: ``WEB_CONCURRENCY`` (the convention gunicorn and uvicorn follow), else 1."""
    return _positive_int(env, "WEB_CONCURRENCY", 1)


def drain_seconds(env: Mapping[str, str]) -> int:
    """The graceful-shutdown limit: ``PROXY_DRAIN_TIMEOUT``, else :data:`DEFAULT_DRAIN_SECONDS`."""
    return _positive_int(env, "PROXY_DRAIN_TIMEOUT", DEFAULT_DRAIN_SECONDS)


def log_level(env: Mapping[str, str]) -> str:
    """The servers' own log level: ``PROXY_LOG_LEVEL``, else ``info``."""
    return env.get("PROXY_LOG_LEVEL", "").strip().lower() or "info"


def uvicorn_options(env: Mapping[str, str]) -> list[str]:
    """uvicorn's command-line options for these settings (the worker count and address aside)."""
    options = [
        "--timeout-keep-alive", str(KEEPALIVE_SECONDS),
        "--timeout-graceful-shutdown", str(drain_seconds(env)),
        "--log-level", log_level(env),
    ]  # fmt: skip
    if not SERVER_ACCESS_LOG:
        options.append("--no-access-log")
    return options
