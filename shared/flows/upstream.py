"""Calling one model's deployments: re-authentication, failover, and what an upstream error means.

:func:`call_with_failover` tries the model's deployments by the rules in
``shared/retry.py`` (circuit breakers, ``Retry-After``, capped jittered backoff, a
deadline), each attempt through :func:`call_upstream`, which re-authenticates once on
401/403. The decision to retry is made here, so it is recorded here: each retry, with its
reason and whether it moved to another deployment, goes into the request's record.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from shared.balancer import Target
from shared.config import SubAccount
from shared.errors import (
    ProxyError,
    TokenFetchError,
    UpstreamError,
    UpstreamStatusError,
    UpstreamTimeout,
    upstream_error_message,
)
from shared.flows.commands import Clock, Command, NeedToken, Send, Sleep
from shared.record import RequestRecord
from shared.retry import CircuitBreakers, RetryPolicy, parse_retry_after
from shared.wire import UpstreamRequest, UpstreamResponse

__all__ = [
    "PASS_THROUGH",
    "RETRY_REASONS",
    "call_upstream",
    "call_with_failover",
    "retry_reason",
    "upstream_headers",
    "upstream_status_error",
]

RETRY_REASONS = ("429", "5xx", "connect", "timeout", "token", "auth")


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
    target: Target, url: str, body: bytes, *, stream: bool, record: RequestRecord
) -> Generator[Command, Any, UpstreamResponse]:
    """One upstream call with re-authentication: a 401/403 gets one retry with a fresh token."""
    sub, request_id = target.sub_account, record.request_id
    token: str = yield NeedToken(sub)
    resp: UpstreamResponse = yield Send(
        UpstreamRequest("POST", url, upstream_headers(sub, token, request_id), body, stream, target.label)
    )
    if resp.status in (401, 403):
        record.retried("auth", failover=False)
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
    record: RequestRecord,
) -> Generator[Command, Any, tuple[Target, UpstreamResponse]]:
    """:func:`call_upstream` across the model's deployments, by the rules in ``shared/retry.py``.

    Returns the deployment that answered and its answer.
    """
    start: float = yield Clock()
    pending = breakers.order(targets, start)
    failures: list[ProxyError] = []
    failed_at: str | None = None  # the URL of the last failed attempt
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
        if failed_at is not None:
            record.retried(retry_reason(failures[-1]), failover=target.url != failed_at)
        try:
            resp = yield from call_upstream(target, target.url + path, body, stream=stream, record=record)
        except ProxyError as exc:
            if not _retryable(exc):
                raise
            now = yield Clock()
            breakers.record_failure(target.url, now)
            failures.append(exc)
            failed_at = target.url
            if now - start > policy.deadline:
                break
            continue
        breakers.record_success(target.url)
        return target, resp
    raise _exhausted(failures)


def retry_reason(exc: ProxyError) -> str:
    """Why an attempt failed, as the ``reason`` of the retry after it (:data:`RETRY_REASONS`)."""
    if isinstance(exc, TokenFetchError):
        return "token"
    if isinstance(exc, UpstreamTimeout):
        return "timeout"
    if isinstance(exc, UpstreamStatusError):
        status = exc.upstream_status
        return "429" if status == 429 else "auth" if status in (401, 403, 404) else "5xx"
    return "connect"


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
PASS_THROUGH = frozenset((400, 408, 409, 413, 415, 422, 429))
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
    if status in PASS_THROUGH:
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
