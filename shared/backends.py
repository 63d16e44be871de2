"""One object per upstream API that knows its URL suffix, body and answer conversions.

The chat flow is the same for every model family; what differs — which suffix, which
converter, which stream translator — is looked up here by :func:`chat_backend`. The
converters themselves live in ``shared/convert``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from shared.convert import azure_openai, claude_converse, claude_invoke, gemini
from shared.jsonutil import dumps, loads
from shared.openai_chunks import ChunkFactory
from shared.routing import ModelRoute
from shared.streams import ChatStream, StreamRelay

__all__ = ["ChatBackend", "ResponseIds", "chat_backend"]


@dataclass(frozen=True, slots=True)
class ResponseIds:
    """What a converted answer is stamped with: our id, our timestamp, the client's model name."""

    completion_id: str
    created: int
    model: str


class ChatBackend(Protocol):
    def path(self, route: ModelRoute, stream: bool) -> str: ...
    def body(self, doc: dict[str, Any], route: ModelRoute) -> dict[str, Any]: ...
    def response(self, raw: bytes, ids: ResponseIds) -> bytes: ...
    def relay(self, ids: ResponseIds, include_usage: bool) -> StreamRelay: ...


class _Azure:
    def path(self, route: ModelRoute, stream: bool) -> str:
        return f"/chat/completions?api-version={route.api_version}"

    def body(self, doc: dict[str, Any], route: ModelRoute) -> dict[str, Any]:
        return azure_openai.openai_to_azure_chat(doc, reasoning_model=azure_openai.is_reasoning_model(route.name))

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        return raw  # already an OpenAI chat.completion: forward the bytes untouched

    def relay(self, ids: ResponseIds, include_usage: bool) -> StreamRelay:
        return azure_openai.AzurePassthroughStream()


class _ClaudeInvoke:
    def path(self, route: ModelRoute, stream: bool) -> str:
        return "/invoke-with-response-stream" if stream else "/invoke"

    def body(self, doc: dict[str, Any], route: ModelRoute) -> dict[str, Any]:
        return claude_invoke.openai_to_claude_invoke(doc, default_max_tokens=route.max_tokens)

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        return dumps(
            claude_invoke.claude_invoke_to_openai(
                loads(raw), completion_id=ids.completion_id, created=ids.created, model=ids.model
            )
        )

    def relay(self, ids: ResponseIds, include_usage: bool) -> StreamRelay:
        chunks = ChunkFactory(ids.completion_id, ids.created, ids.model)
        return ChatStream(
            claude_invoke.stream_decoder(), claude_invoke.ClaudeInvokeStream(chunks, include_usage=include_usage)
        )


class _ClaudeConverse:
    def path(self, route: ModelRoute, stream: bool) -> str:
        return "/converse-stream" if stream else "/converse"

    def body(self, doc: dict[str, Any], route: ModelRoute) -> dict[str, Any]:
        return claude_converse.openai_to_claude_converse(doc, default_max_tokens=route.max_tokens)

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        return dumps(
            claude_converse.claude_converse_to_openai(
                loads(raw), completion_id=ids.completion_id, created=ids.created, model=ids.model
            )
        )

    def relay(self, ids: ResponseIds, include_usage: bool) -> StreamRelay:
        chunks = ChunkFactory(ids.completion_id, ids.created, ids.model)
        return ChatStream(
            claude_converse.stream_decoder(),
            claude_converse.ClaudeConverseStream(chunks, include_usage=include_usage),
        )


class _Gemini:
    def path(self, route: ModelRoute, stream: bool) -> str:
        verb = "streamGenerateContent" if stream else "generateContent"
        return f"/models/{route.upstream_model}:{verb}"

    def body(self, doc: dict[str, Any], route: ModelRoute) -> dict[str, Any]:
        return gemini.openai_to_gemini(doc, default_max_tokens=None)

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        return dumps(
            gemini.gemini_to_openai(loads(raw), completion_id=ids.completion_id, created=ids.created, model=ids.model)
        )

    def relay(self, ids: ResponseIds, include_usage: bool) -> StreamRelay:
        chunks = ChunkFactory(ids.completion_id, ids.created, ids.model)
        return ChatStream(gemini.stream_decoder(), gemini.GeminiStream(chunks, include_usage=include_usage))


_BACKENDS: dict[str, ChatBackend] = {
    "openai": _Azure(),
    "claude:invoke": _ClaudeInvoke(),
    "claude:converse": _ClaudeConverse(),
    "gemini": _Gemini(),
}


def chat_backend(route: ModelRoute) -> ChatBackend:
    key = f"claude:{route.claude_api}" if route.family == "claude" else route.family
    return _BACKENDS[key]
