"""Logging set-up shared by both adapters: one JSON access line per request on stderr.

The lines come from :meth:`shared.core.ProxyCore.access_line`: request id, method,
path, model, status, duration, and for server-side failures the error message. They
never contain request or response bodies, client keys, XSUAA secrets or bearer tokens
(``tests/contract/test_logging.py`` searches the logs for them).
"""

from __future__ import annotations

import logging
import sys

__all__ = ["configure_access_log"]


def configure_access_log(logger: logging.Logger, enabled: bool) -> None:
    """Send ``logger`` to stderr as bare lines, once; ``enabled=False`` silences it (benchmarks)."""
    logger.propagate = False
    logger.setLevel(logging.INFO if enabled else logging.CRITICAL + 1)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
