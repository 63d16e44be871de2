"""One request as both adapters account for it: id, model, timing, metrics, access line.

The adapters only do what their framework must — read the body, run the job, build the
response, wrap the stream; everything they record about a request goes through one
:class:`Exchange`, so the two stacks log and count identically. Times are passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from shared.adjustments import Adjustments
from shared.core import ProxyCore
from shared.flow import Job, Reply
from shared.metrics import RouteMetrics, StackMetrics, StreamWatch
from shared.routes import Route

__all__ = ["Exchange"]

log = logging.getLogger("proxy.adjustments")


class Exchange:
    __slots__ = (
        "_core",
        "_metrics",
        "_route_metrics",
        "_log",
        "_fields",
        "_adjustments",
        "request_id",
        "model",
        "started",
    )

    def __init__(
        self,
        core: ProxyCore,
        metrics: StackMetrics,
        route_metrics: RouteMetrics,
        log: Callable[[str], None],
        headers: Mapping[str, str],
        method: str,
        path: str,
        started: float,
    ) -> None:
        self._core = core
        self._metrics = metrics
        self._route_metrics = route_metrics
        self._log = log
        self.request_id = core.request_id(headers)
        self.model: str | None = None
        self.started = started
        self._adjustments: Adjustments | None = None
        self._fields = {"request_id": self.request_id, "method": method, "path": path}

    def job(self, route: Route, headers: Mapping[str, str], body: bytes | None, now: float) -> Reply | Job:
        """The core's answer to this body; ``None`` means it was over the size limit."""
        if body is None:
            return self._core.too_large(route)
        job = self._core.handle(route, headers, body, now, self.request_id)
        if isinstance(job, Job):
            self.model = job.model
            self._adjustments = job.adjustments
        return job

    def finished(self, reply: Reply, ended: float) -> None:
        """A complete (non-streaming) answer went out."""
        self.done(reply.status, ended, self._core.error_summary(reply))

    def done(self, status: int, ended: float, error: str | None = None) -> None:
        elapsed = ended - self.started
        self._route_metrics.series(self.model).done(status, elapsed)
        fields: dict[str, Any] = {**self._fields, "model": self.model, "status": status, "ms": round(elapsed * 1000, 1)}
        adjustments = self._adjustments
        if adjustments is not None and (adjustments.dropped or adjustments.adapted):
            for name in adjustments.dropped_fields():
                self._route_metrics.dropped(name)
            fields["dropped"] = adjustments.dropped_fields()
            log.debug("%s %s: %s", self.request_id, self.model, adjustments.summary())
        self._log(self._core.access_line({**fields, "error": error}))

    def stream_watch(self) -> StreamWatch:
        """Time to first token and the in-flight gauge, for a stream about to start."""
        return self._metrics.stream(self._route_metrics.series(self.model), self.started)
