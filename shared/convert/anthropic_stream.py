"""Anthropic Messages streams: OpenAI chunks -> Anthropic events, Bedrock events relayed, SSE framing.

The anthropic SDK and Claude Code rebuild the message from the event sequence and
are strict about it: ``message_start`` first, blocks opened and closed one at a time
with rising indices, ``message_delta`` with the stop reason and usage, then
``message_stop``. :class:`OpenAIToAnthropicStream` produces that sequence from the
hub's chunks (so every non-Claude model streams tool calls, thinking and usage), and
:class:`BedrockEventsPassthrough` forwards Claude's own events, checking only what
Bedrock adds or may break. Both are translator stages for ``shared.streams.TranslatingRelay``:
a stream that ends before its terminal event raises from ``finish()`` so the relay
writes an in-band ``error`` event (:func:`anthropic_error_frame`) instead of letting a
cut-off answer look complete. The stop-reason and usage mappings live here and are
shared with the whole-answer converter in :mod:`anthropic_messages`, so a streamed and
a non-streamed answer from the same upstream report the same stop reason and counts.
"""

from __future__ import annotations

from typing import Any

from shared.convert.claude_answers import obj, raise_exception_event, stream_error
from shared.errors import ProxyError, UpstreamError, UpstreamProtocolError, UpstreamStatusError
from shared.sse import encode_event

__all__ = [
    "BedrockEventsPassthrough",
    "OpenAIToAnthropicStream",
    "anthropic_error_frame",
    "anthropic_sse",
    "anthropic_usage",
    "stop_reason",
]

_METRICS = "amazon-bedrock-invocationMetrics"
_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use"}
_STOP["content_filter"] = "refusal"  # the Anthropic name for an answer the model (or a filter) declined


def anthropic_sse(event: dict[str, Any]) -> bytes:
    """One named SSE frame; the event name is the event's ``type``, as the Anthropic API sends it."""
    return encode_event(str(event["type"]), event)


def anthropic_error_frame(exc: ProxyError) -> bytes:
    """The in-band ``error`` event the anthropic SDK raises on once a stream has started."""
    return anthropic_sse({"type": "error", "error": {"type": exc.anthropic_type, "message": exc.message}})


def stop_reason(finish_reason: Any, *, used_tools: bool) -> str:
    """OpenAI ``finish_reason`` -> Anthropic ``stop_reason``; agents loop on ``tool_use``, so calls win."""
    reason = _STOP.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"
    return "tool_use" if used_tools and reason == "end_turn" else reason


def anthropic_usage(usage: Any) -> dict[str, int]:
    """OpenAI counts cached tokens inside ``prompt_tokens``; Anthropic reports them apart."""
    doc = usage if isinstance(usage, dict) else {}
    details = doc.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return {
        "input_tokens": max(_count(doc.get("prompt_tokens")) - cached, 0),
        "output_tokens": _count(doc.get("completion_tokens")),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _openai_error(err: Any) -> UpstreamError:
    """An ``{"error": {...}}`` chunk; a rate limit stays a 429 so the client backs off."""
    detail = err if isinstance(err, dict) else {"message": err}
    message = f"upstream error: {detail.get('message') or '(no message)'}"
    if "rate_limit" in str(detail.get("type")) or str(detail.get("code")) in ("429", "rate_limit_exceeded"):
        return UpstreamStatusError(message, upstream_status=429, status=429)
    return UpstreamError(message)


class OpenAIToAnthropicStream:
    """``chat.completion.chunk`` dicts -> Anthropic stream events, for models reached through the hub.

    Blocks are opened lazily and closed when another kind starts or the finish reason
    arrives, so they never overlap. ``message_delta`` and ``message_stop`` come from
    :meth:`finish`, because OpenAI sends the usage chunk after the finish chunk.
    """

    __slots__ = ("_id", "_model", "_started", "_open", "_index", "_tool", "_tools_seen", "_finish", "_usage", "_done")

    def __init__(self, *, message_id: str, model: str) -> None:
        self._id = message_id
        self._model = model
        self._started = False
        self._open: str | None = None  # kind of the open block: text, thinking or tool_use
        self._index = -1  # index of the last block opened
        self._tool: tuple[Any, str] | None = None  # (OpenAI tool-call index, id) of the open tool block
        self._tools_seen: set[Any] = set()
        self._finish: str | None = None
        self._usage: dict[str, int] = anthropic_usage(None)
        self._done = False

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        if not isinstance(chunk, dict):
            raise UpstreamProtocolError("upstream stream sent a chunk that is not an object")
        if chunk.get("error") is not None:
            raise _openai_error(chunk["error"])
        out = self._start()
        choices = chunk.get("choices")
        if choices is None:
            choices = []  # Azure's usage chunk and prompt-filter preamble carry ``[]``; null means the same
        elif not isinstance(choices, list):
            raise UpstreamProtocolError("upstream stream sent a chunk whose choices is not a list")
        for choice in choices if self._finish is None else []:  # nothing after the finish belongs to the answer
            if not isinstance(choice, dict):
                raise UpstreamProtocolError("upstream stream sent a choice that is not an object")
            if choice.get("index", 0) != 0:
                continue
            out += self._delta(choice.get("delta"))
            if choice.get("finish_reason") is not None:
                out += self._close()
                self._finish = str(choice["finish_reason"])
        if isinstance(chunk.get("usage"), dict):
            self._usage = anthropic_usage(chunk["usage"])
        return out

    def finish(self) -> list[dict[str, Any]]:
        if self._finish is None:
            raise UpstreamProtocolError("the upstream stream ended before its finish reason; the answer is incomplete")
        if self._done:
            return []
        self._done = True
        reason = stop_reason(self._finish, used_tools=bool(self._tools_seen))
        usage = {k: self._usage[k] for k in ("input_tokens", "output_tokens", "cache_read_input_tokens")}
        return [
            *self._start(),
            {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None}, "usage": usage},
            {"type": "message_stop"},
        ]

    def _start(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {"id": self._id, "type": "message", "role": "assistant", "model": self._model}
        message |= {"content": [], "stop_reason": None, "stop_sequence": None}
        message["usage"] = {"input_tokens": 0, "output_tokens": 0}
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def _delta(self, delta: Any) -> list[dict[str, Any]]:
        if delta is None:
            return []
        if not isinstance(delta, dict):
            raise UpstreamProtocolError("upstream stream sent a delta that is not an object")
        out = []
        if isinstance(thought := delta.get("reasoning_content"), str) and thought:
            out += self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out.append(self._event({"type": "thinking_delta", "thinking": thought}))
        for key in ("content", "refusal"):
            if isinstance(text := delta.get(key), str) and text:
                out += self._block("text", {"type": "text", "text": ""})
                out.append(self._event({"type": "text_delta", "text": text}))
        calls = delta.get("tool_calls")
        if calls is not None and not isinstance(calls, list):
            raise UpstreamProtocolError("upstream stream sent tool_calls that is not a list")
        for call in calls or []:
            out += self._tool_call(call)
        return out

    def _tool_call(self, call: Any) -> list[dict[str, Any]]:
        """A new block when the tool-call index (or id) changes; argument fragments stream as they come."""
        if not isinstance(call, dict):
            raise UpstreamProtocolError("upstream stream sent a tool call that is not an object")
        fn: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else {}
        index, call_id, out = call.get("index", 0), call.get("id"), []
        current = self._tool if self._open == "tool_use" else None
        if current is None or current[0] != index or (isinstance(call_id, str) and call_id and call_id != current[1]):
            name = fn.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                what = "interleaves fragments of tool calls" if index in self._tools_seen else "starts a tool call"
                raise UpstreamProtocolError(f"upstream stream {what} without a string id and function name")
            self._tools_seen.add(index)
            out += self._block("tool_use", {"type": "tool_use", "id": call_id, "name": name, "input": {}}, new=True)
            self._tool = (index, call_id)
        if isinstance(args := fn.get("arguments"), str) and args:
            out.append(self._event({"type": "input_json_delta", "partial_json": args}))
        return out

    def _block(self, kind: str, start: dict[str, Any], *, new: bool = False) -> list[dict[str, Any]]:
        if self._open == kind and not new:
            return []
        out = self._close()
        self._open, self._index = kind, self._index + 1
        out.append({"type": "content_block_start", "index": self._index, "content_block": start})
        return out

    def _close(self) -> list[dict[str, Any]]:
        if self._open is None:
            return []
        # Thinking from other models has no signature; the SDK still expects the delta before the stop.
        out = [self._event({"type": "signature_delta", "signature": ""})] if self._open == "thinking" else []
        out.append({"type": "content_block_stop", "index": self._index})
        self._open = None
        return out

    def _event(self, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": self._index, "delta": delta}


class BedrockEventsPassthrough:
    """Claude's own stream events from Bedrock, forwarded as they are with three exceptions.

    ``message_stop`` loses Bedrock's ``amazon-bedrock-invocationMetrics`` (not part of
    the Anthropic API); ``error`` events and Bedrock exception frames raise the matching
    :class:`UpstreamError`; nothing after ``message_stop`` is forwarded. With ``model``
    given, ``message_start`` carries the name the client asked for, as every other answer
    of the proxy does, instead of Bedrock's versioned id.
    """

    __slots__ = ("_model", "_stopped")

    def __init__(self, *, model: str | None = None) -> None:
        self._model = model
        self._stopped = False

    def feed(self, event: Any) -> list[dict[str, Any]]:
        event = obj(event, "a stream event")
        if self._stopped:
            return []
        raise_exception_event(event)
        kind = event.get("type")
        if kind == "error":
            err = event.get("error")
            raise stream_error(*((err.get("type"), err.get("message")) if isinstance(err, dict) else (err, None)))
        if not isinstance(kind, str):
            raise UpstreamProtocolError("Claude stream sent an event without a type")
        if kind == "message_stop":
            self._stopped = True
            return [{k: v for k, v in event.items() if k != _METRICS}]
        if kind == "message_start" and self._model is not None:
            message = obj(event.get("message"), "message_start.message")
            return [{**event, "message": {**message, "model": self._model}}]
        return [event]

    def finish(self) -> list[dict[str, Any]]:
        if not self._stopped:
            raise UpstreamProtocolError("Claude stream ended before message_stop; the answer is incomplete")
        return []
