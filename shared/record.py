"""One request as both stacks account for it, from arrival to its last byte, recorded once.

The adapter begins a :class:`RequestRecord` (``ProxyCore.begin``), asks it to admit the
request or to make the job its transport runs, and hands it the answer; the flow writes
what it decides (the client's model, what it fitted to the model, each retry) and the
transport what it measures (time spent waiting on SAP AI Core, the answering attempt's
time to first byte, the first bytes and first token sent, how a stream ended). When the
request ends the record knows its *outcome* — one of :data:`OUTCOMES` — and hands itself
to the :class:`RecordSink` (metrics and the access log, ``shared/runtime/recording.py``).

Times are passed in (monotonic seconds); nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from shared.adjustments import Adjustments
from shared.endpoints import Endpoint
from shared.errors import ProxyError, UpstreamError, UpstreamTimeout
from shared.replies import Reply
from shared.usage import Usage, usage_in_answer

__all__ = [
    "CLIENT_GONE",
    "COMPLETED",
    "Job",
    "OUTCOMES",
    "PROXY_FAILED",
    "REFUSED",
    "STREAM_FAILED",
    "STREAM_TIMED_OUT",
    "UPSTREAM_FAILED",
    "RecordSink",
    "RequestHandler",
    "RequestRecord",
]

COMPLETED = "completed"  # the whole answer reached the client
REFUSED = "refused"  # the proxy answered an error itself: auth, bad input, unknown model or route
UPSTREAM_FAILED = "upstream_failed"  # SAP AI Core (or its token endpoint) failed before the first byte
STREAM_FAILED = "stream_failed"  # a stream broke after its first byte (in-band error sent)
STREAM_TIMED_OUT = "stream_timed_out"  # a stream went silent past the idle timeout after its first byte
CLIENT_GONE = "client_gone"  # the client left before the answer was complete
PROXY_FAILED = "proxy_failed"  # a bug in the proxy: 500 internal error
OUTCOMES = (COMPLETED, REFUSED, UPSTREAM_FAILED, STREAM_FAILED, STREAM_TIMED_OUT, CLIENT_GONE, PROXY_FAILED)


class RequestHandler(Protocol):
    """What the record asks of the core (``shared.core.ProxyCore``)."""

    def admit(self, record: RequestRecord) -> Reply | None: ...
    def handle(self, record: RequestRecord, body: bytes | None, now: float) -> Reply | Job: ...


class RecordSink(Protocol):
    """Where records go: counters, histograms, gauges and the access log (the runtime layer)."""

    def request_started(self, record: RequestRecord) -> None: ...
    def stream_started(self) -> None: ...
    def stream_ended(self) -> None: ...
    def finished(self, record: RequestRecord) -> None: ...


@dataclass(frozen=True, slots=True)
class Job:
    """A flow to run, with the record of the request that started it.

    The flow's commands and answers are typed where it is stepped
    (:class:`shared.flows.commands.FlowRun`); here it is any generator, so the record
    needs nothing from the flows (which all import it).
    """

    flow: Generator[Any, Any, Any]
    record: RequestRecord


class RequestRecord:
    """What happened to one request; the adapter, the flow and the transport each write their part."""

    __slots__ = (
        "_handler",
        "_sink",
        "endpoint",
        "headers",
        "method",
        "path",
        "request_id",
        "started",
        "model",
        "adjustments",
        "status",
        "outcome",
        "error",
        "ended",
        "first_byte",
        "first_token",
        "upstream_wait",
        "upstream_ttfb",
        "deployment",
        "upstream_codes",
        "retries",
        "failovers",
        "token_fetches",
        "usage",
        "streaming",
        "_stream_end",
    )

    def __init__(
        self,
        handler: RequestHandler,
        sink: RecordSink,
        endpoint: Endpoint | None,
        method: str,
        path: str,
        request_id: str,
        started: float,
        headers: Mapping[str, str],
    ) -> None:
        self._handler = handler
        self._sink = sink
        self.endpoint = endpoint
        self.headers = headers
        self.method = method
        self.path = path
        self.request_id = request_id
        self.started = started
        self.model: str | None = None  # the client's model name, once the body is read
        self.adjustments = Adjustments()
        self.status: int | None = None
        self.outcome: str | None = None
        self.error: ProxyError | None = None
        self.ended: float | None = None
        self.first_byte: float | None = None  # the first bytes to the client
        self.first_token: float | None = None  # streams: the first content to the client
        self.upstream_wait = 0.0  # seconds spent waiting on SAP AI Core (every attempt, tokens, backoff)
        self.upstream_ttfb: float | None = None  # the answering attempt: request sent -> response headers
        self.deployment: str | None = None  # the answering upstream, as its label
        self.upstream_codes: list[str] = []  # each attempt's status, or "error" / "timeout"
        self.retries: list[str] = []  # the reason of each attempt after the first
        self.failovers: list[str] = []  # the reason of each retry that moved to another deployment
        self.token_fetches: list[tuple[str, bool]] = []  # (sub-account, succeeded)
        self.usage: Usage | None = None
        self.streaming = False
        self._stream_end: ProxyError | bool | None = None  # True: completed; an error: failed in-band
        sink.request_started(self)

    @property
    def dialect(self) -> str:
        return self.endpoint.dialect if self.endpoint is not None else "openai"

    # -- the adapter ------------------------------------------------------------------------

    def admit(self) -> Reply | None:
        """Checks made before the body is read (content type, declared size); None: read it."""
        return self._handler.admit(self)

    def job(self, body: bytes | None, now: float) -> Reply | Job:
        """The core's answer to the body (``None``: it was over the size limit); ``now`` is wall time."""
        return self._handler.handle(self, body, now)

    def finished(self, reply: Reply, now: float) -> None:
        """A complete answer went out (also the error replies)."""
        self.status = reply.status
        self.error = reply.error
        if reply.error is None:
            self.outcome = COMPLETED if reply.status < 400 else REFUSED
        elif isinstance(reply.error, UpstreamError):
            self.outcome = UPSTREAM_FAILED
        else:
            self.outcome = PROXY_FAILED if reply.status >= 500 else REFUSED
        if self.outcome == COMPLETED and self.model is not None:
            self.usage = usage_in_answer(reply.body)
        self.first_byte = now
        self._end(now)

    def stream_opened(self) -> None:
        self.streaming = True
        self.status = 200
        self._sink.stream_started()

    def stream_closed(self, now: float) -> None:
        """The stream's generator was closed: after its end, or because the client left."""
        end = self._stream_end
        if end is True:
            self.outcome = COMPLETED
        elif isinstance(end, ProxyError):
            self.error = end
            self.outcome = STREAM_TIMED_OUT if isinstance(end, UpstreamTimeout) else STREAM_FAILED
        else:
            self.outcome = CLIENT_GONE
        self._sink.stream_ended()
        self._end(now)

    def _end(self, now: float) -> None:
        if self.ended is None:
            self.ended = now
            self._sink.finished(self)

    # -- the flow ---------------------------------------------------------------------------

    def retried(self, reason: str, *, failover: bool) -> None:
        """An upstream attempt after a failure for ``reason``; ``failover``: on another deployment."""
        self.retries.append(reason)
        if failover:
            self.failovers.append(reason)

    # -- the transport ----------------------------------------------------------------------

    def waited(self, seconds: float) -> None:
        """Time spent waiting on SAP AI Core: a token fetch, an attempt, a backoff, a stream's first data."""
        self.upstream_wait += seconds

    def attempted(self, code: str, ttfb: float, deployment: str) -> None:
        """An upstream attempt answered with ``code`` (an HTTP status) after ``ttfb`` seconds."""
        self.upstream_codes.append(code)
        self.upstream_ttfb = ttfb
        self.deployment = deployment
        self.upstream_wait += ttfb

    def attempt_failed(self, code: str, seconds: float) -> None:
        """An upstream attempt got no answer (``code``: error or timeout)."""
        self.upstream_codes.append(code)
        self.upstream_wait += seconds

    def token_fetched(self, sub_account: str, ok: bool, seconds: float) -> None:
        self.token_fetches.append((sub_account, ok))
        self.upstream_wait += seconds

    def bytes_sent(self, now: float, *, content: bool) -> None:
        """Bytes went to the client; ``content``: they carry the answer (not a keep-alive comment)."""
        if self.first_byte is None:
            self.first_byte = now
        if content and self.first_token is None:
            self.first_token = now

    def stream_ended(self, error: ProxyError | None, usage: Usage | None) -> None:
        """The relay finished the stream (``error``: in-band, after the first byte)."""
        self._stream_end = True if error is None else error
        self.usage = usage

    # -- derived ----------------------------------------------------------------------------

    def access_fields(self) -> dict[str, Any]:
        """The access-log fields: ids, route, model, outcome, times, tokens — never a key, token or prompt."""
        ms = _ms
        usage = self.usage
        fields: dict[str, Any] = {
            "request_id": self.request_id,
            "method": self.method,
            "route": self.endpoint.path if self.endpoint is not None else None,
            "path": self.path,
            "model": self.model,
            "outcome": self.outcome,
            "code": self.status,
            "error": self.error.message if self.error is not None else None,
            "deployment": self.deployment,
            "duration_ms": ms(self.ended, self.started),
            "ttft_ms": ms(self.first_token, self.started),
            "upstream_ttfb_ms": round(self.upstream_ttfb * 1000, 1) if self.upstream_ttfb is not None else None,
            "tokens": {"input": usage.input, "output": usage.output, "cached_input": usage.cached_input}
            if usage is not None
            else None,
        }
        if self.retries:
            fields["retries"] = list(self.retries)
        if self.adjustments.dropped:
            fields["dropped"] = self.adjustments.dropped_fields()
        return fields

    @property
    def overhead(self) -> float | None:
        """The proxy's own time before the client's first byte (requests that reached an upstream)."""
        if self.first_byte is None or not self.upstream_codes:
            return None
        return max(0.0, self.first_byte - self.started - self.upstream_wait)


def _ms(end: float | None, start: float) -> float | None:
    return round((end - start) * 1000, 1) if end is not None else None
