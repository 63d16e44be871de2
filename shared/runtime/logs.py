"""One log format for the app, gunicorn and uvicorn: a JSON object per line on stderr.

Every line has ``ts`` (RFC 3339, UTC), ``level``, ``logger``, ``stack`` and ``message``;
access lines (``proxy.access``) add the request's fields from
:meth:`shared.record.RequestRecord.access_fields`. The servers' own loggers get the same
formatter: gunicorn through ``logconfig_dict`` (:mod:`shared.runtime.gunicorn_settings`),
uvicorn through :data:`UVICORN_LOG_CONFIG` (``--log-config``), so a log pipeline reads
one format. Nothing logged here contains a request body, a key or a token.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from shared.jsonutil import dumps

__all__ = [
    "ACCESS_LOGGER",
    "JsonFormatter",
    "configure_logging",
    "dict_config",
]

ACCESS_LOGGER = "proxy.access"
_SERVER_LOGGERS = ("gunicorn.error", "uvicorn", "uvicorn.error", "uvicorn.access")


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line; ``fields`` passed as ``extra`` are merged in."""

    def __init__(self, stack: str = "server") -> None:
        super().__init__()
        self.stack = stack

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": _rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "stack": self.stack,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return dumps(doc).decode()


def _rfc3339(created: float) -> str:
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created % 1 * 1000):03d}Z"


def dict_config(stack: str, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: every logger in JSON on stderr (the servers' too)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    loggers = {name: {"handlers": ["json"], "level": level.upper(), "propagate": False} for name in _SERVER_LOGGERS}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{JsonFormatter.__module__}.JsonFormatter", "stack": stack}},
        "handlers": {"json": handler},
        "loggers": loggers,
        "root": {"handlers": ["json"], "level": "WARNING"},
    }


def configure_logging(stack: str, *, level: str = "info") -> logging.Logger:
    """Called by each worker's ``create_app``: the app's loggers and the servers' in JSON; the access logger.

    The servers' handlers get the JSON formatter too (gunicorn and uvicorn configured their
    own before the app was imported).
    """
    formatter = JsonFormatter(stack)
    for name in _SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)
    app = logging.getLogger("proxy")
    app.propagate = False
    if not app.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        app.addHandler(handler)
    app.setLevel(logging.DEBUG if level == "debug" else logging.INFO)
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.INFO)
    return access
