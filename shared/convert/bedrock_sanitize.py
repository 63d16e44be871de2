"""An Anthropic Messages body made acceptable to Bedrock InvokeModel behind SAP AI Core.

For Claude models ``/v1/messages`` is forwarded Anthropic-native, so prompt caching,
thinking, images, documents and tool use all survive. But Bedrock is stricter than
Anthropic's own API and Claude Code sends what only the latter accepts: every field
below made the old proxies answer 400 or 500 (facts §6.5, §10.1). Bedrock refuses
unknown top-level keys (``model``, ``stream``, ``metadata``, ``context_management``,
``output_config`` ...), server tools it cannot run (web search, code execution ...),
tool fields it does not know (``input_examples``, ``defer_loading``, ``strict``),
``tool_reference`` results, ``role: system`` messages, empty text blocks,
``cache_control`` on thinking blocks or on more than four blocks, sampling parameters
next to thinking, a ``max_tokens`` not above the thinking budget and betas it does not
offer. Thinking, effort, structured output, betas and ``max_tokens`` are fitted to the
target generation by :mod:`shared.convert.claude_fit`. Everything else goes through
untouched; every field left out is reported in the request's ``Adjustments``.

The answer is a new dict; the input is never modified. Schemas, tool inputs and other
sub-objects are shared with the input, not copied: treat them as read-only.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments, adapted, dropped
from shared.capabilities import Capabilities
from shared.convert.anthropic_messages import (
    block_list,
    check_messages,
    check_stop_sequences,
    client_tools,
    require_max_tokens,
    system_texts,
    tool_choice,
)
from shared.convert.claude_common import ANTHROPIC_VERSION
from shared.convert.claude_fit import fit_betas, fit_reasoning, fit_sampling, read_thinking
from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str

__all__ = ["ALLOWED_KEYS", "MAX_CACHE_BREAKPOINTS", "anthropic_to_bedrock_invoke", "schema_instruction"]

ALLOWED_KEYS = frozenset(
    ("anthropic_version", "max_tokens", "messages", "system", "temperature", "top_p", "top_k")
    + ("stop_sequences", "tools", "tool_choice", "thinking", "anthropic_beta", "output_config")
)
# Read by this module (or by the route: model, stream), so never reported as dropped.
_READ_KEYS = ALLOWED_KEYS | {"model", "stream"}
_SAMPLING = ("temperature", "top_p", "top_k")
MAX_CACHE_BREAKPOINTS = 4  # Anthropic refuses a request with more
_NO_CACHE = ("thinking", "redacted_thinking")
_RESULT_BLOCKS = ("image", "document", "search_result")


def anthropic_to_bedrock_invoke(
    body: dict[str, Any],
    *,
    beta_header: str | None,
    caps: Capabilities,
    adjustments: Adjustments | None = None,
) -> dict[str, Any]:
    """The InvokeModel body for a Messages request to the model ``caps`` describes.

    ``beta_header`` is the client's ``anthropic-beta`` header.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    messages = check_messages(body.get("messages"))
    for key in body:
        if key not in _READ_KEYS:
            dropped(adjustments, key, "not part of Bedrock's InvokeModel body")
    config = _output_config(body.get("output_config"), adjustments)
    fmt = config.get("format")
    native = fmt if fmt is not None and caps.structured_output else None
    reasoning = fit_reasoning(
        read_thinking(body.get("thinking")),
        config.get("effort"),
        require_max_tokens(body),
        caps,
        adjustments,
        structured=native,
    )
    out: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": reasoning.max_tokens}
    tools, choice = _tools(body, adjustments)
    if tools:
        out["tools"] = tools
    if choice is not None:
        out["tool_choice"] = choice
    system = _system(body.get("system"), messages)
    if fmt is not None and native is None:
        adapted(adjustments, "output_config.format", "sent as a system instruction (no native structured output)")
        instruction = {"type": "text", "text": schema_instruction(fmt)}
        system = [*([{"type": "text", "text": system}] if isinstance(system, str) else system or []), instruction]
    if system is not None:
        out["system"] = system
    out["messages"] = _turns(messages)
    out |= fit_sampling({k: body.get(k) for k in _SAMPLING}, caps, reasoning.thinks, adjustments)
    if stop := check_stop_sequences(body):
        out["stop_sequences"] = stop
    if reasoning.thinking is not None:
        out["thinking"] = reasoning.thinking
    if reasoning.output_config is not None:
        out["output_config"] = reasoning.output_config
    listed = _listed_betas(body.get("anthropic_beta"), beta_header)
    if betas := fit_betas([*listed, *reasoning.betas], caps, adjustments):
        out["anthropic_beta"] = betas
    _limit_breakpoints(out)
    return out


def _output_config(config: Any, adjustments: Adjustments | None) -> dict[str, Any]:
    """``output_config`` checked; keys other than effort and format are reported and left out."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidRequest("output_config: must be an object", param="output_config")
    for key in config:
        if key not in ("effort", "format"):
            dropped(adjustments, f"output_config.{key}", "not offered on Bedrock")
    fmt = config.get("format")
    if fmt is not None and (
        not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict)
    ):
        raise InvalidRequest(
            "output_config.format: must be {type: json_schema, schema: {...}}", param="output_config.format"
        )
    return config


def schema_instruction(fmt: dict[str, Any]) -> str:
    """Structured output for a model without it: the schema as an instruction."""
    return "Answer with one valid JSON value only, no prose, no code fences, matching this JSON schema: " + dumps_str(
        fmt["schema"]
    )


def _tools(body: dict[str, Any], adjustments: Adjustments | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The client's own tools, rebuilt from the three fields Bedrock knows (plus ``cache_control``).

    Server tools are dropped (Anthropic runs them; Bedrock cannot), and with them a
    ``tool_choice`` naming one; a choice among no tools means nothing, and is refused.
    """
    tools = []
    for tool in client_tools(body, adjustments):
        spec: dict[str, Any] = {"name": tool["name"]}
        if isinstance(tool.get("description"), str) and tool["description"]:
            spec["description"] = tool["description"]
        schema = tool["input_schema"]
        # Anthropic wants an object schema; Claude Code's DeferredToolPlaceholder sends {}.
        spec["input_schema"] = schema if "type" in schema else {"type": "object", **schema}
        if "cache_control" in tool:
            spec["cache_control"] = tool["cache_control"]
        tools.append(spec)
    return tools, tool_choice(body, tools)


def _system(system: Any, messages: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    """Top-level ``system`` followed by every ``role: system`` message (Bedrock has no such role)."""
    given = system_texts(system, "system")
    moved = [
        block
        for i, msg in enumerate(messages)
        if msg["role"] == "system"
        for block in system_texts(msg["content"], f"messages[{i}].content")
    ]
    if isinstance(system, str) and not moved:
        return system if system.strip() else None
    blocks = [dict(b) for b in (*given, *moved) if b["text"].strip()]
    return blocks or None


def _turns(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without system ones, empty blocks and empty messages; same-role neighbours merged."""
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg["role"] == "system":
            continue
        content = _content(msg["content"], f"messages[{i}].content")
        if not content:
            continue
        if turns and turns[-1]["role"] == msg["role"]:
            turns[-1]["content"] = block_list(turns[-1]["content"], "") + block_list(content, "")
        else:
            turns.append({"role": msg["role"], "content": content})
    if not turns:
        raise InvalidRequest("messages: at least one user or assistant message with content is required")
    for turn in turns:
        if turn["role"] == "user" and isinstance(turn["content"], list):
            turn["content"].sort(key=lambda b: b["type"] != "tool_result")  # stable: results first
    last = turns[-1]
    if last["role"] == "assistant":  # a prefill, and Claude refuses one ending in whitespace
        content = last["content"]
        if isinstance(content, str):
            last["content"] = content.rstrip()
        elif content[-1]["type"] == "text":  # never blank: blank text blocks are gone already
            content[-1] = {**content[-1], "text": content[-1]["text"].rstrip()}
    return turns


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content if content.strip() else ""
    blocks = []
    for j, block in enumerate(block_list(content, where)):
        kind = block["type"]
        if kind == "text":
            if block["text"].strip():
                blocks.append(dict(block))
        elif kind in _NO_CACHE:
            blocks.append({k: v for k, v in block.items() if k != "cache_control"})
        elif kind == "tool_result":
            blocks.append(_tool_result(block, f"{where}[{j}]"))
        else:
            blocks.append(_media(block, f"{where}[{j}]"))
    return blocks


def _media(block: dict[str, Any], at: str) -> dict[str, Any]:
    """A copy of the block; images and documents must carry their bytes, since Bedrock fetches nothing."""
    source = block.get("source")
    if block["type"] in ("image", "document") and isinstance(source, dict) and source.get("type") in ("url", "file"):
        raise InvalidRequest(
            f"{at}.source: {source['type']} sources are not supported for Claude on SAP AI Core; send base64 data",
            param=f"{at}.source",
        )
    return dict(block)


def _tool_result(block: dict[str, Any], at: str) -> dict[str, Any]:
    """Bedrock reads text, image, document and search_result blocks in a result; the rest becomes text."""
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"{at}.tool_use_id: must be a non-empty string", param=f"{at}.tool_use_id")
    out: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    content = block.get("content")
    if isinstance(content, list):
        kept = (_result_block(b, f"{at}.content[{k}]") for k, b in enumerate(content))
        inner = [b for b in kept if b is not None]
        if inner:
            out["content"] = inner
    elif isinstance(content, str):
        if content:  # an empty result leaves out the optional field rather than risk a blank-text refusal
            out["content"] = content
    elif content is not None:
        out["content"] = dumps_str(content)
    for key in ("is_error", "cache_control"):
        if key in block:
            out[key] = block[key]
    return out


def _result_block(block: Any, at: str) -> dict[str, Any] | None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text" and isinstance(block.get("text"), str):
        return dict(block) if block["text"].strip() else None
    if kind in _RESULT_BLOCKS:
        return _media(block, at)
    if kind == "tool_reference":
        return {"type": "text", "text": f"[tool_reference] {block.get('tool_name', '')}"}
    return {"type": "text", "text": dumps_str(block)}


def _listed_betas(listed: Any, header: str | None) -> list[str]:
    """The betas from the body list and the header, first mention first."""
    if listed is not None and (not isinstance(listed, list) or not all(isinstance(v, str) for v in listed)):
        raise InvalidRequest("anthropic_beta: must be a list of strings", param="anthropic_beta")
    values = [*(listed or []), *(v.strip() for v in (header or "").split(","))]
    return [v for v in dict.fromkeys(values) if v]


def _limit_breakpoints(out: dict[str, Any]) -> None:
    """Keep the last four ``cache_control`` marks in prompt order (tools, system, messages).

    Every dict touched here was built by this module, so deleting a key never reaches
    the client's body.
    """
    marked = [t for t in out.get("tools", []) if "cache_control" in t]
    system = out.get("system")
    marked += [b for b in system if "cache_control" in b] if isinstance(system, list) else []
    for turn in out["messages"]:
        for block in turn["content"] if isinstance(turn["content"], list) else []:
            inner = block.get("content") if block["type"] == "tool_result" else None
            marked += [b for b in inner if "cache_control" in b] if isinstance(inner, list) else []
            if "cache_control" in block:
                marked.append(block)
    for holder in marked[:-MAX_CACHE_BREAKPOINTS]:
        del holder["cache_control"]
