"""Where request records go when they end: the metrics and one access line (the record sink).

Both adapters give their core one :class:`RequestSink`; the core's records call it
(``shared/record.py``), so both stacks count and log every request the same way, once.
Access lines of the health, readiness and metrics endpoints — one per check from every
load balancer — are left out unless ``PROXY_LOG_HEALTH_CHECKS=1``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from shared.record import RequestRecord
from shared.runtime.metrics import PROBE_PATHS, StackMetrics

__all__ = ["RequestSink"]
_adjustments = logging.getLogger("proxy.adjustments")


class RequestSink:
    """Counts and logs each ended request; keeps the in-flight gauges."""

    __slots__ = ("_metrics", "_access", "_quiet", "_clock")

    def __init__(
        self,
        metrics: StackMetrics,
        access: logging.Logger,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._metrics = metrics
        self._access = access
        self._quiet = frozenset() if env.get("PROXY_LOG_HEALTH_CHECKS", "") not in ("", "0") else PROBE_PATHS
        self._clock = clock

    def request_started(self, record: RequestRecord) -> None:
        self._metrics.request_started(record)

    def stream_started(self) -> None:
        self._metrics.stream_started()

    def stream_ended(self) -> None:
        self._metrics.stream_ended()

    def finished(self, record: RequestRecord) -> None:
        self._metrics.finished(record, self._clock())
        if record.path not in self._quiet:
            self._access.info("request", extra={"fields": record.access_fields()})
        adjustments = record.adjustments
        if (adjustments.dropped or adjustments.adapted) and _adjustments.isEnabledFor(logging.DEBUG):
            _adjustments.debug("%s %s: %s", record.request_id, record.model, adjustments.summary())
