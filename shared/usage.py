"""Token usage as every API reports it, read into one shape: what teams pay for, per model.

OpenAI Chat Completions (``prompt_tokens``, ``completion_tokens``,
``prompt_tokens_details.cached_tokens``), Anthropic Messages (``input_tokens``,
``output_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens`` — the
input count there excludes the cached parts) and the Responses API (``input_tokens``,
``output_tokens``, ``input_tokens_details.cached_tokens``) all become :class:`Usage`:
``input`` counts every prompt token, cached ones included; ``cached_input`` the part read
from a cache.

Answers are read where the proxy already holds them: a stream's events as the relay
encodes them (:class:`UsageMeter`), a complete answer's bytes once, at the end
(:func:`usage_in_answer`, which looks only at the trailing ``"usage"`` object instead of
parsing the whole body — the OpenAI passthrough never parses answers otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Usage", "UsageMeter", "read_usage", "usage_in_answer"]


@dataclass(frozen=True, slots=True)
class Usage:
    input: int = 0
    output: int = 0
    cached_input: int = 0


def _count(doc: Mapping[str, Any], key: str) -> int:
    value = doc.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def read_usage(doc: Any) -> Usage | None:
    """A usage object of any of the three APIs (None: not one)."""
    if not isinstance(doc, Mapping):
        return None
    if "prompt_tokens" in doc:  # OpenAI Chat Completions and embeddings
        details = doc.get("prompt_tokens_details")
        cached = _count(details, "cached_tokens") if isinstance(details, Mapping) else 0
        return Usage(_count(doc, "prompt_tokens"), _count(doc, "completion_tokens"), cached)
    if "input_tokens" in doc or "output_tokens" in doc:
        details = doc.get("input_tokens_details")
        if isinstance(details, Mapping):  # Responses: input_tokens includes the cached ones
            return Usage(_count(doc, "input_tokens"), _count(doc, "output_tokens"), _count(details, "cached_tokens"))
        read = _count(doc, "cache_read_input_tokens")  # Anthropic: input_tokens excludes them
        created = _count(doc, "cache_creation_input_tokens")
        return Usage(_count(doc, "input_tokens") + read + created, _count(doc, "output_tokens"), read)
    return None


_KEY = b'"usage":'
_DECODER = json.JSONDecoder()


def usage_in_answer(body: bytes) -> Usage | None:
    """The usage of a complete JSON answer, from its last ``"usage"`` object.

    The three APIs put usage after the content, and a ``"usage":`` inside a string would be
    escaped (``\\"usage\\":``), so the last match is the answer's own. Only the tail from
    there is decoded (the stdlib decoder's ``raw_decode`` stops at the object's end), so the
    cost does not grow with the answer.
    """
    at = body.rfind(_KEY)
    if at < 0:
        return None
    try:
        tail = body[at + len(_KEY) :].decode()
        doc, _ = _DECODER.raw_decode(tail, len(tail) - len(tail.lstrip()))
    except (UnicodeDecodeError, ValueError):
        return None
    return read_usage(doc)


class UsageMeter:
    """Usage seen in a stream's events; each count keeps its latest non-zero value.

    Anthropic streams report input tokens in ``message_start`` and the output count in
    ``message_delta``; OpenAI streams once at the end; the Responses API in
    ``response.completed``. Keeping the latest non-zero value of each count merges them all.
    """

    __slots__ = ("input", "output", "cached_input", "seen")

    def __init__(self) -> None:
        self.input = self.output = self.cached_input = 0
        self.seen = False

    def add(self, usage: Usage | None) -> None:
        if usage is None:
            return
        self.seen = True
        self.input = usage.input or self.input
        self.output = usage.output or self.output
        self.cached_input = usage.cached_input or self.cached_input

    def total(self) -> Usage | None:
        return Usage(self.input, self.output, self.cached_input) if self.seen else None

    def openai_chunk(self, chunk: Mapping[str, Any]) -> None:
        """A ``chat.completion.chunk`` (usage in the last one, when there is one)."""
        if "usage" in chunk:
            self.add(read_usage(chunk["usage"]))

    def anthropic_event(self, event: Mapping[str, Any]) -> None:
        """``message_start`` (``message.usage``) and ``message_delta`` (``usage``)."""
        kind = event.get("type")
        if kind == "message_delta":
            self.add(read_usage(event.get("usage")))
        elif kind == "message_start":
            message = event.get("message")
            self.add(read_usage(message.get("usage") if isinstance(message, Mapping) else None))

    def responses_event(self, event: Mapping[str, Any]) -> None:
        """``response.completed`` / ``response.incomplete`` carry the response with its usage."""
        response = event.get("response")
        if isinstance(response, Mapping) and response.get("usage") is not None:
            self.add(read_usage(response["usage"]))
