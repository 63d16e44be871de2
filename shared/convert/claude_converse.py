"""OpenAI Chat Completions <-> Claude through the Bedrock Converse API.

The request is read by :mod:`shared.convert.claude_common` exactly as for InvokeModel
and only the block names change, so both paths refuse and accept the same requests.
Converse differs where it bites: any block carrying ``cache_control`` is refused with
a bare ``400 {}``, so none is ever sent; it has no ``tool_choice: none``; it refuses
``toolUse``/``toolResult`` history without a ``toolConfig``; its ``metadata`` (usage)
arrives after ``messageStop``; and some deployments stream Python-literal frames.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments
from shared.capabilities import Capabilities
from shared.convert.claude_answers import (
    StreamState,
    finish_reason,
    obj,
    openai_usage,
    raise_exception_event,
    tool_call,
    usage,
)
from shared.convert.claude_common import IMAGE_TYPES, read_request
from shared.errors import UpstreamProtocolError
from shared.jsonutil import loads
from shared.openai_chunks import assistant_message, chat_completion
from shared.streams import Decoder, SSEJsonDecoder, parse_json_or_literal

__all__ = ["ClaudeConverseStream", "claude_converse_to_openai", "openai_to_claude_converse", "stream_decoder"]

_CONVERSE_USAGE = ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}
# Converse refuses an empty text block, and a tool may well print nothing.
EMPTY_TOOL_RESULT = "(the tool returned no output)"


def openai_to_claude_converse(
    body: dict[str, Any], *, default_max_tokens: int, caps: Capabilities, adjustments: Adjustments | None = None
) -> dict[str, Any]:
    """The Converse body: ``messages``, ``system``, ``inferenceConfig``, ``toolConfig``, thinking."""
    req = read_request(body, default_max_tokens=default_max_tokens, caps=caps, adjustments=adjustments)
    out: dict[str, Any] = {"messages": [{"role": t["role"], "content": _blocks(t["content"])} for t in req.turns]}
    if req.system:
        out["system"] = [{"text": b["text"]} for b in req.system]  # never cache_control
    inference: dict[str, Any] = {"maxTokens": req.max_tokens}
    for key, value in (("temperature", req.temperature), ("topP", req.top_p), ("stopSequences", req.stop)):
        if value is not None:
            inference[key] = value
    out["inferenceConfig"] = inference
    if tool_config := _tool_config(req.tools, req.tool_choice, req.turns):
        out["toolConfig"] = tool_config
    # Thinking and effort are Anthropic fields Converse passes through to the model.
    extra = {k: v for k, v in (("thinking", req.thinking), ("output_config", req.output_config)) if v is not None}
    if extra:
        out["additionalModelRequestFields"] = extra
    return out


def _tool_config(
    tools: list[dict[str, Any]], choice: dict[str, Any] | None, turns: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """``toolConfig``; Converse has no "none", so that choice withholds the tools instead.

    History with tool calls needs a ``toolConfig`` all the same, so then the tools stay
    (without a choice); a client that sent history but no tools gets placeholders named
    after the tools the history used.
    """
    used = sorted({b["name"] for t in turns for b in t["content"] if b["type"] == "tool_use"})
    if choice is not None and choice["type"] == "none":
        choice = None
        tools = tools if used else []
    if not tools and used:
        note = "A tool used earlier in this conversation; it is not available now."
        tools = [{"name": name, "description": note, "input_schema": _EMPTY_SCHEMA} for name in used]
    if not tools:
        return None
    specs = []
    for tool in tools:
        spec = {"name": tool["name"], "description": tool.get("description")}
        spec = {k: v for k, v in spec.items() if v is not None}
        specs.append({"toolSpec": {**spec, "inputSchema": {"json": tool["input_schema"]}}})
    config: dict[str, Any] = {"tools": specs}
    if choice is not None:
        kind = choice["type"]
        config["toolChoice"] = {"tool": {"name": choice["name"]}} if kind == "tool" else {kind: {}}
    return config


def _blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for block in blocks:
        kind = block["type"]
        if kind == "text":
            out.append({"text": block["text"]})
        elif kind == "image":
            source = block["source"]
            image = {"format": IMAGE_TYPES[source["media_type"]], "source": {"bytes": source["data"]}}
            out.append({"image": image})
        elif kind == "tool_use":
            out.append({"toolUse": {"toolUseId": block["id"], "name": block["name"], "input": block["input"]}})
        else:
            result = {"toolUseId": block["tool_use_id"], "content": [_tool_output(block["content"])]}
            out.append({"toolResult": {**result, "status": "error"} if block.get("is_error") else result})
    return out


def _tool_output(text: str) -> dict[str, Any]:
    """A tool's output as ``{"json": object}`` when it is one (the model reads it natively), else text."""
    if text.lstrip().startswith("{"):
        try:
            value = loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return {"json": value}
    return {"text": text if text.strip() else EMPTY_TOOL_RESULT}


def claude_converse_to_openai(resp: dict[str, Any], *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A Converse answer -> ``chat.completion`` named after the model the client asked for."""
    resp = obj(resp, "the answer")
    raise_exception_event(resp)
    content = obj(obj(resp.get("output"), "output").get("message"), "output.message").get("content")
    if not isinstance(content, list):
        raise UpstreamProtocolError("Claude upstream sent a malformed answer: output.message.content is not a list")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        block = obj(block, f"output.message.content[{i}]")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif "toolUse" in block:
            use = obj(block["toolUse"], f"output.message.content[{i}].toolUse")
            calls.append(tool_call(use.get("toolUseId"), use.get("name"), use.get("input", {})))
        elif "reasoningContent" in block:
            text = obj(block["reasoningContent"], "reasoningContent").get("reasoningText")
            if isinstance(text, dict) and isinstance(text.get("text"), str):
                reasoning.append(text["text"])  # redactedContent carries nothing readable
    return chat_completion(
        completion_id=completion_id,
        created=created,
        model=model,
        message=assistant_message(texts, reasoning, calls),
        finish_reason=finish_reason(resp.get("stopReason")),
        usage=openai_usage(usage(resp["usage"], _CONVERSE_USAGE)) if "usage" in resp else None,
    )


class ClaudeConverseStream(StreamState):
    """Converse stream events (one top-level key each) -> OpenAI chunks.

    ``metadata`` (usage) follows ``messageStop``, so the finish chunk waits for
    :meth:`finish`, when everything is known, and is sent exactly once.
    """

    def feed(self, event: Any) -> list[dict[str, Any]]:
        event = obj(event, "a stream event")
        raise_exception_event(event)
        out = self._begin()
        if "contentBlockStart" in event:
            start = obj(event["contentBlockStart"], "contentBlockStart")
            use = obj(start.get("start") or {}, "contentBlockStart.start").get("toolUse")
            if use is not None:
                use = obj(use, "contentBlockStart.start.toolUse")
                out += self._tool_start(start.get("contentBlockIndex"), use.get("toolUseId"), use.get("name"))
        elif "contentBlockDelta" in event:
            body = obj(event["contentBlockDelta"], "contentBlockDelta")
            delta = obj(body.get("delta"), "contentBlockDelta.delta")
            if "toolUse" in delta:
                out += self._tool_args(body.get("contentBlockIndex"), obj(delta["toolUse"], "toolUse").get("input"))
            elif "text" in delta:
                out += self._text(delta["text"])
            elif "reasoningContent" in delta:
                out += self._text(obj(delta["reasoningContent"], "reasoningContent").get("text"), reasoning=True)
        elif "contentBlockStop" in event:
            out += self._tool_stop(obj(event["contentBlockStop"], "contentBlockStop").get("contentBlockIndex"))
        elif "messageStop" in event:
            self._stop_reason = obj(event["messageStop"], "messageStop").get("stopReason")
            self._stopped = True
        elif "metadata" in event:
            self._tokens.update(usage(obj(event["metadata"], "metadata").get("usage"), _CONVERSE_USAGE))
        return out  # messageStart only triggers the role chunk; unknown events are ignored


def stream_decoder() -> Decoder:
    """SSE ``data:`` frames holding JSON or, on some deployments, a Python-literal dict."""
    return SSEJsonDecoder(parse_json_or_literal)
