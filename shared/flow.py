"""Orchestration written once: generator flows that the two transports drive.

A flow *yields* commands — :class:`NeedToken` (give me a bearer token for this
sub-account) and :class:`Send` (make this upstream call, tell me what came back) —
and *returns* an outcome: a complete :class:`Reply`, or :class:`Streaming` when the
upstream body should be pumped through a relay to the client. The sync transport
drives flows with a ``for``-style loop, the async one with ``await``; the policy
(which deployment, when to re-authenticate, which error to report) lives only here,
as in httpx's ``Auth.auth_flow``. Transport failures are thrown *into* the flow so
that it, not the transport, decides what they mean.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.adjustments import Adjustments
from shared.balancer import Target
from shared.config import SubAccount
from shared.errors import ProxyError, UpstreamError, UpstreamStatusError, upstream_error_message
from shared.retry import CircuitBreakers, RetryPolicy, parse_retry_after
from shared.streams import StreamRelay
from shared.wire import UpstreamRequest, UpstreamResponse

__all__ = [
    "Clock",
    "Command",
    "Flow",
    "Job",
    "NeedToken",
    "Reply",
    "Send",
    "Sleep",
    "StreamReply",
    "Streaming",
    "call_upstream",
    "call_with_failover",
    "reply_json",
    "upstream_headers",
    "upstream_status_error",
]

JSON_HEADERS: Mapping[str, str] = {"content-type": "application/json"}
SSE_HEADERS: Mapping[str, str] = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Ask for a bearer token; with ``stale``, that token was refused upstream: get a new one."""

    sub_account: SubAccount
    stale: str | None = None


@dataclass(frozen=True, slots=True)
class Send:
    request: UpstreamRequest


@dataclass(frozen=True, slots=True)
class Clock:
    """Ask the transport for the monotonic time (the core never reads a clock itself)."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``, shortened by up to ``jitter`` x seconds at random (the transport draws it)."""

    seconds: float
    jitter: float = 0.0


Command = NeedToken | Send | Clock | Sleep


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: JSON_HEADERS)


@dataclass(frozen=True, slots=True)
class Streaming:
    relay: StreamRelay
    headers: Mapping[str, str] = field(default_factory=lambda: SSE_HEADERS)


Flow = Generator[Command, Any, Reply | Streaming]


@dataclass(frozen=True, slots=True)
class StreamReply:
    """What a transport returns for a stream: headers and an (async) iterator of SSE bytes."""

    headers: Mapping[str, str]
    chunks: Any


@dataclass(frozen=True, slots=True)
class Job:
    """A flow to run, and the error dialect of the route that started it."""

    flow: Flow
    dialect: str
    model: str | None = None  # for access logs and metrics
    adjustments: Adjustments | None = None  # filled while the flow runs: what was fitted to the model


def upstream_headers(sub: SubAccount, token: str, request_id: str = "") -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {token}",
        "AI-Resource-Group": sub.resource_group,
        "Content-Type": "application/json",
    }
    if request_id:
        headers["X-Request-Id"] = request_id
    if sub.service_key.identityzoneid:
        headers["AI-Tenant-Id"] = sub.service_key.identityzoneid
    return headers


def call_upstream(
    target: Target, url: str, body: bytes, *, stream: bool, request_id: str = ""
) -> Generator[Command, Any, UpstreamResponse]:
    """One upstream call with re-authentication: a 401/403 gets one retry with a fresh token."""
    sub = target.sub_account
    token: str = yield NeedToken(sub)
    resp: UpstreamResponse = yield Send(
        UpstreamRequest("POST", url, upstream_headers(sub, token, request_id), body, stream, target.label)
    )
    if resp.status in (401, 403):
        token = yield NeedToken(sub, stale=token)
        resp = yield Send(
            UpstreamRequest("POST", url, upstream_headers(sub, token, request_id), body, stream, target.label)
        )
    if resp.status >= 400:
        raise upstream_status_error(resp, target.label)
    return resp


def call_with_failover(
    targets: list[Target],
    path: str,
    body: bytes,
    *,
    stream: bool,
    policy: RetryPolicy,
    breakers: CircuitBreakers,
    request_id: str = "",
) -> Generator[Command, Any, tuple[Target, UpstreamResponse]]:
    """:func:`call_upstream` across the model's deployments, by the rules in ``shared/retry.py``.

    Returns the deployment that answered and its answer.
    """
    start: float = yield Clock()
    pending = breakers.order(targets, start)
    failures: list[ProxyError] = []
    rounds = 0
    for _ in range(policy.max_attempts):
        if not pending:  # every deployment failed once: wait before going round again
            rounds += 1
            wait, jitter = _wait(failures[-1], policy, rounds)
            now: float = yield Clock()
            if wait is None or now + wait - start > policy.deadline:
                break
            yield Sleep(wait, jitter)
            pending = breakers.order(targets, now + wait)
        target = pending.pop(0)
        try:
            resp = yield from call_upstream(target, target.url + path, body, stream=stream, request_id=request_id)
        except ProxyError as exc:
            if not _retryable(exc):
                raise
            now = yield Clock()
            breakers.record_failure(target.url, now)
            failures.append(exc)
            if now - start > policy.deadline:
                break
            continue
        breakers.record_success(target.url)
        return target, resp
    raise _exhausted(failures)


def _retryable(exc: ProxyError) -> bool:
    """Everything on SAP AI Core's side; not the client's own 4xx (429 excepted)."""
    if not isinstance(exc, UpstreamError):
        return False
    return not (400 <= exc.status < 500 and exc.status != 429)


def _wait(last: ProxyError, policy: RetryPolicy, rounds: int) -> tuple[float | None, float]:
    retry_after = parse_retry_after(last.headers.get("Retry-After"))
    if retry_after is not None:
        return (retry_after if retry_after <= policy.max_retry_after else None), 0.0
    return policy.backoff(rounds), 0.5


def _exhausted(failures: list[ProxyError]) -> ProxyError:
    last = failures[-1]
    if len(failures) == 1:
        return last
    tried = "; ".join(f.message for f in failures[-4:])
    return UpstreamError(
        f"all {len(failures)} attempts failed: {tried}", status=last.status, code=last.code, headers=last.headers
    )


# Upstream statuses a client can act on pass through; the rest become gateway errors.
_PASS_THROUGH = {400, 408, 409, 413, 415, 422, 429}
_GATEWAY = {503: 503, 504: 504}


def upstream_status_error(resp: UpstreamResponse, where: str) -> UpstreamStatusError:
    """Map an upstream error answer to what the client should see.

    The client's own mistakes (400, 413, 422...) and rate limits (429, with
    ``Retry-After``) keep their status. 401/403/404 from SAP AI Core mean the
    proxy's credentials or deployment URLs are wrong — not the client's key — so they
    become 502 with a message saying so. Other 5xx become 502, except 503/504.
    """
    status = resp.status
    detail = upstream_error_message(resp.body)
    headers: dict[str, str] = {}
    if status in _PASS_THROUGH:
        client_status = status
        message = f"{where} answered {status}: {detail}"
        retry_after = resp.header("retry-after") or resp.header("x-retry-after")
        if status == 429 and retry_after:
            headers["Retry-After"] = retry_after
    elif status in (401, 403):
        client_status = 502
        message = f"SAP AI Core refused the proxy's credentials ({status}) at {where}: {detail}"
    elif status == 404:
        client_status = 502
        message = f"SAP AI Core has no such deployment ({where}); check deployment_models in the config: {detail}"
    else:
        client_status = _GATEWAY.get(status, 502)
        message = f"{where} failed with {status}: {detail}"
    return UpstreamStatusError(message, upstream_status=status, status=client_status, headers=headers)


def reply_json(body: bytes, status: int = 200) -> Reply:
    return Reply(status, body)
