"""Builders for the OpenAI Chat Completions objects every converter emits.

One :class:`ChunkFactory` is made per stream with the id, ``created`` and model fixed
up front, so every chunk of a stream carries the same id (the old proxies drew a new
random id per chunk). The factory does no clock or randomness itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ChunkFactory", "assistant_message", "chat_completion", "make_usage"]


def make_usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """OpenAI ``usage`` object. ``prompt`` already includes cached tokens."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def assistant_message(texts: list[str], reasoning: list[str], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The OpenAI message: ``content`` is null only when the answer is nothing but tool calls."""
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def chat_completion(
    *,
    completion_id: str,
    created: int,
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    """A whole non-streaming ``chat.completion`` with one choice."""
    doc: dict[str, Any] = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
    }
    if usage is not None:
        doc["usage"] = usage
    return doc


class ChunkFactory:
    """Makes ``chat.completion.chunk`` dicts for one stream."""

    __slots__ = ("completion_id", "created", "model")

    def __init__(self, completion_id: str, created: int, model: str) -> None:
        self.completion_id = completion_id
        self.created = created
        self.model = model

    def chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }

    def role(self) -> dict[str, Any]:
        """The first chunk of every stream."""
        return self.chunk({"role": "assistant", "content": ""})

    def text(self, text: str) -> dict[str, Any]:
        return self.chunk({"content": text})

    def reasoning(self, text: str) -> dict[str, Any]:
        """Reasoning/thinking text, in the ``reasoning_content`` field clients such as Cline read."""
        return self.chunk({"reasoning_content": text})

    def tool_call_start(self, index: int, call_id: str, name: str, arguments: str = "") -> dict[str, Any]:
        call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        return self.chunk({"tool_calls": [call]})

    def tool_call_args(self, index: int, fragment: str) -> dict[str, Any]:
        return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def finish(self, reason: str) -> dict[str, Any]:
        return self.chunk({}, reason)

    def usage(self, usage: dict[str, Any]) -> dict[str, Any]:
        """The extra last chunk sent when the client asked for ``stream_options.include_usage``."""
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage,
        }
