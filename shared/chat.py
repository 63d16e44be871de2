"""The Chat Completions and Embeddings flows: validate, pick a deployment, convert, call.

Both stacks run exactly these generators (see ``shared/flow.py``); nothing about a
chat request is decided in an adapter or a transport.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Protocol

from shared.adjustments import Adjustments
from shared.backends import ChatBackend, ResponseIds, chat_backend
from shared.balancer import Balancer, Target
from shared.convert.embeddings import azure_embeddings_to_openai, openai_to_azure_embeddings
from shared.errors import InvalidRequest, ModelNotFound, UpstreamProtocolError, request_shape_errors
from shared.flow import Command, Reply, Streaming, call_with_failover
from shared.jsonutil import dumps, loads
from shared.model_match import match_claude_name
from shared.retry import CircuitBreakers, RetryPolicy
from shared.routing import ModelRoute, Router
from shared.streams import StreamRelay
from shared.wire import UpstreamResponse

__all__ = [
    "OPENAI_CHAT",
    "Upstreams",
    "AnswerFormat",
    "ChatRequest",
    "chat_flow",
    "embeddings_flow",
    "parse_chat_request",
    "parse_json_object",
]

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    if not body.strip():
        raise InvalidRequest("request body is empty; send a JSON object")
    try:
        doc = loads(body)
    except ValueError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidRequest(f"request body must be a JSON object, not {type(doc).__name__}")
    return doc


@dataclass(frozen=True, slots=True)
class ChatRequest:
    doc: dict[str, Any]
    model: str
    stream: bool
    include_usage: bool


def require_model(doc: dict[str, Any]) -> str:
    model = doc.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a non-empty string", param="model")
    return model


def parse_chat_request(doc: dict[str, Any]) -> ChatRequest:
    """Check the fields every backend relies on; converters check the rest."""
    model = require_model(doc)
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' is required and must be a non-empty array", param="messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise InvalidRequest(f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(
                f"messages[{i}].role must be one of {', '.join(sorted(_ROLES))}", param=f"messages[{i}].role"
            )
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            raise InvalidRequest(f"messages[{i}].tool_call_id is required for role 'tool'", param=f"messages[{i}]")
    stream = doc.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("'stream' must be true or false", param="stream")
    options = doc.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object", param="stream_options")
    include_usage = bool(stream) and isinstance(options, dict) and options.get("include_usage") is True
    tools = doc.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("'tools' must be an array", param="tools")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise InvalidRequest(f"tools[{i}].function.name is required", param=f"tools[{i}]")
    return ChatRequest(doc, model, stream is True, include_usage)


class Upstreams:
    """Everything a flow needs to pick and call a deployment; one per worker."""

    __slots__ = ("router", "balancer", "policy", "breakers", "_claude")

    def __init__(self, router: Router, balancer: Balancer, policy: RetryPolicy, breakers: CircuitBreakers) -> None:
        self.router = router
        self.balancer = balancer
        self.policy = policy
        self.breakers = breakers
        routes = {route.name: route for route in map(router.route, router.names())}
        self._claude = [(r.name, r.capabilities) for r in routes.values() if r.family == "claude"]

    def route(self, model: str, fallback: str | None = None) -> ModelRoute:
        """The route of a client's model name.

        Configured names and aliases first; then Anthropic's own names (Claude Code's
        ``claude-sonnet-4-5-20250929``) to the configured model of the same tier
        (``shared/model_match.py``); then ``fallback``; then a model of another tier.
        """
        try:
            return self.router.route(model)
        except ModelNotFound:
            match = match_claude_name(model, self._claude)
            if match is not None and (match.same_tier or fallback is None):
                return self.router.route(match.model)
            if fallback is not None:
                return self.router.route(fallback)
            raise

    def resolve(self, model: str) -> tuple[ModelRoute, list[Target]]:
        route = self.route(model)
        targets = self.balancer.candidates(route.name)
        if not targets:  # pragma: no cover - config validation guarantees URLs
            raise ModelNotFound(f"model '{model}' has no deployments", param="model")
        return route, targets

    def call(
        self, targets: list[Target], path: str, body: bytes, *, stream: bool, request_id: str
    ) -> Generator[Command, Any, tuple[Target, UpstreamResponse]]:
        return call_with_failover(
            targets, path, body, stream=stream, policy=self.policy, breakers=self.breakers, request_id=request_id
        )


class AnswerFormat(Protocol):
    """How a route wants the hub's answer: Chat Completions, Anthropic Messages or Responses."""

    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes: ...
    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> StreamRelay: ...


class _OpenAIChat:
    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes:
        return backend.response(raw, ids)

    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> StreamRelay:
        return backend.relay(ids, include_usage)


OPENAI_CHAT: AnswerFormat = _OpenAIChat()


def chat_flow(
    req: ChatRequest,
    upstreams: Upstreams,
    ids: ResponseIds,
    answer: AnswerFormat = OPENAI_CHAT,
    *,
    request_id: str = "",
    adjustments: Adjustments | None = None,
) -> Generator[Command, Any, Reply | Streaming]:
    """A chat request to whichever family serves the model; ``answer`` shapes what the client gets.

    ``adjustments`` collects what the converters changed to fit the model (``shared/capabilities.py``).
    """
    route, targets = upstreams.resolve(req.model)
    backend = chat_backend(route)
    if route.kind != "chat":
        raise InvalidRequest(f"model '{req.model}' is an embeddings model; use POST /v1/embeddings", param="model")
    with request_shape_errors():
        payload = dumps(backend.body(req.doc, route, adjustments))
    target, resp = yield from upstreams.call(
        targets, backend.path(route, req.stream), payload, stream=req.stream, request_id=request_id
    )
    if req.stream:
        return Streaming(answer.stream(backend, ids, req.include_usage))
    try:
        return Reply(200, answer.json(backend, resp.body, ids))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UpstreamProtocolError(f"{target.label} sent an answer the proxy could not read: {exc}") from exc


def embeddings_flow(
    doc: dict[str, Any], upstreams: Upstreams, *, request_id: str = ""
) -> Generator[Command, Any, Reply | Streaming]:
    model = require_model(doc)
    route, targets = upstreams.resolve(model)
    if route.family != "openai":
        raise InvalidRequest(
            f"model '{model}' is a {route.family} model; embeddings are served by OpenAI-family "
            "embedding deployments (e.g. text-embedding-3-small)",
            param="model",
        )
    if route.kind != "embeddings":
        raise InvalidRequest(
            f"model '{model}' is a chat model; embeddings need an embedding deployment (e.g. text-embedding-3-small)",
            param="model",
        )
    with request_shape_errors():
        payload = dumps(openai_to_azure_embeddings(doc))
    path = f"/embeddings?api-version={route.api_version}"
    target, resp = yield from upstreams.call(targets, path, payload, stream=False, request_id=request_id)
    try:
        return Reply(200, dumps(azure_embeddings_to_openai(loads(resp.body), model=model)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamProtocolError(f"{target.label} sent an embeddings answer the proxy could not read") from exc
