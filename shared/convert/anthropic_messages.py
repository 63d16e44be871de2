"""Anthropic Messages API <-> the OpenAI chat hub, for models that are not Claude.

Claude models get a ``/v1/messages`` body almost as it is (:mod:`bedrock_sanitize`);
every other model is reached through the OpenAI chat converters, so the request
becomes an OpenAI chat body here and the ``chat.completion`` an Anthropic ``message``.
The checks every Messages path shares (messages, system, max_tokens, the client's own
tools) live here too, so sanitiser, converter and token estimate refuse the same
bodies with the same words.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments, dropped
from shared.capabilities import ADAPTIVE, BUDGET
from shared.convert.anthropic_stream import anthropic_usage, stop_reason
from shared.convert.claude_fit import effort_for_budget, read_thinking
from shared.errors import InvalidRequest, UpstreamError, UpstreamProtocolError
from shared.jsonutil import dumps_str, loads

__all__ = [
    "anthropic_to_openai_chat",
    "block_list",
    "check_messages",
    "check_stop_sequences",
    "client_tools",
    "openai_chat_to_anthropic",
    "require_max_tokens",
    "system_texts",
    "tool_choice",
]

_ROLES = ("user", "assistant", "system")
_CHOICES = {"auto": "auto", "any": "required", "none": "none", "tool": "function"}
_IMAGE_NOTE = "[an image from the tool result was left out: this model reads images in user messages only]"


def block_list(content: Any, where: str) -> list[dict[str, Any]]:
    """Message content as typed blocks (a string is one text block); each block is checked once here."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: must be a string or a list of content blocks", param=where)
    for j, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise InvalidRequest(f"{where}[{j}]: each content block must be an object with a 'type'", param=where)
        if block["type"] == "text" and not isinstance(block.get("text"), str):
            raise InvalidRequest(f"{where}[{j}].text: must be a string", param=where)
    return content


def check_messages(messages: Any) -> list[dict[str, Any]]:
    """``messages`` must be a non-empty list of objects with a known role and well-formed content."""
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: must be a non-empty list of messages", param="messages")
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise InvalidRequest(f"{where}: must be an object", param=where)
        if msg.get("role") not in _ROLES:
            raise InvalidRequest(f"{where}.role: must be user, assistant or system", param=f"{where}.role")
        block_list(msg.get("content"), f"{where}.content")
    return messages


def system_texts(content: Any, where: str) -> list[dict[str, Any]]:
    """A system prompt (top-level ``system`` or a ``role: system`` message): text blocks only."""
    if content is None:
        return []
    blocks = block_list(content, where)
    for j, block in enumerate(blocks):
        if block["type"] != "text":
            raise InvalidRequest(f"{where}[{j}]: a system prompt holds text blocks only", param=where)
    return blocks


def require_max_tokens(body: dict[str, Any]) -> int:
    """The Messages API has no default output limit, so neither does the proxy."""
    value = body.get("max_tokens")
    if value is None:
        raise InvalidRequest("max_tokens: required", param="max_tokens")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidRequest("max_tokens: must be a positive integer", param="max_tokens")
    return value


def check_stop_sequences(body: dict[str, Any]) -> list[str]:
    """Checked here: a bad value would otherwise surface as an upstream 400 the client cannot read."""
    stop = body.get("stop_sequences")
    if stop is None:
        return []
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise InvalidRequest("stop_sequences: must be a list of strings", param="stop_sequences")
    return list(stop)


def client_tools(body: dict[str, Any], adjustments: Adjustments | None = None) -> list[dict[str, Any]]:
    """The client's own tools; typed ones (``web_search_20250305`` ...) run on Anthropic's servers: left out."""
    tools = body.get("tools")
    if tools is None:
        return []
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise InvalidRequest("tools: must be a list of tool objects", param="tools")
    own = []
    for i, tool in enumerate(tools):
        if tool.get("type") in (None, "custom"):
            own.append((i, tool))
        else:
            dropped(adjustments, "tools", f"tools[{i}]: server tool {tool.get('type')} runs only on Anthropic's side")
    for i, tool in own:
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise InvalidRequest(f"tools[{i}].name: must be a non-empty string", param=f"tools[{i}].name")
        if not isinstance(tool.get("input_schema"), dict):
            raise InvalidRequest(f"tools[{i}].input_schema: must be a JSON schema object", param=f"tools[{i}]")
    return [t for _, t in own]


def tool_choice(body: dict[str, Any], kept: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``tool_choice`` with its known fields only; None when no tool is left or nothing is left to say.

    A choice naming a dropped server tool falls back to ``auto``, keeping
    ``disable_parallel_tool_use`` if it was set.
    """
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if not isinstance(choice, dict) or choice.get("type") not in _CHOICES:
        raise InvalidRequest("tool_choice: type must be auto, any, tool or none", param="tool_choice")
    name = choice.get("name")
    if choice["type"] == "tool" and name not in {t["name"] for t in kept}:
        if name not in {t.get("name") for t in body.get("tools") or []}:
            raise InvalidRequest(f"tool_choice.name: {name!r} is not one of the tools", param="tool_choice")
        if "disable_parallel_tool_use" not in choice:
            return None  # the model chooses, as with no choice at all
        choice = {"type": "auto", "disable_parallel_tool_use": choice["disable_parallel_tool_use"]}
    keys = ("type", "disable_parallel_tool_use", *(("name",) if choice["type"] == "tool" else ()))
    return {k: choice[k] for k in keys if k in choice} if kept else None


def anthropic_to_openai_chat(body: dict[str, Any], adjustments: Adjustments | None = None) -> dict[str, Any]:
    """A Messages body as an OpenAI chat body the chat converters understand (input left alone).

    Thinking becomes ``reasoning_effort`` (a budget by its size, adaptive thinking by its
    ``output_config.effort``, default high), structured output ``response_format``; the
    target's converter then fits both to the model.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    messages = check_messages(body.get("messages"))
    out: dict[str, Any] = {"model": body["model"]} if "model" in body else {}
    chat: list[dict[str, Any]] = []
    if system := _joined(system_texts(body.get("system"), "system")):
        chat.append({"role": "system", "content": system})
    for i, msg in enumerate(messages):
        chat += _chat_messages(msg, f"messages[{i}]")
    if all(m["role"] == "system" for m in chat):
        raise InvalidRequest("messages: at least one user or assistant message with content is required")
    out["messages"] = chat
    out["max_tokens"] = require_max_tokens(body)
    if stop := check_stop_sequences(body):
        out["stop"] = stop
    out |= {key: body[key] for key in ("temperature", "top_p") if body.get(key) is not None}
    _tools(body, out, adjustments)
    intent = read_thinking(body.get("thinking"))
    config = body.get("output_config")
    if config is not None and not isinstance(config, dict):
        raise InvalidRequest("output_config: must be an object", param="output_config")
    config = config or {}
    if intent.mode == BUDGET:
        out["reasoning_effort"] = effort_for_budget(intent.budget or 0)
    elif intent.mode == ADAPTIVE:
        effort = config.get("effort") or "high"
        out["reasoning_effort"] = "high" if effort in ("xhigh", "max") else effort
    fmt = config.get("format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and isinstance(fmt.get("schema"), dict):
        out["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt["schema"]}}
    elif fmt is not None:
        raise InvalidRequest(
            "output_config.format: must be {type: json_schema, schema: {...}}", param="output_config.format"
        )
    for key in ("context_management", "container", "mcp_servers"):
        if key in body:
            dropped(adjustments, key, "Anthropic-only; no equivalent for this model")
    if body.get("stream") is True:  # message_delta reports usage at the end, so ask for it
        out |= {"stream": True, "stream_options": {"include_usage": True}}
    return out


def _joined(blocks: list[dict[str, Any]]) -> str:
    return "\n\n".join(b["text"] for b in blocks if b["text"])


def _chat_messages(msg: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """One Anthropic message -> OpenAI messages; tool results become ``role: tool`` messages first."""
    role, blocks = msg["role"], block_list(msg["content"], f"{where}.content")
    if role == "system":
        text = _joined(system_texts(msg["content"], f"{where}.content"))
        return [{"role": "system", "content": text}] if text else []
    if role == "assistant":
        return _assistant(blocks, f"{where}.content")
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(blocks):
        at, kind = f"{where}.content[{j}]", block["type"]
        if kind == "text":
            if block["text"]:
                parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block.get("source"), at)}})
        elif kind == "document":
            raise InvalidRequest(f"{at}: documents are supported for Claude models only", param=at)
        elif kind == "tool_result":
            results.append(_tool_message(block, at))
        else:
            raise InvalidRequest(f"{at}: content block type {kind!r} is not supported for this model", param=at)
    content = parts[0]["text"] if len(parts) == 1 and parts[0]["type"] == "text" else parts
    return [*results, {"role": "user", "content": content}] if parts else results


def _image_url(source: Any, at: str) -> str:
    kind = source.get("type") if isinstance(source, dict) else None
    if kind == "base64" and isinstance(source.get("media_type"), str) and isinstance(source.get("data"), str):
        return f"data:{source['media_type']};base64,{source['data']}"
    if kind == "url" and isinstance(source.get("url"), str):
        return str(source["url"])
    raise InvalidRequest(f"{at}.source: must be a base64 or url image source", param=at)


def _tool_message(block: dict[str, Any], at: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{at}.tool_use_id: must be a non-empty string", param=at)
    content = block.get("content")
    inner = block_list(content, f"{at}.content") if content is not None else []
    texts = (b["text"] if b["type"] == "text" else _IMAGE_NOTE if b["type"] == "image" else dumps_str(b) for b in inner)
    text = "\n".join(t for t in texts if t)
    return {"role": "tool", "tool_call_id": call_id, "content": f"Error: {text}" if block.get("is_error") else text}


def _assistant(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    texts, calls = [], []
    for j, block in enumerate(blocks):
        at, kind = f"{where}[{j}]", block["type"]
        if kind == "text":
            texts.append(block["text"])
        elif kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                raise InvalidRequest(f"{at}: tool_use needs a string id and name", param=at)
            arguments = dumps_str(block.get("input", {}))
            calls.append({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}})
        elif kind not in ("thinking", "redacted_thinking"):  # signed thinking means nothing to other models
            raise InvalidRequest(f"{at}: content block type {kind!r} is not supported for this model", param=at)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    return [{**message, "tool_calls": calls} if calls else message] if message["content"] or calls else []


def _tools(body: dict[str, Any], out: dict[str, Any], adjustments: Adjustments | None) -> None:
    """Function tools, ``tool_choice`` and ``parallel_tool_calls``; server tools have no equivalent here."""
    tools = client_tools(body, adjustments)
    choice = tool_choice(body, tools)
    if not tools:
        return
    out["tools"] = [{"type": "function", "function": _function(t)} for t in tools]
    if choice is not None:
        named = {"type": "function", "function": {"name": choice.get("name")}}
        out["tool_choice"] = named if choice["type"] == "tool" else _CHOICES[choice["type"]]
        if choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False


def _function(tool: dict[str, Any]) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": tool["name"]}
    if isinstance(tool.get("description"), str):
        fn["description"] = tool["description"]
    fn["parameters"] = tool["input_schema"]
    return fn


def openai_chat_to_anthropic(completion: dict[str, Any], *, message_id: str, model: str) -> dict[str, Any]:
    """A ``chat.completion`` as an Anthropic ``message`` named after the model the client asked for."""
    if isinstance(completion, dict) and isinstance(completion.get("error"), dict):
        raise UpstreamError(f"upstream error: {completion['error'].get('message') or '(no message)'}")
    choices = completion.get("choices") if isinstance(completion, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(choice, dict) or not isinstance(message, dict):
        raise UpstreamProtocolError("upstream sent a malformed chat completion: no choices[0].message")
    content: list[dict[str, Any]] = []
    if isinstance(reasoning := message.get("reasoning_content"), str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if isinstance(p, dict) and isinstance(p.get("text"), str))
    text = text or message.get("refusal")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls") or []
    for call in calls if isinstance(calls, list) else []:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(call.get("id"), str) or not isinstance(fn.get("name"), str):
            raise UpstreamProtocolError("upstream sent a tool call without a string id and function name")
        block = {"type": "tool_use", "id": call["id"], "name": fn["name"], "input": _tool_input(fn.get("arguments"))}
        content.append(block)
    used_tools = any(b["type"] == "tool_use" for b in content)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), used_tools=used_tools),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


def _tool_input(arguments: Any) -> dict[str, Any]:
    """Parsed arguments; text that is no JSON object is kept under ``_raw`` so nothing is lost silently."""
    if isinstance(arguments, dict):
        return arguments
    if arguments in (None, ""):
        return {}
    try:
        value = loads(arguments)
    except (ValueError, TypeError):
        value = None
    return value if isinstance(value, dict) else {"_raw": arguments}
