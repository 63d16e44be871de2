"""The Chat Completions flow: validate, pick a deployment, fit to the model, call, answer.

Every route reaches upstreams through this flow (the hub): the Anthropic Messages and
Responses flows convert their request to a chat request and pass an :class:`AnswerFormat`
that shapes the answer their clients expect. Both stacks run exactly this generator;
nothing about a request is decided in an adapter or a transport.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shared.backends import ChatBackend, ResponseIds, chat_backend
from shared.errors import InvalidRequest, UpstreamProtocolError, request_shape_errors
from shared.flows.commands import Flow
from shared.flows.deployments import Deployments
from shared.jsonutil import dumps, loads
from shared.record import RequestRecord
from shared.replies import Reply
from shared.streams import Relay

__all__ = [
    "OPENAI_CHAT",
    "AnswerFormat",
    "ChatRequest",
    "chat_flow",
    "parse_chat_request",
    "parse_json_object",
    "require_model",
]

_ROLES = {"system", "developer", "user", "assistant", "tool", "function"}


def parse_json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 that says what is wrong with it."""
    if not body.strip():
        raise InvalidRequest("body: empty; send a JSON object")
    try:
        doc = loads(body)
    except ValueError as exc:
        raise InvalidRequest(f"body: not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidRequest(f"body: must be a JSON object, not {type(doc).__name__}")
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
        raise InvalidRequest("model: required, a non-empty string", param="model")
    return model


def parse_chat_request(doc: dict[str, Any]) -> ChatRequest:
    """Check the fields every backend relies on; converters check the rest."""
    model = require_model(doc)
    messages = doc.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: required, a non-empty array", param="messages")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise InvalidRequest(f"messages[{i}]: must be an object", param=f"messages[{i}]")
        role = msg.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(
                f"messages[{i}].role: must be one of {', '.join(sorted(_ROLES))}", param=f"messages[{i}].role"
            )
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            raise InvalidRequest(f"messages[{i}].tool_call_id: required for role 'tool'", param=f"messages[{i}]")
    stream = doc.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream: must be true or false", param="stream")
    options = doc.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("stream_options: must be an object", param="stream_options")
    include_usage = bool(stream) and isinstance(options, dict) and options.get("include_usage") is True
    tools = doc.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise InvalidRequest("tools: must be an array", param="tools")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise InvalidRequest(f"tools[{i}].function.name: required", param=f"tools[{i}]")
    return ChatRequest(doc, model, stream is True, include_usage)


class AnswerFormat(Protocol):
    """How a route wants the hub's answer: Chat Completions, Anthropic Messages or Responses."""

    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes: ...
    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> Relay: ...


class _OpenAIChat:
    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes:
        return backend.response(raw, ids)

    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> Relay:
        return backend.relay(ids, include_usage)


OPENAI_CHAT: AnswerFormat = _OpenAIChat()


def chat_flow(
    req: ChatRequest,
    deployments: Deployments,
    ids: ResponseIds,
    record: RequestRecord,
    answer: AnswerFormat = OPENAI_CHAT,
    *,
    fallback: str | None = None,
) -> Flow:
    """A chat request to whichever family serves the model; ``answer`` shapes what the client gets.

    What the converters change to fit the model (``shared/capabilities.py``) goes into the
    record's adjustments.
    """
    entry, targets = deployments.resolve(req.model, fallback)
    backend = chat_backend(entry)
    if entry.kind != "chat":
        raise InvalidRequest(f"model: '{req.model}' is an embeddings model; use POST /v1/embeddings", param="model")
    with request_shape_errors():
        payload = dumps(backend.body(req.doc, entry, record.adjustments))
    target, resp = yield from deployments.call(
        targets, backend.path(entry, req.stream), payload, stream=req.stream, record=record
    )
    if req.stream:
        return answer.stream(backend, ids, req.include_usage)
    try:
        return Reply(200, answer.json(backend, resp.body, ids))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UpstreamProtocolError(f"{target.label} sent an answer the proxy could not read: {exc}") from exc
