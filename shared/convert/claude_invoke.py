"""OpenAI Chat Completions <-> Claude through Bedrock InvokeModel (the Anthropic Messages body).

The request is read once by :mod:`shared.convert.claude_common` and sent as Anthropic
blocks, ``cache_control`` included (InvokeModel honours prompt caching). This module
also owns what both Claude paths need on the way back — stop-reason mapping, in-band
error mapping, usage and :class:`StreamState` — because the Anthropic dialect is the
one the Converse answers are mapped onto, and :mod:`claude_converse` imports them.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments
from shared.capabilities import Capabilities
from shared.convert.claude_common import read_request
from shared.errors import UpstreamProtocolError, UpstreamStatusError
from shared.jsonutil import dumps_str
from shared.openai_chunks import ChunkFactory, chat_completion, make_usage
from shared.streams import Decoder, SSEJsonDecoder, parse_json_or_literal

__all__ = [
    "ANTHROPIC_VERSION",
    "ClaudeInvokeStream",
    "StreamState",
    "assistant_message",
    "claude_invoke_to_openai",
    "finish_reason",
    "obj",
    "openai_to_claude_invoke",
    "openai_usage",
    "raise_exception_event",
    "stream_decoder",
    "stream_error",
    "tool_call",
    "usage",
]

ANTHROPIC_VERSION = "bedrock-2023-05-31"
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
_INVOKE_USAGE = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def finish_reason(stop_reason: Any) -> str:
    """Claude stop reason -> OpenAI ``finish_reason``; a reason added later reads as a normal stop."""
    return _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def stream_error(kind: Any, message: Any) -> UpstreamStatusError:
    """An in-band upstream error (Anthropic ``error`` event, Bedrock exception) as the client's error."""
    upstream, status = _ERRORS.get(str(kind), (500, 502))
    text = message if isinstance(message, str) and message else "(no message)"
    return UpstreamStatusError(f"Claude upstream error ({kind}): {text}", upstream_status=upstream, status=status)


def _anthropic_error(doc: dict[str, Any]) -> UpstreamStatusError:
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


def assistant_message(texts: list[str], reasoning: list[str], calls: list[dict[str, Any]]) -> dict[str, Any]:
    """The OpenAI message: ``content`` is null only when the answer is nothing but tool calls."""
    text = "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """An OpenAI tool call; ``arguments`` is compact JSON text, as OpenAI clients parse it."""
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise UpstreamProtocolError("Claude upstream sent a tool call without a string id and name")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": dumps_str(arguments)}}


def openai_to_claude_invoke(
    body: dict[str, Any], *, default_max_tokens: int, caps: Capabilities, adjustments: Adjustments | None = None
) -> dict[str, Any]:
    """The InvokeModel body: Anthropic Messages without ``model``/``stream``, which Bedrock refuses."""
    req = read_request(body, default_max_tokens=default_max_tokens, caps=caps, adjustments=adjustments)
    out: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": req.max_tokens}
    if req.system:
        cached = any("cache_control" in b for b in req.system)
        out["system"] = req.system if cached else "\n\n".join(b["text"] for b in req.system)
    out["messages"] = [{"role": t["role"], "content": [_block(b) for b in t["content"]]} for t in req.turns]
    for key, value in (("temperature", req.temperature), ("top_p", req.top_p), ("stop_sequences", req.stop)):
        if value is not None:
            out[key] = value
    if req.tools:
        out["tools"] = req.tools
        choice = req.tool_choice
        if not req.parallel_tool_calls and (choice is None or choice["type"] != "none"):
            choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
        if choice is not None:
            out["tool_choice"] = choice
    if req.thinking is not None:
        out["thinking"] = req.thinking
    if req.output_config is not None:
        out["output_config"] = req.output_config
    return out


def _block(block: dict[str, Any]) -> dict[str, Any]:
    """Blocks go out as read; an empty tool result leaves out its optional ``content``.

    Bedrock refuses blank text, so an empty string is not risked where nothing will do.
    """
    if block["type"] == "tool_result" and not block["content"]:
        return {"type": "tool_result", "tool_use_id": block["tool_use_id"]}
    return block


def claude_invoke_to_openai(resp: dict[str, Any], *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """An Anthropic ``message`` -> ``chat.completion`` named after the model the client asked for."""
    resp = obj(resp, "the answer")
    if resp.get("type") == "error":
        raise _anthropic_error(resp)
    content = resp.get("content")
    if not isinstance(content, list):
        raise UpstreamProtocolError("Claude upstream sent a malformed answer: content is not a list")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        kind = obj(block, f"content[{i}]").get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            reasoning.append(block["thinking"])
        elif kind == "tool_use":
            calls.append(tool_call(block.get("id"), block.get("name"), block.get("input", {})))
        # redacted_thinking and server-side blocks carry nothing an OpenAI client can use.
    tokens = usage(resp.get("usage"), _INVOKE_USAGE)
    return chat_completion(
        completion_id=completion_id,
        created=created,
        model=model,
        message=assistant_message(texts, reasoning, calls),
        finish_reason=finish_reason(resp.get("stop_reason")),
        usage=openai_usage(tokens) if "usage" in resp else None,
    )


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


class ClaudeInvokeStream(StreamState):
    """Anthropic stream events (``message_start`` ... ``message_stop``) -> OpenAI chunks."""

    def feed(self, event: Any) -> list[dict[str, Any]]:
        event = obj(event, "a stream event")
        kind = event.get("type")
        if kind == "error":
            raise _anthropic_error(event)
        raise_exception_event(event)
        out = self._begin()
        if self._stopped:
            return out  # nothing after message_stop belongs to the answer
        if kind == "message_start":
            self._tokens.update(usage(obj(event.get("message"), "message_start.message").get("usage"), _INVOKE_USAGE))
        elif kind == "content_block_start":
            block = obj(event.get("content_block"), "content_block_start.content_block")
            if block.get("type") == "tool_use":
                out += self._tool_start(event.get("index"), block.get("id"), block.get("name"))
            else:
                out += self._text(block.get("text")) + self._text(block.get("thinking"), reasoning=True)
        elif kind == "content_block_delta":
            delta = obj(event.get("delta"), "content_block_delta.delta")
            if delta.get("type") == "input_json_delta":
                out += self._tool_args(event.get("index"), delta.get("partial_json"))
            elif delta.get("type") == "text_delta":
                out += self._text(delta.get("text"))
            elif delta.get("type") == "thinking_delta":
                out += self._text(delta.get("thinking"), reasoning=True)
            # signature_delta and citations carry nothing for an OpenAI client.
        elif kind == "content_block_stop":
            out += self._tool_stop(event.get("index"))
        elif kind == "message_delta":
            delta = obj(event.get("delta"), "message_delta.delta")
            self._stop_reason = delta.get("stop_reason") or self._stop_reason
            self._tokens.update(usage(event.get("usage"), _INVOKE_USAGE))
        elif kind == "message_stop":
            self._stopped = True
        return out  # ping and event types added later are ignored


def stream_decoder() -> Decoder:
    """SSE frames with one JSON event each; an ``event:`` line before the data is redundant."""
    return SSEJsonDecoder(parse_json_or_literal)
