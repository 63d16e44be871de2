"""How a worker starts: the lazily built module-level ``app``, and the core with its runtime.

``gunicorn proxy_server:app`` and ``uvicorn proxy_server_fastapi:app`` look the name up;
building it lazily keeps ``import proxy_server`` free of any config file (tests, tools).
A bad config becomes one readable line and exit code 3 — gunicorn's "worker failed to
boot", which stops the master instead of restarting the worker forever.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from shared.config import ProxyConfig, config_path
from shared.core import ProxyCore
from shared.errors import ConfigError
from shared.runtime.logs import configure_logging
from shared.runtime.metrics import StackMetrics
from shared.runtime.recording import RequestSink
from shared.runtime.server_settings import log_level
from shared.transports.discovery_http import load_config_with_discovery

__all__ = ["lazy_app", "start_core"]

_log = logging.getLogger("proxy.startup")


def lazy_app(factory: Callable[[], Any], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``app`` with ``factory`` once and caches it in ``namespace``."""

    def module_getattr(name: str) -> Any:
        if name != "app":
            raise AttributeError(name)
        try:
            application = factory()
        except ConfigError as exc:
            _log.error("invalid configuration: %s", exc)
            for handler in logging.getLogger("proxy").handlers:
                handler.flush()
            raise SystemExit(3) from None
        namespace["app"] = application
        # Everything built so far (modules, config, routes, metric children) lives as long as
        # the worker: moved out of the collector's generations, a full collection under load
        # no longer walks it (measured: docs/load-testing.md, "What the redesign cost").
        gc.freeze()
        return application

    return module_getattr


def start_core(stack: str, config: ProxyConfig | None) -> ProxyCore:
    """The core of one worker with everything around it: config, JSON logs, metrics, the record sink.

    ``config`` None reads ``PROXY_CONFIG`` (default ./config.json), with discovery. Both
    adapters' ``create_app`` start here, so both stacks are wired the same way.
    """
    access = configure_logging(stack, level=log_level(os.environ))
    if config is None:
        config = load_config_with_discovery(config_path(os.environ), warn=_log.warning)
    if not config.access_log:
        access.setLevel(logging.CRITICAL + 1)  # benchmarks
    metrics = StackMetrics(stack, config, server=_server(stack))
    sink = RequestSink(metrics, access, os.environ)
    core = ProxyCore(config, stack=stack, started_at=time.time(), sink=sink)
    for warning in core.catalog.capability_warnings():
        _log.warning("%s", warning)
    return core


def _server(stack: str) -> str:
    """What runs this worker, for the build-info series."""
    if stack == "flask":
        return "gunicorn-gevent" if "gunicorn" in sys.modules else "werkzeug"
    return "gunicorn-uvicorn" if "gunicorn" in sys.modules else "uvicorn"
