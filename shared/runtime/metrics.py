"""Prometheus metrics, the same names on both stacks: what the canary compares (docs/operations.md).

Every series carries the ``aicore_proxy_`` prefix. Requests are counted once, when their
record ends (``shared/record.py``), by outcome; latency, time to first token, upstream time
to first byte and the proxy's own overhead go into histograms with buckets fine enough to
compare the stacks at 10% between 50 ms and 60 s; tokens per model come from the usage the
upstream reported. The hot path is a few dict lookups and prometheus_client
``inc``/``observe`` calls on label children resolved once and cached; the model label is
bounded to the names a client may use (anything else is ``"other"``, no model ``""``), the
route label to the endpoint table.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several gunicorn or uvicorn workers),
prometheus_client writes every value to per-process files in that directory and
:func:`exposition` sums them, so any worker answers a scrape with the totals of all;
``shared/runtime/multiproc.py`` keeps the directory clean. Without it, one in-memory
registry per process.
"""

from __future__ import annotations

import math
import os
import platform
import resource
from _thread import allocate_lock
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client import values as _values
from prometheus_client.multiprocess import MultiProcessCollector

from shared.capabilities import chat_params_for
from shared.config import ProxyConfig
from shared.endpoints import ENDPOINTS
from shared.flows.upstream import RETRY_REASONS
from shared.record import RequestRecord
from shared.runtime import multiproc

__all__ = [
    "CONTENT_TYPE",
    "EXPOSITION_HANDLER",
    "LATENCY_BUCKETS",
    "OTHER",
    "OVERHEAD_BUCKETS",
    "PROBE_PATHS",
    "StackMetrics",
    "exposition",
    "multiprocess",
]


def _geometric(low: float, high: float) -> list[float]:
    """The 2^(k/8) values from ``low`` to ``high``: neighbours 9% apart (rounded for reading)."""
    values, k = [], math.floor(8 * math.log2(low))
    while (value := 2 ** (k / 8)) <= high * 1.0001:
        if value >= low * 0.9999:
            values.append(float(f"{value:.4g}"))
        k += 1
    return values


# Seconds. 2^(1/8) steps between 50 ms and 60 s, coarse below and above.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, *_geometric(0.05, 60.0), 120.0, 300.0, 600.0)
OVERHEAD_BUCKETS = (*_geometric(0.0005, 2.0), 5.0)
OTHER = "other"
# The classic text format, pinned: prometheus_client >= 0.22 announces version=1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
EXPOSITION_HANDLER = "metrics"  # the endpoint table's handler of GET /metrics (served by the adapters)
TOKEN_KINDS = ("input", "output", "cached_input")

# Multiprocess mode is fixed when prometheus_client is imported (its value class reads the
# variable then), so it is read once here too.
_MULTIPROC_DIR = multiproc.multiproc_dir(os.environ)

# Identical output in both modes: the multiprocess collector has no *_created series.
disable_created_metrics()  # type: ignore[no-untyped-call]


def _native_value_locks() -> None:
    """Every metric value guarded by the interpreter's own lock, whatever ``threading`` is now.

    prometheus_client takes ``threading.Lock`` for each value; in a gevent worker that name is
    gevent's cooperative lock by the time the app is imported, and with a dozen updates per
    request it showed as the largest new cost of the Flask stack (docs/load-testing.md, "What
    the redesign cost"). An update never yields while holding its lock, so no other greenlet
    can find it taken: the native lock is correct there, and it is the right one for real
    threads (FastAPI's /metrics runs in a thread pool). Must run before the first metric exists;
    the multiprocess value class keeps one lock of its own, so it is rebuilt too.
    """
    _values.Lock = allocate_lock  # type: ignore[assignment,attr-defined]
    if _MULTIPROC_DIR is not None:
        _values.ValueClass = _values.MultiProcessValue()  # type: ignore[no-untyped-call]


_native_value_locks()

REGISTRY = CollectorRegistry(auto_describe=True)
_ROUTE = ("stack", "route")
REQUESTS = Counter(
    "aicore_proxy_requests_total",
    "Requests by route, client model name, outcome and HTTP status (streams: counted when they end)",
    ("stack", "route", "model", "outcome", "code"),
    registry=REGISTRY,
)
DURATION = Histogram(
    "aicore_proxy_request_duration_seconds",
    "Arrival to the last byte of the answer (streams: the whole stream)",
    _ROUTE,
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
TTFT = Histogram(
    "aicore_proxy_time_to_first_token_seconds",
    "Streams: arrival to the first event carrying content (not a keep-alive, not an error)",
    _ROUTE,
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_TTFB = Histogram(
    "aicore_proxy_upstream_time_to_first_byte_seconds",
    "The answering upstream attempt: request sent to response headers",
    _ROUTE,
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
OVERHEAD = Histogram(
    "aicore_proxy_overhead_seconds",
    "The proxy's own time before the client's first byte: arrival to first byte, minus every wait on SAP AI Core",
    _ROUTE,
    buckets=OVERHEAD_BUCKETS,
    registry=REGISTRY,
)
TOKENS = Counter(
    "aicore_proxy_tokens_total",
    "Tokens by model as the upstream reported them: input (cached included), output, cached_input",
    ("stack", "model", "kind"),
    registry=REGISTRY,
)
UPSTREAM_REQUESTS = Counter(
    "aicore_proxy_upstream_requests_total",
    "Upstream attempts (token fetches excluded) by HTTP status, or error / timeout when none came",
    ("stack", "code"),
    registry=REGISTRY,
)
RETRIES = Counter(
    "aicore_proxy_upstream_retries_total",
    "Upstream attempts after the first of a request, by why the one before failed",
    ("stack", "reason"),
    registry=REGISTRY,
)
FAILOVERS = Counter(
    "aicore_proxy_upstream_failovers_total",
    "Retries that moved to another deployment, by why the one before failed",
    ("stack", "reason"),
    registry=REGISTRY,
)
TOKEN_FETCHES = Counter(
    "aicore_proxy_token_fetches_total",
    "XSUAA token fetches by sub-account and result (ok, failed)",
    ("stack", "sub_account", "result"),
    registry=REGISTRY,
)
DROPPED_FIELDS = Counter(
    "aicore_proxy_dropped_fields_total",
    "Request fields left out on the way upstream because the target model does not accept them",
    ("stack", "route", "field"),
    registry=REGISTRY,
)
REQUESTS_IN_FLIGHT = Gauge(
    "aicore_proxy_requests_in_flight",
    "Requests being answered now (streams included)",
    ("stack",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
STREAMS = Counter(
    "aicore_proxy_streams_total",
    "Streams opened to clients: what the mid-stream failure share is a share of",
    ("stack",),
    registry=REGISTRY,
)
STREAMS_IN_FLIGHT = Gauge(
    "aicore_proxy_streams_in_flight",
    "Streams being relayed to clients now",
    ("stack",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "aicore_proxy_build_info",
    "Always 1: the proxy version, stack, Python version and server of the workers",
    ("version", "stack", "python", "server"),
    multiprocess_mode="livemax",
    registry=REGISTRY,
)
RESIDENT_MEMORY = Gauge(
    "aicore_proxy_process_resident_memory_bytes",
    "Resident memory of the workers, summed",
    ("stack",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
CPU_SECONDS = Counter(
    "aicore_proxy_process_cpu_seconds",
    "CPU time (user + system) of the workers, summed",
    ("stack",),
    registry=REGISTRY,
)
OPEN_FDS = Gauge(
    "aicore_proxy_process_open_fds",
    "Open file descriptors of the workers, summed",
    ("stack",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)

_KNOWN_ROUTES = frozenset(endpoint.path for endpoint in ENDPOINTS)
# Load balancers' checks and scrapes: every second from every checker, all 200 — counted in
# the request series they would only dilute the failure shares the canary compares.
PROBE_PATHS = frozenset(("/health", "/ready", "/metrics"))
# Field labels: the names the converters can drop; anything else a client invents is "other".
_KNOWN_FIELDS = chat_params_for("preview") | frozenset(
    "thinking thinking.display output_config.effort output_config.format anthropic_beta tools input metadata "
    "context_management container mcp_servers service_tier inference_geo client_metadata reasoning_effort "
    "temperature top_p top_k stop speed".split()
)
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _version() -> str:
    try:
        return version("sap-ai-core-llm-proxy")
    except PackageNotFoundError:  # pragma: no cover - running from a tree that was never installed
        return "0+unknown"


def multiprocess() -> bool:
    """True when values go to ``PROMETHEUS_MULTIPROC_DIR`` and scrapes sum every worker's files."""
    return _MULTIPROC_DIR is not None


_exposed: CollectorRegistry | None = None
_apps: list[StackMetrics] = []  # this process's apps, whose process series a scrape refreshes


def exposition() -> bytes:
    """The ``/metrics`` body (Prometheus text format, :data:`CONTENT_TYPE`): this process, or every worker."""
    global _exposed
    for app in _apps:
        app.sample_process(app.last_sample)
    if _exposed is None:
        if _MULTIPROC_DIR is None:
            _exposed = REGISTRY
        else:
            _exposed = CollectorRegistry()
            MultiProcessCollector(_exposed, path=_MULTIPROC_DIR)  # type: ignore[no-untyped-call]
    return generate_latest(_exposed)


class _Route:
    """The cached label children of one (stack, route)."""

    __slots__ = ("label", "duration", "ttft", "upstream_ttfb", "overhead", "dropped")

    def __init__(self, stack: str, label: str) -> None:
        self.label = label
        self.duration = DURATION.labels(stack, label)
        self.ttft = TTFT.labels(stack, label)
        self.upstream_ttfb = UPSTREAM_TTFB.labels(stack, label)
        self.overhead = OVERHEAD.labels(stack, label)
        self.dropped: dict[str, Any] = {}


class StackMetrics:
    """The metrics of one app (one stack in one worker); built once in ``create_app``."""

    __slots__ = (
        "stack",
        "_models",
        "_routes",
        "_requests",
        "_tokens",
        "_codes",
        "_retries",
        "_failovers",
        "_fetches",
        "_in_flight",
        "_streams",
        "_streams_opened",
        "_rss",
        "_cpu",
        "_fds",
        "_cpu_seen",
        "_sampled_at",
    )

    def __init__(self, stack: str, config: ProxyConfig, *, server: str) -> None:
        if _MULTIPROC_DIR is not None:
            # The server empties the directory before any worker starts (gunicorn settings, proxyctl).
            os.makedirs(_MULTIPROC_DIR, exist_ok=True)
            multiproc.sweep_dead_workers(_MULTIPROC_DIR)
        self.stack = stack
        # Every name a client may use (configured, stripped, aliases); anything else is "other".
        self._models = {name: name for name in config.name_table().accepted}
        self._routes: dict[str, _Route] = {}
        self._requests: dict[tuple[str, str, str, str], Any] = {}
        self._tokens: dict[tuple[str, str], Any] = {}
        self._codes: dict[str, Any] = {}
        # Resolved up front so these series exist (at 0) from the first scrape: rate() needs a start.
        self._retries = {reason: RETRIES.labels(stack, reason) for reason in RETRY_REASONS}
        self._failovers = {reason: FAILOVERS.labels(stack, reason) for reason in RETRY_REASONS}
        self._fetches = {
            (sub.name, result): TOKEN_FETCHES.labels(stack, sub.name, result)
            for sub in config.sub_accounts
            for result in ("ok", "failed")
        }
        self._in_flight = REQUESTS_IN_FLIGHT.labels(stack)
        self._streams = STREAMS_IN_FLIGHT.labels(stack)
        self._streams_opened = STREAMS.labels(stack)
        self._rss, self._cpu, self._fds = (
            RESIDENT_MEMORY.labels(stack),
            CPU_SECONDS.labels(stack),
            OPEN_FDS.labels(stack),
        )
        self._cpu_seen, self._sampled_at = 0.0, 0.0
        BUILD_INFO.labels(_version(), stack, platform.python_version(), server).set(1)
        self.sample_process(0.0)
        _apps.append(self)

    @property
    def last_sample(self) -> float:
        return self._sampled_at

    def _route(self, path: str) -> _Route:
        label = path if path in _KNOWN_ROUTES else OTHER
        found = self._routes.get(label)
        if found is None:
            found = self._routes[label] = _Route(self.stack, label)
        return found

    def _request(self, route: str, model: str, outcome: str, code: str) -> Any:
        key = (route, model, outcome, code)
        found = self._requests.get(key)
        if found is None:
            found = self._requests[key] = REQUESTS.labels(self.stack, *key)
        return found

    def model_label(self, model: str | None) -> str:
        return self._models.get(model, OTHER) if model else ""

    # -- what the record sink reports ------------------------------------------------------

    def request_started(self, record: RequestRecord) -> None:
        if record.path not in PROBE_PATHS:
            self._in_flight.inc()

    def stream_started(self) -> None:
        self._streams.inc()
        self._streams_opened.inc()

    def stream_ended(self) -> None:
        self._streams.dec()

    def finished(self, record: RequestRecord, now: float) -> None:
        """Count one ended request: every series its record has something for."""
        if record.path in PROBE_PATHS:
            return
        self._in_flight.dec()
        route = self._route(record.endpoint.path if record.endpoint is not None else record.path)
        model = self.model_label(record.model)
        self._request(route.label, model, record.outcome or OTHER, str(record.status or 0)).inc()
        if record.ended is not None:
            route.duration.observe(record.ended - record.started)
        if record.first_token is not None:
            route.ttft.observe(record.first_token - record.started)
        if record.upstream_ttfb is not None:
            route.upstream_ttfb.observe(record.upstream_ttfb)
        overhead = record.overhead
        if overhead is not None:
            route.overhead.observe(overhead)
        usage = record.usage
        if usage is not None:
            for kind, count in (("input", usage.input), ("output", usage.output), ("cached_input", usage.cached_input)):
                if count:
                    self._token_counter(model, kind).inc(count)
        for code in record.upstream_codes:
            self._code_counter(code).inc()
        for reason in record.retries:
            self._retries[reason].inc()
        for reason in record.failovers:
            self._failovers[reason].inc()
        for sub_account, ok in record.token_fetches:
            self._fetch_counter(sub_account, ok).inc()
        for name in record.adjustments.dropped_fields():
            self._dropped(route, name).inc()
        if now - self._sampled_at >= 1.0:
            self.sample_process(now)

    def _token_counter(self, model: str, kind: str) -> Any:
        found = self._tokens.get((model, kind))
        if found is None:
            found = self._tokens[(model, kind)] = TOKENS.labels(self.stack, model, kind)
        return found

    def _code_counter(self, code: str) -> Any:
        found = self._codes.get(code)
        if found is None:
            found = self._codes[code] = UPSTREAM_REQUESTS.labels(self.stack, code)
        return found

    def _fetch_counter(self, sub_account: str, ok: bool) -> Any:
        key = (sub_account, "ok" if ok else "failed")
        found = self._fetches.get(key)
        if found is None:  # pragma: no cover - every token cache belongs to a configured sub-account
            found = self._fetches[key] = TOKEN_FETCHES.labels(self.stack, *key)
        return found

    def _dropped(self, route: _Route, name: str) -> Any:
        label = name if name in _KNOWN_FIELDS else OTHER
        found = route.dropped.get(label)
        if found is None:
            found = route.dropped[label] = DROPPED_FIELDS.labels(self.stack, route.label, label)
        return found

    def sample_process(self, now: float) -> None:
        """This worker's memory, CPU and descriptors (at most once a second, and on every scrape)."""
        self._sampled_at = now
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        if cpu > self._cpu_seen:
            self._cpu.inc(cpu - self._cpu_seen)
            self._cpu_seen = cpu
        try:
            with open("/proc/self/statm", "rb") as statm:
                self._rss.set(int(statm.read().split()[1]) * _PAGE)
            self._fds.set(len(os.listdir("/proc/self/fd")))
        except OSError:  # no /proc (macOS): the peak from getrusage, in kilobytes there
            self._rss.set(usage.ru_maxrss * 1024)
