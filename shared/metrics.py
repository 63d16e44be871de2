"""Prometheus metrics, decided once for both stacks: names, labels, buckets, what TTFT means.

Both adapters and both transports record through the objects here, so ``GET /metrics``
answers with the same names and labels on either stack (``docs/operations.md``):

======================================  =========  ==================================
``proxy_requests_total``                counter    stack, route, model, status
``proxy_request_duration_seconds``      histogram  stack, route, model
``proxy_ttft_seconds``                  histogram  stack, route, model (streams only)
``proxy_streams_in_flight``             gauge      stack (multiprocess mode livesum)
``proxy_upstream_retries_total``        counter    stack, reason
``proxy_token_refreshes_total``         counter    stack, sub_account
``proxy_dropped_fields_total``          counter    stack, route, field
======================================  =========  ==================================

The hot path is a few dict lookups and prometheus_client ``inc``/``observe`` calls:
label children are resolved once per (route, model label, status) and cached; the
model label is bounded to the configured model names (anything else is ``"other"``,
no model at all is ``""``), the route label to the route table (anything else is
``"other"``). The clock is read by the callers and passed in, as everywhere in the core.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several gunicorn or uvicorn workers),
prometheus_client writes every value to per-process files in that directory and
:func:`exposition` sums them, so any worker answers a scrape with the totals of all;
``shared/metrics_multiproc.py`` keeps the directory clean. Without it, one in-memory
registry per process.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from shared import metrics_multiproc
from shared.capabilities import chat_params_for
from shared.config import ProxyConfig
from shared.errors import ProxyError, TokenFetchError, UpstreamTimeout
from shared.flow import _PASS_THROUGH
from shared.routes import ROUTES
from shared.wire import UpstreamResponse

__all__ = [
    "BUCKETS",
    "CONTENT_TYPE",
    "EXPOSITION_HANDLER",
    "OTHER",
    "RETRY_REASONS",
    "Recorder",
    "RouteMetrics",
    "Series",
    "StackMetrics",
    "StreamWatch",
    "carries_content",
    "exposition",
    "multiprocess",
    "retry_reason",
]

# Seconds; LLM answers range from a cached 50 ms to a five-minute agent turn.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RETRY_REASONS = ("429", "5xx", "connect", "timeout", "token", "auth")
OTHER = "other"
# The classic text format, pinned: prometheus_client >= 0.22 announces version=1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXPOSITION_HANDLER = "metrics"  # the route table's handler name for GET /metrics (served by the adapters)

# Multiprocess mode is fixed when prometheus_client is imported (its value class reads
# the variable then), so it is read once here too.
_MULTIPROC_DIR = metrics_multiproc.multiproc_dir(os.environ)

# Identical output in both modes: the multiprocess collector has no *_created series.
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
_STACK_ROUTE_MODEL = ("stack", "route", "model")
REQUESTS = Counter(
    "proxy_requests_total",
    "Requests answered, by route, client model name and HTTP status (streams: counted when they end)",
    (*_STACK_ROUTE_MODEL, "status"),
    registry=REGISTRY,
)
DURATION = Histogram(
    "proxy_request_duration_seconds",
    "Time from request arrival to the last byte of the answer (streams: the whole stream)",
    _STACK_ROUTE_MODEL,
    buckets=BUCKETS,
    registry=REGISTRY,
)
TTFT = Histogram(
    "proxy_ttft_seconds",
    "Streams: time from request arrival to the first SSE event (not a keep-alive comment or an error) sent",
    _STACK_ROUTE_MODEL,
    buckets=BUCKETS,
    registry=REGISTRY,
)
STREAMS_IN_FLIGHT = Gauge(
    "proxy_streams_in_flight",
    "Streams being relayed to clients now",
    ("stack",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
RETRIES = Counter(
    "proxy_upstream_retries_total",
    "Upstream attempts after the first of a request (re-authentication or failover), by why the last one failed",
    ("stack", "reason"),
    registry=REGISTRY,
)
DROPPED_FIELDS = Counter(
    "proxy_dropped_fields_total",
    "Request fields left out on the way upstream because the target model does not accept them",
    ("stack", "route", "field"),
    registry=REGISTRY,
)
TOKEN_REFRESHES = Counter(
    "proxy_token_refreshes_total",
    "Successful XSUAA token fetches, by sub-account",
    ("stack", "sub_account"),
    registry=REGISTRY,
)

_KNOWN_ROUTES = frozenset(route.path for route in ROUTES)
# Field labels: the names the converters can drop; anything else a client invents is "other".
_KNOWN_FIELDS = chat_params_for("preview") | frozenset(
    "thinking thinking.display output_config.effort output_config.format anthropic_beta tools input metadata "
    "context_management container mcp_servers service_tier inference_geo client_metadata reasoning_effort "
    "temperature top_p top_k stop speed".split()
)


def multiprocess() -> bool:
    """True when values go to ``PROMETHEUS_MULTIPROC_DIR`` and scrapes sum every worker's files."""
    return _MULTIPROC_DIR is not None


_exposed: CollectorRegistry | None = None


def exposition() -> bytes:
    """The ``/metrics`` body (Prometheus text format, :data:`CONTENT_TYPE`): this process, or every worker."""
    global _exposed
    if _exposed is None:
        if _MULTIPROC_DIR is None:
            _exposed = REGISTRY
        else:
            _exposed = CollectorRegistry()
            MultiProcessCollector(_exposed, path=_MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(_exposed)


# -- what the transports report ---------------------------------------------------------------


def retry_reason(outcome: UpstreamResponse | ProxyError) -> str | None:
    """Why an upstream attempt failed, as a ``reason`` label; None when it did not (or will not be retried).

    ``auth`` covers a credential or deployment SAP AI Core refused (401/403, which also
    triggers the one re-authentication, and 404); ``5xx`` any other error status the
    flow retries; ``connect`` a refused, reset or otherwise failed connection.
    """
    if isinstance(outcome, UpstreamResponse):
        status = outcome.status
        if status < 400 or status in _PASSED_ON_UNTRIED:
            return None
        if status == 429:
            return "429"
        return "auth" if status in (401, 403, 404) else "5xx"
    if isinstance(outcome, TokenFetchError):
        return "token"
    if isinstance(outcome, UpstreamTimeout):
        return "timeout"
    return "connect"


# The client's own mistakes: passed on as they are, never retried (429 is retried).
_PASSED_ON_UNTRIED = frozenset(_PASS_THROUGH - {429})


class Recorder:
    """What the transports report; this base records nothing (tools and tests that need no metrics)."""

    __slots__ = ()

    def retried(self, reason: str) -> None:
        """One upstream attempt after the first, because the previous one failed for ``reason``."""

    def token_refreshed(self, sub_account: str) -> None:
        """One successful XSUAA token fetch for ``sub_account``."""


# -- streams ----------------------------------------------------------------------------------


def carries_content(chunk: bytes) -> bool:
    """Whether SSE bytes sent to the client count as the first token for TTFT.

    Any event counts — a ``data:`` or ``event:`` frame, including the role-only first
    chunk — except comments (the ``: keep-alive`` sent while the model is silent) and
    the in-band error frames of a stream that failed before it produced anything
    (OpenAI's error chunk, Anthropic's ``error`` event, the Responses API's
    ``response.failed`` right after ``response.created``).
    """
    if not chunk:
        return False
    if chunk[0] == 0x3A:  # ':' - a comment; look further only in this rare case
        lines = (line.strip() for line in chunk.split(b"\n"))
        rest = b"\n".join(line for line in lines if line and not line.startswith(b":"))
        return bool(rest) and carries_content(rest + b"\n")
    if chunk.startswith(_ERROR_FIRST):
        return False
    if chunk.startswith(b"event: response.created") and b"event: response.failed" in chunk:
        return b"event: response.output" in chunk  # a Responses stream that failed before any output
    return True


# The in-band error frames (shared/streams.py, convert/anthropic_stream.py) a stream opens with
# when it fails before producing anything.
_ERROR_FIRST = (b'data: {"error"', b"event: error")


class Series:
    """The label children of one (stack, route, model label); statuses are added as they occur."""

    __slots__ = ("_labels", "_statuses", "_duration", "_ttft")

    def __init__(self, stack: str, route: str, model: str) -> None:
        self._labels = (stack, route, model)
        self._statuses: dict[int, Any] = {}
        self._duration = DURATION.labels(stack, route, model)
        self._ttft = TTFT.labels(stack, route, model)

    def done(self, status: int, seconds: float) -> None:
        """A request answered with ``status`` after ``seconds`` (a stream: when it ended)."""
        counter = self._statuses.get(status)
        if counter is None:
            counter = self._statuses[status] = REQUESTS.labels(*self._labels, str(status))
        counter.inc()
        self._duration.observe(seconds)

    def counted(self, status: int) -> None:
        """A request counted without a duration (refused by the framework before any view ran)."""
        counter = self._statuses.get(status)
        if counter is None:
            counter = self._statuses[status] = REQUESTS.labels(*self._labels, str(status))
        counter.inc()

    def first_content(self, seconds: float) -> None:
        self._ttft.observe(seconds)


class StreamWatch:
    """One stream's in-flight gauge and TTFT. The adapter calls :meth:`opened` when the stream
    starts, :meth:`chunk` with each chunk while :attr:`waiting`, and :meth:`closed` exactly once."""

    __slots__ = ("_series", "_gauge", "_started", "waiting")

    def __init__(self, series: Series, gauge: Any, started: float) -> None:
        self._series = series
        self._gauge = gauge
        self._started = started
        self.waiting = True

    def opened(self) -> None:
        self._gauge.inc()

    def chunk(self, chunk: bytes, now: float) -> None:
        if carries_content(chunk):
            self.waiting = False
            self._series.first_content(now - self._started)

    def closed(self) -> None:
        self._gauge.dec()


# -- per app ----------------------------------------------------------------------------------


class RouteMetrics:
    """One route of one stack: :meth:`series` maps a client's model name to cached children."""

    __slots__ = ("_stack", "_route", "_models", "_series", "_dropped")

    def __init__(self, stack: str, route: str, models: dict[str, str]) -> None:
        self._stack = stack
        self._route = route
        self._models = models
        self._series: dict[str, Series] = {}
        self._dropped: dict[str, Any] = {}

    def dropped(self, field: str) -> None:
        """A request field left out upstream (``shared/adjustments.py``)."""
        label = field if field in _KNOWN_FIELDS else OTHER
        counter = self._dropped.get(label)
        if counter is None:
            counter = self._dropped[label] = DROPPED_FIELDS.labels(self._stack, self._route, label)
        counter.inc()

    def series(self, model: str | None) -> Series:
        label = self._models.get(model, OTHER) if model else ""
        found = self._series.get(label)
        if found is None:
            found = self._series[label] = Series(self._stack, self._route, label)
        return found


class StackMetrics(Recorder):
    """The metrics of one app (one stack in one worker); built once in ``create_app``."""

    __slots__ = ("stack", "_models", "_routes", "_retries", "_tokens", "_streams")

    def __init__(self, stack: str, config: ProxyConfig) -> None:
        if _MULTIPROC_DIR is not None:
            # The server empties the directory before any worker starts (gunicorn settings, proxyctl).
            os.makedirs(_MULTIPROC_DIR, exist_ok=True)
            metrics_multiproc.sweep_dead_workers(_MULTIPROC_DIR)
        self.stack = stack
        # Every name a client may use (configured, stripped, aliases); anything else is "other".
        self._models = {name: name for name in config.name_table().accepted}
        self._routes: dict[str, RouteMetrics] = {}
        # Resolved up front so every series exists (at 0) from the first scrape: rate() needs a start.
        self._retries = {reason: RETRIES.labels(stack, reason) for reason in RETRY_REASONS}
        self._tokens = {sub.name: TOKEN_REFRESHES.labels(stack, sub.name) for sub in config.sub_accounts}
        self._streams = STREAMS_IN_FLIGHT.labels(stack)

    def route(self, path: str) -> RouteMetrics:
        """The metrics of a route of the table; any other path is ``"other"`` (bounded cardinality)."""
        label = path if path in _KNOWN_ROUTES else OTHER
        found = self._routes.get(label)
        if found is None:
            found = self._routes[label] = RouteMetrics(self.stack, label, self._models)
        return found

    def stream(self, series: Series, started: float) -> StreamWatch:
        return StreamWatch(series, self._streams, started)

    def retried(self, reason: str) -> None:
        self._retries[reason].inc()

    def token_refreshed(self, sub_account: str) -> None:
        counter = self._tokens.get(sub_account)
        if counter is None:  # pragma: no cover - every token cache belongs to a configured sub-account
            counter = self._tokens[sub_account] = TOKEN_REFRESHES.labels(self.stack, sub_account)
        counter.inc()
