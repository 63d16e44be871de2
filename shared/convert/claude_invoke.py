"""OpenAI Chat Completions <-> Claude through Bedrock InvokeModel (the Anthropic Messages body).

The request is read once by :mod:`shared.convert.claude_common` and sent as Anthropic
blocks, ``cache_control`` included (InvokeModel honours prompt caching). What both Claude
paths share on the way back (stop reasons, in-band errors, usage, the stream bookkeeping)
is in :mod:`shared.convert.claude_answers`.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments
from shared.capabilities import Capabilities
from shared.convert.claude_answers import (
    StreamState,
    anthropic_error,
    finish_reason,
    obj,
    openai_usage,
    raise_exception_event,
    tool_call,
    usage,
)
from shared.convert.claude_common import ANTHROPIC_VERSION, read_request
from shared.errors import UpstreamProtocolError
from shared.openai_chunks import assistant_message, chat_completion
from shared.streams import Decoder, SSEJsonDecoder, parse_json_or_literal

__all__ = [
    "ClaudeInvokeStream",
    "claude_invoke_to_openai",
    "openai_to_claude_invoke",
    "stream_decoder",
]

_INVOKE_USAGE = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


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
        raise anthropic_error(resp)
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


class ClaudeInvokeStream(StreamState):
    """Anthropic stream events (``message_start`` ... ``message_stop``) -> OpenAI chunks."""

    def feed(self, event: Any) -> list[dict[str, Any]]:
        event = obj(event, "a stream event")
        kind = event.get("type")
        if kind == "error":
            raise anthropic_error(event)
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
