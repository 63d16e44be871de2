"""Reading Claude's answers the OpenAI way: what InvokeModel and Converse answers share.

Both Claude paths map their answers onto the same OpenAI pieces — stop reason to
``finish_reason``, in-band errors to the client's error, token counts to OpenAI usage,
tool calls, and the per-stream bookkeeping of :class:`StreamState` — so those live here,
once, and :mod:`claude_invoke`, :mod:`claude_converse` and :mod:`anthropic_stream`
import them. Requests are read in :mod:`claude_common`.
"""

from __future__ import annotations

from typing import Any

from shared.errors import UpstreamProtocolError, UpstreamStatusError
from shared.jsonutil import dumps_str
from shared.openai_chunks import ChunkFactory, make_usage

__all__ = [
    "StreamState",
    "anthropic_error",
    "finish_reason",
    "obj",
    "openai_usage",
    "raise_exception_event",
    "stream_error",
    "tool_call",
    "usage",
]

_FINISH = {
    **dict.fromkeys(("end_turn", "stop_sequence", "pause_turn"), "stop"),
    **dict.fromkeys(("max_tokens", "model_context_window_exceeded"), "length"),
    **dict.fromkeys(("refusal", "guardrail_intervened", "content_filtered"), "content_filter"),
    "tool_use": "tool_calls",
}
# error kind -> (the HTTP status upstream would have used, the status the client gets)
_ERRORS = {
    **dict.fromkeys(("rate_limit_error", "throttlingException"), (429, 429)),
    **dict.fromkeys(("invalid_request_error", "validationException"), (400, 400)),
    "overloaded_error": (529, 503),
    "serviceUnavailableException": (503, 503),
    "request_too_large": (413, 413),
}
_EXCEPTIONS = (
    *("internalServerException", "modelStreamErrorException", "throttlingException"),
    *("validationException", "serviceUnavailableException", "modelTimeoutException"),
)


def finish_reason(stop_reason: Any) -> str:
    """Claude stop reason -> OpenAI ``finish_reason``; a reason added later reads as a normal stop."""
    return _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stream_error(kind: Any, message: Any) -> UpstreamStatusError:
    """An in-band upstream error (Anthropic ``error`` event, Bedrock exception) as the client's error."""
    upstream, status = _ERRORS.get(str(kind), (500, 502))
    text = message if isinstance(message, str) and message else "(no message)"
    return UpstreamStatusError(f"Claude upstream error ({kind}): {text}", upstream_status=upstream, status=status)


def anthropic_error(doc: dict[str, Any]) -> UpstreamStatusError:
    """An Anthropic ``{"type": "error", "error": {...}}`` document (whole answer or stream event)."""
    err = doc.get("error")
    return stream_error(err.get("type"), err.get("message")) if isinstance(err, dict) else stream_error(err, None)


def raise_exception_event(event: dict[str, Any]) -> None:
    """Bedrock reports mid-stream failures as ``{"<name>Exception": {"message": ...}}`` frames."""
    for key in _EXCEPTIONS:
        if key in event:
            detail = event[key]
            raise stream_error(key, detail.get("message") if isinstance(detail, dict) else detail)


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is an object, else the upstream broke its own format."""
    if not isinstance(value, dict):
        raise UpstreamProtocolError(f"Claude upstream sent a malformed answer: {what} is not an object")
    return value


def usage(doc: Any, keys: tuple[str, str, str, str]) -> dict[str, int]:
    """Token counts (input, output, cache read, cache write) from an upstream usage object."""
    counts = {}
    for name, key in zip(("input", "output", "cache_read", "cache_write"), keys, strict=True):
        value = doc.get(key) if isinstance(doc, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            counts[name] = value
    return counts


def openai_usage(tokens: dict[str, int]) -> dict[str, Any]:
    """Cache reads and cache writes are prompt tokens too; OpenAI reports reads as ``cached_tokens``."""
    read = tokens.get("cache_read", 0)
    prompt = tokens.get("input", 0) + read + tokens.get("cache_write", 0)
    return make_usage(prompt, tokens.get("output", 0), cached=read)


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """An OpenAI tool call; ``arguments`` is compact JSON text, as OpenAI clients parse it."""
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise UpstreamProtocolError("Claude upstream sent a tool call without a string id and name")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": dumps_str(arguments)}}


class StreamState:
    """Per-stream bookkeeping both Claude translators share.

    The role chunk goes out once, before anything else; Claude block indices map to
    OpenAI tool-call indices counted from 0; the stop reason is held so that the finish
    chunk (then the usage chunk) comes exactly once, last, from :meth:`finish`.
    """

    def __init__(self, chunks: ChunkFactory, *, include_usage: bool) -> None:
        self._chunks = chunks
        self._include_usage = include_usage
        self._started = self._stopped = self._finished = False
        self._tools: dict[Any, int] = {}  # upstream block index -> OpenAI tool-call index
        self._has_args: set[int] = set()
        self._stop_reason: Any = None
        self._tokens: dict[str, int] = {}

    def _begin(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        return [self._chunks.role()]

    def _tool_start(self, block: Any, call_id: Any, name: Any) -> list[dict[str, Any]]:
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise UpstreamProtocolError("Claude stream: a tool call without a string id and name")
        index = self._tools[block] = len(self._tools)
        return [self._chunks.tool_call_start(index, call_id, name)]

    def _tool_args(self, block: Any, fragment: Any) -> list[dict[str, Any]]:
        """Forward each JSON fragment as it comes: clients show tool arguments while they stream."""
        if block not in self._tools or not isinstance(fragment, str):
            raise UpstreamProtocolError(f"Claude stream: tool input for block {block!r}, which is no tool call")
        if not fragment:
            return []
        self._has_args.add(self._tools[block])
        return [self._chunks.tool_call_args(self._tools[block], fragment)]

    def _tool_stop(self, block: Any) -> list[dict[str, Any]]:
        """A tool without parameters may stream no input at all; clients still need valid JSON."""
        index = self._tools.get(block)
        if index is None or index in self._has_args:
            return []
        self._has_args.add(index)
        return [self._chunks.tool_call_args(index, "{}")]

    def _text(self, text: Any, *, reasoning: bool = False) -> list[dict[str, Any]]:
        if not isinstance(text, str) or not text:
            return []  # no empty content chunks
        return [self._chunks.reasoning(text) if reasoning else self._chunks.text(text)]

    def finish(self) -> list[dict[str, Any]]:
        """The finish chunk and the optional usage chunk; a stream cut short must not look complete."""
        if self._finished:
            return []
        if not self._stopped:
            raise UpstreamProtocolError("Claude stream ended before its stop event; the answer is incomplete")
        self._finished = True
        out = self._begin()
        out.append(self._chunks.finish(finish_reason(self._stop_reason)))
        if self._include_usage:
            out.append(self._chunks.usage(openai_usage(self._tokens)))
        return out
