"""The module-level ``app`` both server modules expose, built on first access.

``gunicorn proxy_server:app`` and ``uvicorn proxy_server_fastapi:app`` look the name up;
building it lazily keeps ``import proxy_server`` free of any config file (tests, tools).
A bad config becomes one readable line and exit code 3 — gunicorn's "worker failed to
boot", which stops the master instead of restarting the worker forever.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from shared.errors import ConfigError

__all__ = ["lazy_app"]


def lazy_app(factory: Callable[[], Any], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that builds ``app`` with ``factory`` once and caches it in ``namespace``."""

    def module_getattr(name: str) -> Any:
        if name != "app":
            raise AttributeError(name)
        try:
            application = factory()
        except ConfigError as exc:
            sys.stderr.write(f"proxy: invalid configuration: {exc}\n")
            sys.stderr.flush()
            raise SystemExit(3) from None
        namespace["app"] = application
        return application

    return module_getattr
