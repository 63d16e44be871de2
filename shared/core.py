"""The proxy as one I/O-free object: a request in, a reply or a flow to run out.

An adapter begins each request with :meth:`ProxyCore.begin`, which returns its
:class:`~shared.record.RequestRecord`; the record admits the request or turns its body
into a :class:`~shared.record.Job` for the adapter's transport, through
:meth:`admit` and :meth:`handle` here. Per-app state lives here (model catalog, balancer,
token caches), created once per worker process; nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from shared.backends import ResponseIds
from shared.balancer import Balancer
from shared.catalog import ModelCatalog
from shared.client_auth import verify_client_key
from shared.config import ProxyConfig
from shared.endpoints import ENDPOINTS, Endpoint, dialect_for
from shared.errors import (
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ProxyError,
    TokenFetchError,
    UnsupportedMediaType,
)
from shared.flows.chat import chat_flow, parse_chat_request, parse_json_object
from shared.flows.commands import Flow, NeedToken
from shared.flows.deployments import Deployments
from shared.flows.embeddings import embeddings_flow
from shared.flows.messages import count_tokens_reply, messages_flow
from shared.flows.responses import responses_flow
from shared.jsonutil import dumps
from shared.openapi import openapi_json
from shared.record import Job, RecordSink, RequestRecord
from shared.replies import Reply, error_reply
from shared.retry import CircuitBreakers
from shared.token_cache import TokenCache

__all__ = ["ProxyCore", "new_random_id"]

Handler = Callable[[bytes, RequestRecord, float], Reply | Job]


def new_random_id(prefix: str) -> str:
    """``chatcmpl-…`` and ``req-…`` as OpenAI writes them; ``msg_…``/``resp_…`` as Anthropic and Responses do."""
    sep = "-" if prefix in ("chatcmpl", "req") else "_"
    return f"{prefix}{sep}{uuid.uuid4().hex[:29]}"


class _NoSink:
    """A sink that keeps nothing (tools and tests that need no metrics or log)."""

    def request_started(self, record: RequestRecord) -> None: ...
    def stream_started(self) -> None: ...
    def stream_ended(self) -> None: ...
    def finished(self, record: RequestRecord) -> None: ...


class ProxyCore:
    def __init__(
        self,
        config: ProxyConfig,
        *,
        stack: str,
        started_at: float,
        sink: RecordSink | None = None,
        new_id: Callable[[str], str] = new_random_id,
    ) -> None:
        self.config = config
        self.stack = stack
        self.sink: RecordSink = sink if sink is not None else _NoSink()
        self.catalog = ModelCatalog(config)
        self.balancer = Balancer(config)
        policy = config.retry
        breakers = CircuitBreakers(policy.breaker_failures, policy.breaker_cooldown)
        self.deployments = Deployments(self.catalog, self.balancer, policy, breakers)
        self.token_caches = {sub.name: TokenCache(sub) for sub in config.sub_accounts}
        self._new_id = new_id
        self._endpoints = {(e.method, e.path): e for e in ENDPOINTS}
        self._models_body = dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": int(started_at), "owned_by": "sap-ai-core"}
                    for name in self.catalog.names()
                ],
            }
        )
        self._health_body = dumps({"status": "ok", "stack": stack})
        self._handlers: dict[str, Handler] = {
            "chat_completions": self._chat_completions,
            "embeddings": self._embeddings,
            "list_models": lambda body, record, now: Reply(200, self._models_body),
            "messages": self._messages,
            "responses": self._responses,
            "count_tokens": lambda body, record, now: count_tokens_reply(parse_json_object(body)),
            # Claude Code telemetry: accepted so the client stops retrying; never forwarded or logged.
            "event_logging": lambda body, record, now: Reply(200, b'{"status":"ok"}'),
            "health": lambda body, record, now: Reply(200, self._health_body),
            "ready": self._ready,
            "openapi": lambda body, record, now: Reply(200, openapi_json()),
        }

    # -- one request ----------------------------------------------------------------------

    def begin(
        self, endpoint: Endpoint | None, headers: Mapping[str, str], method: str, path: str, now: float
    ) -> RequestRecord:
        """The record of a request that just arrived (``now``: monotonic seconds)."""
        return RequestRecord(self, self.sink, endpoint, method, path, self.request_id(headers), now, headers)

    def request_id(self, headers: Mapping[str, str]) -> str:
        """The client's ``X-Request-Id`` when it is sane, else a new one; returned and sent upstream."""
        given = headers.get("x-request-id")
        if given and len(given) <= 128 and given.isascii() and given.isprintable():
            return given
        return self._new_id("req")

    def admit(self, record: RequestRecord) -> Reply | None:
        """Checks made before the body is read: content type and declared size."""
        endpoint = record.endpoint
        if endpoint is None or endpoint.method != "POST":
            return None
        ctype = record.headers.get("content-type")
        if ctype and not _is_json(ctype):
            media = ctype.split(";")[0]
            return error_reply(
                UnsupportedMediaType(f"Content-Type must be application/json, not '{media}'"), endpoint.dialect
            )
        length = record.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.body_limit:
            return self._too_large(endpoint.dialect)
        return None

    def handle(self, record: RequestRecord, body: bytes | None, now: float) -> Reply | Job:
        """Serve one request's body (None: over the size limit); every failure is an error reply.

        ``now`` is wall-clock time (the ``created`` stamps of answers).
        """
        endpoint = record.endpoint
        assert endpoint is not None  # framework-level answers go through unrouted()
        if body is None:
            return self._too_large(endpoint.dialect)
        try:
            if endpoint.auth:
                verify_client_key(
                    record.headers, self.config.api_keys, allow_unauthenticated=self.config.allow_unauthenticated
                )
            return self._handlers[endpoint.handler](body, record, now)
        except ProxyError as exc:
            return error_reply(exc, endpoint.dialect)

    def unrouted(
        self, status: int, method: str, path: str, headers: Mapping[str, str], now: float
    ) -> tuple[RequestRecord, Reply]:
        """A framework-level answer (no such route 404, wrong method 405, an unexpected 500), recorded.

        Both adapters' error handlers call this, so both stacks word, shape and count them alike.
        """
        record = self.begin(self._endpoints.get((method, path)), headers, method, path, now)
        error: ProxyError
        if status == 404:
            error = NotFound(f"no route {method} {path}; see the README for the proxy's routes")
        elif status == 405:
            error = MethodNotAllowed(f"method {method} is not allowed on {path}")
        else:
            error = ProxyError("internal proxy error; see the proxy's log", status=status if status >= 500 else 500)
        reply = error_reply(error, dialect_for(path))
        return record, reply

    def failed(self, record: RequestRecord) -> Reply:
        """The 500 for a request whose handling raised (a bug, logged by the adapter)."""
        return error_reply(ProxyError("internal proxy error; see the proxy's log"), record.dialect)

    @property
    def body_limit(self) -> int:
        return self.config.max_body_bytes

    def _too_large(self, dialect: str) -> Reply:
        limit_mb = self.body_limit / (1024 * 1024)
        return error_reply(
            PayloadTooLarge(f"request body exceeds the proxy's limit of {limit_mb:g} MB (max_body_bytes)"), dialect
        )

    # -- the handlers ---------------------------------------------------------------------

    def _chat_completions(self, body: bytes, record: RequestRecord, now: float) -> Reply | Job:
        req = parse_chat_request(parse_json_object(body))
        record.model = req.model
        ids = ResponseIds(self._new_id("chatcmpl"), int(now), req.model)
        return Job(chat_flow(req, self.deployments, ids, record), record)

    def _messages(self, body: bytes, record: RequestRecord, now: float) -> Reply | Job:
        doc = parse_json_object(body)
        record.model = _model(doc)
        ids = ResponseIds(self._new_id("msg"), int(now), record.model or "")
        fallbacks = self.config.fallback_models
        return Job(messages_flow(doc, record.headers, self.deployments, fallbacks, ids, record), record)

    def _responses(self, body: bytes, record: RequestRecord, now: float) -> Reply | Job:
        doc = parse_json_object(body)
        record.model = _model(doc)
        ids = ResponseIds(self._new_id("resp"), int(now), record.model or "")
        return Job(responses_flow(doc, self.deployments, ids, record), record)

    def _embeddings(self, body: bytes, record: RequestRecord, now: float) -> Reply | Job:
        doc = parse_json_object(body)
        record.model = _model(doc)
        return Job(embeddings_flow(doc, self.deployments, record), record)

    def _ready(self, body: bytes, record: RequestRecord, now: float) -> Reply | Job:
        """``GET /ready``: the config is loaded (else there would be no app) and a token is obtainable.

        A draining worker is not asked: on SIGTERM both servers close their listening socket
        first, so a load balancer's check fails to connect (docs/operations.md).
        """
        return Job(self._ready_flow(), record)

    def _ready_flow(self) -> Flow:
        reasons = []
        for sub in self.config.sub_accounts:
            try:
                yield NeedToken(sub)  # cached tokens answer at once; a cold cache fetches one
            except TokenFetchError as exc:
                reasons.append(exc.message)
                continue
            return Reply(200, dumps({"status": "ready", "stack": self.stack, "sub_account": sub.name}))
        return Reply(503, dumps({"status": "not_ready", "stack": self.stack, "reasons": reasons}))


def _model(doc: dict[str, Any]) -> str | None:
    model = doc.get("model")
    return model if isinstance(model, str) else None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
