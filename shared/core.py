"""The proxy as one I/O-free object: a request in, a reply or a flow to run out.

Adapters hand :meth:`ProxyCore.handle` the route, the headers, the raw body and the
current time; they get back either a finished :class:`~shared.flow.Reply` or a
:class:`~shared.flow.Job` whose flow their transport runs. Per-app state lives here
(router, balancer, token caches), created once per worker process.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.adjustments import Adjustments
from shared.anthropic_api import count_tokens_reply, messages_flow
from shared.backends import ResponseIds
from shared.balancer import Balancer
from shared.chat import Upstreams, chat_flow, embeddings_flow, parse_chat_request, parse_json_object
from shared.client_auth import verify_client_key
from shared.config import ProxyConfig
from shared.errors import PayloadTooLarge, ProxyError, UnsupportedMediaType, render_error
from shared.flow import Job, Reply
from shared.jsonutil import dumps, loads
from shared.openapi import openapi_json
from shared.responses_route import responses_flow
from shared.retry import CircuitBreakers
from shared.routes import Route
from shared.routing import Router
from shared.token_cache import TokenCache

__all__ = ["Incoming", "ProxyCore", "new_random_id"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a handler knows about the request besides its body."""

    headers: Mapping[str, str]
    now: float
    request_id: str


def new_random_id(prefix: str) -> str:
    """``chatcmpl-…`` and ``req-…`` as OpenAI writes them; ``msg_…``/``resp_…`` as Anthropic and Responses do."""
    sep = "-" if prefix in ("chatcmpl", "req") else "_"
    return f"{prefix}{sep}{uuid.uuid4().hex[:29]}"


class ProxyCore:
    def __init__(
        self,
        config: ProxyConfig,
        *,
        stack: str,
        started_at: float,
        new_id: Callable[[str], str] = new_random_id,
    ) -> None:
        self.config = config
        self.stack = stack
        self.router = Router(config)
        self.balancer = Balancer(config)
        policy = config.retry
        self.upstreams = Upstreams(
            self.router, self.balancer, policy, CircuitBreakers(policy.breaker_failures, policy.breaker_cooldown)
        )
        self.token_caches = {sub.name: TokenCache(sub) for sub in config.sub_accounts}
        self._new_id = new_id
        self._models_body = dumps(
            {
                "object": "list",
                "data": [
                    {"id": name, "object": "model", "created": int(started_at), "owned_by": "sap-ai-core"}
                    for name in self.router.names()
                ],
            }
        )
        self._health_body = dumps({"status": "ok", "stack": stack})
        self._handlers: dict[str, Callable[[bytes, Incoming], Reply | Job]] = {
            "chat_completions": self._chat_completions,
            "embeddings": self._embeddings,
            "list_models": lambda body, inc: Reply(200, self._models_body),
            "messages": self._messages,
            "responses": self._responses,
            "count_tokens": lambda body, inc: count_tokens_reply(parse_json_object(body)),
            # Claude Code telemetry: accepted so the client stops retrying; never forwarded or logged.
            "event_logging": lambda body, inc: Reply(200, b'{"status":"ok"}'),
            "health": lambda body, inc: Reply(200, self._health_body),
            "openapi": lambda body, inc: Reply(200, openapi_json()),
        }

    def request_id(self, headers: Mapping[str, str]) -> str:
        """The client's ``X-Request-Id`` when it is sane, else a new one; returned and sent upstream."""
        given = headers.get("x-request-id")
        if given and len(given) <= 128 and given.isascii() and given.isprintable():
            return given
        return self._new_id("req")

    def handle(
        self, route: Route, headers: Mapping[str, str], body: bytes, now: float, request_id: str = ""
    ) -> Reply | Job:
        """Serve one request; every failure becomes an error reply in the route's dialect."""
        try:
            if route.auth:
                verify_client_key(
                    headers, self.config.api_keys, allow_unauthenticated=self.config.allow_unauthenticated
                )
            return self._handlers[route.handler](body, Incoming(headers, now, request_id))
        except ProxyError as exc:
            return self.error_reply(exc, route.dialect)

    def error_summary(self, reply: Reply) -> str | None:
        """The message of an error reply, for the access log (server-side failures only)."""
        if reply.status < 500:
            return None
        try:
            doc = loads(reply.body)
            err = doc.get("error", {})
            return str(err.get("message")) if isinstance(err, dict) else None
        except (ValueError, AttributeError):
            return None

    def access_line(self, fields: Mapping[str, Any]) -> str:
        """One structured access-log line (JSON). Never bodies, keys or tokens: callers pass none."""
        return dumps({"stack": self.stack, **fields}).decode()

    @property
    def body_limit(self) -> int:
        return self.config.max_body_bytes

    def admit(self, route: Route, headers: Mapping[str, str]) -> Reply | None:
        """Checks made before the body is read: content type and declared size."""
        if route.method != "POST":
            return None
        ctype = headers.get("content-type")
        if ctype and not _is_json(ctype):
            return self.error_reply(
                UnsupportedMediaType(f"Content-Type must be application/json, not '{ctype.split(';')[0]}'"),
                route.dialect,
            )
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.body_limit:
            return self.too_large(route)
        return None

    def too_large(self, route: Route) -> Reply:
        limit_mb = self.body_limit / (1024 * 1024)
        return self.error_reply(
            PayloadTooLarge(f"request body exceeds the proxy's limit of {limit_mb:g} MB (max_body_bytes)"),
            route.dialect,
        )

    def error_reply(self, exc: ProxyError, dialect: str) -> Reply:
        status, headers, body = render_error(exc, dialect)
        return Reply(status, body, headers)

    def _chat_completions(self, body: bytes, inc: Incoming) -> Reply | Job:
        req = parse_chat_request(parse_json_object(body))
        ids = ResponseIds(self._new_id("chatcmpl"), int(inc.now), req.model)
        fitted = Adjustments()
        flow = chat_flow(req, self.upstreams, ids, request_id=inc.request_id, adjustments=fitted)
        return Job(flow, "openai", req.model, fitted)

    def _messages(self, body: bytes, inc: Incoming) -> Reply | Job:
        doc = parse_json_object(body)
        model = doc.get("model") if isinstance(doc.get("model"), str) else None
        ids = ResponseIds(self._new_id("msg"), int(inc.now), model or "")
        fitted = Adjustments()
        flow = messages_flow(
            doc,
            inc.headers,
            self.upstreams,
            self.config.fallback_models,
            ids,
            request_id=inc.request_id,
            adjustments=fitted,
        )
        return Job(flow, "anthropic", model, fitted)

    def _responses(self, body: bytes, inc: Incoming) -> Reply | Job:
        doc = parse_json_object(body)
        model = doc.get("model") if isinstance(doc.get("model"), str) else None
        ids = ResponseIds(self._new_id("resp"), int(inc.now), model or "")
        fitted = Adjustments()
        flow = responses_flow(doc, self.upstreams, ids, request_id=inc.request_id, adjustments=fitted)
        return Job(flow, "openai", model, fitted)

    def _embeddings(self, body: bytes, inc: Incoming) -> Reply | Job:
        doc = parse_json_object(body)
        model = doc.get("model") if isinstance(doc.get("model"), str) else None
        return Job(embeddings_flow(doc, self.upstreams, request_id=inc.request_id), "openai", model)

    def handler_names(self) -> list[str]:
        return list(self._handlers)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")
