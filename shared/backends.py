"""One object per upstream API: URL suffix, request conversion, answer conversion, streams.

Every route speaks to upstreams through the OpenAI Chat Completions shape (the hub):
a backend turns a chat request into its upstream body, an upstream answer into a
``chat.completion`` dict, and an upstream stream into ``chat.completion.chunk`` dicts
(:meth:`chunk_stages`). The Chat Completions route adds only the OpenAI encoding; the
Anthropic and Responses routes add one more translator stage. The converters
themselves live in ``shared/convert``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.adjustments import Adjustments
from shared.catalog import ModelEntry
from shared.convert import azure_openai, claude_converse, claude_invoke, gemini
from shared.jsonutil import dumps, loads
from shared.openai_chunks import ChunkFactory
from shared.streams import ChatRelay, Decoder, Relay, SSEJsonDecoder, Translator

__all__ = ["ChatBackend", "ResponseIds", "chat_backend"]


@dataclass(frozen=True, slots=True)
class ResponseIds:
    """What a converted answer is stamped with: our id, our timestamp, the client's model name."""

    completion_id: str
    created: int
    model: str


Converter = Callable[..., dict[str, Any]]


class ChatBackend:
    """A converted upstream (Claude invoke/Converse, Gemini); Azure overrides what it passes through."""

    def __init__(
        self,
        name: str,
        path: Callable[[ModelEntry, bool], str],
        body: Callable[[dict[str, Any], ModelEntry, Adjustments | None], dict[str, Any]],
        completion: Converter,
        decoder: Callable[[], Decoder] | None = None,
        translator: Callable[[ChunkFactory, bool], Translator] | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.body = body
        self._completion = completion
        self._decoder = decoder
        self._translator = translator

    def completion(self, raw: bytes, ids: ResponseIds) -> dict[str, Any]:
        """The upstream's non-streaming answer as a ``chat.completion`` dict."""
        return self._completion(loads(raw), completion_id=ids.completion_id, created=ids.created, model=ids.model)

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        """The Chat Completions answer body."""
        return dumps(self.completion(raw, ids))

    def chunk_stages(self, ids: ResponseIds) -> tuple[Decoder, list[Translator]]:
        """Decoder and stages turning the upstream stream into chunk dicts (usage always included)."""
        assert self._decoder is not None and self._translator is not None
        chunks = ChunkFactory(ids.completion_id, ids.created, ids.model)
        return self._decoder(), [self._translator(chunks, True)]

    def relay(self, ids: ResponseIds, include_usage: bool) -> Relay:
        """The Chat Completions stream; the usage chunk reaches the client with ``include_usage`` only."""
        assert self._decoder is not None and self._translator is not None
        chunks = ChunkFactory(ids.completion_id, ids.created, ids.model)
        return ChatRelay(self._decoder(), self._translator(chunks, True), client_usage=include_usage)


class _Azure(ChatBackend):
    def completion(self, raw: bytes, ids: ResponseIds) -> dict[str, Any]:
        doc: dict[str, Any] = loads(raw)
        return doc

    def response(self, raw: bytes, ids: ResponseIds) -> bytes:
        return raw  # already an OpenAI chat.completion: forward the bytes untouched

    def chunk_stages(self, ids: ResponseIds) -> tuple[Decoder, list[Translator]]:
        return SSEJsonDecoder(loads), []

    def relay(self, ids: ResponseIds, include_usage: bool) -> Relay:
        return azure_openai.AzurePassthroughRelay(client_usage=include_usage)


def _azure_body(doc: dict[str, Any], entry: ModelEntry, adjustments: Adjustments | None) -> dict[str, Any]:
    return azure_openai.openai_to_azure_chat(doc, caps=entry.capabilities, adjustments=adjustments)


def _gemini_path(entry: ModelEntry, stream: bool) -> str:
    return f"/models/{entry.upstream_model}:{'streamGenerateContent' if stream else 'generateContent'}"


_BACKENDS: dict[str, ChatBackend] = {
    "openai": _Azure(
        "azure-openai",
        lambda entry, stream: f"/chat/completions?api-version={entry.api_version}",
        _azure_body,
        lambda doc, **_: doc,
    ),
    "claude:invoke": ChatBackend(
        "bedrock-invoke",
        lambda entry, stream: "/invoke-with-response-stream" if stream else "/invoke",
        lambda doc, entry, adj: claude_invoke.openai_to_claude_invoke(
            doc, default_max_tokens=entry.max_tokens, caps=entry.capabilities, adjustments=adj
        ),
        claude_invoke.claude_invoke_to_openai,
        claude_invoke.stream_decoder,
        lambda chunks, usage: claude_invoke.ClaudeInvokeStream(chunks, include_usage=usage),
    ),
    "claude:converse": ChatBackend(
        "bedrock-converse",
        lambda entry, stream: "/converse-stream" if stream else "/converse",
        lambda doc, entry, adj: claude_converse.openai_to_claude_converse(
            doc, default_max_tokens=entry.max_tokens, caps=entry.capabilities, adjustments=adj
        ),
        claude_converse.claude_converse_to_openai,
        claude_converse.stream_decoder,
        lambda chunks, usage: claude_converse.ClaudeConverseStream(chunks, include_usage=usage),
    ),
    "gemini": ChatBackend(
        "vertex-gemini",
        _gemini_path,
        lambda doc, entry, adj: gemini.openai_to_gemini(
            doc, default_max_tokens=None, caps=entry.capabilities, adjustments=adj
        ),
        gemini.gemini_to_openai,
        gemini.stream_decoder,
        lambda chunks, usage: gemini.GeminiStream(chunks, include_usage=usage),
    ),
}


def chat_backend(entry: ModelEntry) -> ChatBackend:
    key = f"claude:{entry.claude_api}" if entry.family == "claude" else entry.family
    return _BACKENDS[key]
