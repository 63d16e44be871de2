"""One reading of an OpenAI chat request for Claude, shared by the InvokeModel and Converse paths.

Both upstream APIs front the same models and so refuse the same things: same-role
neighbours, a leading assistant turn, tool calls without results, empty text,
``temperature`` with thinking, thinking with a forced tool. The request is read once
here into Anthropic-shaped turns and plain options (:class:`ClaudeRequest`);
``claude_invoke`` sends the blocks as they are and ``claude_converse`` renames them.
Every client mistake becomes an :class:`InvalidRequest` naming the field, so the client
learns what to fix instead of getting Bedrock's opaque 400.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.adjustments import Adjustments
from shared.capabilities import ADAPTIVE, BUDGET, Capabilities
from shared.convert import common
from shared.convert.claude_fit import BUDGET_BY_EFFORT, ThinkingIntent, fit_reasoning, fit_sampling
from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str

__all__ = [
    "ANTHROPIC_VERSION",
    "IMAGE_TYPES",
    "REASONING_EFFORTS",
    "ClaudeRequest",
    "build_turns",
    "read_request",
    "system_blocks",
]

# media type -> Converse image format; Claude reads these four only.
# The Messages API version Bedrock InvokeModel expects in the body (AWS Bedrock user guide,
# "Anthropic Claude Messages API"); the header form is for Anthropic's own API.
ANTHROPIC_VERSION = "bedrock-2023-05-31"
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}
# reasoning_effort values that turn thinking on; "none" and "minimal" leave it off.
REASONING_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_TEXT_PARTS = ("text", "input_text", "output_text")
_BAD_ID = re.compile(r"[^A-Za-z0-9_-]")
_NO_RESULT = {"type": "tool_result", "content": "No result was given for this tool call.", "is_error": True}


@dataclass(frozen=True, slots=True)
class ClaudeRequest:
    """The request in API-neutral terms. Blocks and tools are Anthropic-shaped.

    Sub-objects (schemas, tool inputs, ``cache_control``) are shared with the client's
    body, not copied: treat them as read-only.
    """

    system: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    max_tokens: int
    temperature: float | None
    top_p: float | None
    stop: list[str] | None
    tools: list[dict[str, Any]]
    tool_choice: dict[str, Any] | None  # {"type": "auto"|"any"|"none"|"tool", "name"?}
    parallel_tool_calls: bool
    thinking: dict[str, Any] | None  # the upstream ``thinking`` object
    output_config: dict[str, Any] | None  # ``output_config`` (effort) for adaptive thinking


def _tool_id(value: Any, where: str) -> str:
    """Claude wants ids matching ``[A-Za-z0-9_-]+``; ids minted by other providers are made to fit."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"{where} must be a non-empty string", param=where)
    return _BAD_ID.sub("_", value)


def _text_block(part: dict[str, Any], where: str) -> dict[str, Any] | None:
    text = part.get("text")
    if not isinstance(text, str):
        raise InvalidRequest(f"{where}.text must be a string", param=where)
    if not text:
        return None  # Bedrock refuses empty text blocks.
    block: dict[str, Any] = {"type": "text", "text": text}
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def system_blocks(messages: list[Any]) -> list[dict[str, Any]]:
    """Text blocks of every ``system``/``developer`` message, wherever it stands, in order.

    :func:`shared.convert.common.split_system` joins each message to one string; this
    keeps parts apart so that a client's ``cache_control`` survives on the invoke path.
    """
    blocks = []
    for i, msg in enumerate(messages):
        if isinstance(msg, dict) and msg.get("role") in ("system", "developer"):
            for j, part in enumerate(common.content_parts(msg.get("content"), f"messages[{i}].content")):
                if part["type"] in _TEXT_PARTS and (block := _text_block(part, f"messages[{i}].content[{j}]")):
                    blocks.append(block)
    return blocks


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    blocks = []
    for j, part in enumerate(common.content_parts(content, where)):
        at = f"{where}[{j}]"
        if part["type"] in _TEXT_PARTS:
            if block := _text_block(part, at):
                blocks.append(block)
        elif part["type"] == "image_url":
            url = part["image_url"].get("url") if isinstance(part.get("image_url"), dict) else part.get("image_url")
            mime, data = common.parse_data_url(url, f"{at}.image_url.url")
            mime = "image/jpeg" if mime == "image/jpg" else mime
            if mime not in IMAGE_TYPES:
                raise InvalidRequest(f"{at}: Claude reads png, jpeg, gif and webp images, not {mime}", param=at)
            blocks.append({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}})
        else:
            raise InvalidRequest(f"{at}: content part type {part['type']!r} is not supported for Claude models")
    return blocks


def _assistant_blocks(msg: dict[str, Any], where: str) -> list[dict[str, Any]]:
    blocks = []
    for j, part in enumerate(common.content_parts(msg.get("content"), f"{where}.content")):
        if part["type"] == "refusal":
            part = {"text": part.get("refusal")}
        elif part["type"] not in _TEXT_PARTS:
            raise InvalidRequest(f"{where}.content[{j}]: assistant content must be text", param=where)
        if block := _text_block(part, f"{where}.content[{j}]"):
            blocks.append(block)
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest(f"{where}.tool_calls must be a list", param=where)
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequest(f"{at}.function.name must be a non-empty string", param=at)
        call_id, args = _tool_id(call.get("id"), f"{at}.id"), common.parse_tool_arguments(fn.get("arguments"), at)
        blocks.append({"type": "tool_use", "id": call_id, "name": fn["name"], "input": args})
    return blocks


def build_turns(messages: Any) -> list[dict[str, Any]]:
    """OpenAI messages (system ones skipped) -> alternating Anthropic ``{role, content}`` turns.

    Tool messages become ``tool_result`` blocks of a user turn, same-role neighbours
    merge, and tool calls and results are paired the way Claude demands.
    """
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages must be a non-empty list", param="messages")
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise InvalidRequest(f"{where} must be an object", param=where)
        role = msg.get("role")
        if role == "user":
            blocks = _user_blocks(msg.get("content"), f"{where}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(msg, where)
        elif role == "tool":
            call_id = _tool_id(msg.get("tool_call_id"), f"{where}.tool_call_id")
            text = common.tool_result_text(msg.get("content"), f"{where}.content")
            blocks, role = [{"type": "tool_result", "tool_use_id": call_id, "content": text}], "user"
        elif role in ("system", "developer"):
            continue
        else:
            raise InvalidRequest(f"{where}.role: unsupported role {role!r}", param=f"{where}.role")
        if blocks and turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        elif blocks:
            turns.append({"role": role, "content": blocks})
    if not turns:
        raise InvalidRequest("messages: at least one user message with content is required", param="messages")
    if turns[0]["role"] != "user":
        raise InvalidRequest("messages: the first non-system message must be from the user for Claude models")
    _pair_tools(turns)
    last = turns[-1]
    if last["role"] == "assistant" and last["content"][-1]["type"] == "text":
        # A final assistant turn is a prefill, and Claude refuses one ending in whitespace.
        text = last["content"][-1]["text"].rstrip()
        last["content"][-1:] = [{**last["content"][-1], "text": text}] if text else []
        if not last["content"]:
            turns.pop()
    return turns


def _pair_tools(turns: list[dict[str, Any]]) -> None:
    """Answer every tool call in the next turn, results first; make results without a call plain text.

    Claude refuses any other history, and agents send it (an interrupted tool run, a
    trimmed context), so it is repaired here rather than answered with a 400.
    """
    for k, turn in enumerate(turns):  # the loop also visits a turn it appends
        called = [b["id"] for b in turn["content"] if b["type"] == "tool_use"] if turn["role"] == "assistant" else []
        if called and k + 1 == len(turns):
            turns.append({"role": "user", "content": []})
        if called:
            answered = {b.get("tool_use_id") for b in turns[k + 1]["content"]}
            missing = [c for c in called if c not in answered]
            turns[k + 1]["content"].extend({**_NO_RESULT, "tool_use_id": c} for c in missing)
    called_before: set[str] = set()
    for turn in turns:
        if turn["role"] == "assistant":
            called_before = {b["id"] for b in turn["content"] if b["type"] == "tool_use"}
            continue
        for j, b in enumerate(turn["content"]):
            if b["type"] == "tool_result" and b["tool_use_id"] not in called_before:
                text = f"Result of tool call {b['tool_use_id']}: {b['content'] or '(empty)'}"
                turn["content"][j] = {"type": "text", "text": text}
        turn["content"].sort(key=lambda b: b["type"] != "tool_result")  # stable: results first


def _tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("tools") or []
    if not isinstance(raw, list):
        raise InvalidRequest("tools must be a list", param="tools")
    tools = []
    for i, tool in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise InvalidRequest(f"{at}.type: only function tools are supported for Claude models", param=at)
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequest(f"{at}.function.name must be a non-empty string", param=at)
        schema = fn.get("parameters")
        if schema is None:
            schema = {"type": "object", "properties": {}}
        elif not isinstance(schema, dict):
            raise InvalidRequest(f"{at}.function.parameters must be a JSON schema object", param=at)
        elif "type" not in schema:
            schema = {"type": "object", **schema}  # Claude insists on an object schema
        spec: dict[str, Any] = {"name": fn["name"]}
        if isinstance(fn.get("description"), str) and fn["description"]:
            spec["description"] = fn["description"]
        spec["input_schema"] = schema
        tools.append(spec)
    return tools


def _tool_choice(choice: Any, names: set[str]) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, str) and choice in ("auto", "required", "none"):
        picked: dict[str, Any] = {"type": {"required": "any"}.get(choice, choice)}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        if name not in names:
            raise InvalidRequest(f"tool_choice.function.name {name!r} is not one of the tools", param="tool_choice")
        picked = {"type": "tool", "name": name}
    else:
        raise InvalidRequest("tool_choice must be auto, required, none or a function choice", param="tool_choice")
    return picked if names else None  # nothing to choose from: the choice means nothing


def _number(body: dict[str, Any], key: str) -> float | None:
    """Claude takes temperature and top_p in [0, 1]; OpenAI allows temperature up to 2, so clamp."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(f"{key} must be a non-negative number", param=key)
    return min(float(value), 1.0)


def json_instruction(fmt: Any) -> str | None:
    """``response_format`` as a system instruction: neither Claude API has a JSON mode."""
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_object":
        return "Answer with one valid JSON object only: no prose, no code fences."
    spec = fmt.get("json_schema") if kind == "json_schema" else None
    if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict):
        raise InvalidRequest("response_format must be text, json_object or json_schema with a schema object")
    schema = dumps_str(spec["schema"])
    return f"Answer with one valid JSON value only, no prose, no code fences, matching this JSON schema: {schema}"


def read_request(
    body: Any, *, default_max_tokens: int, caps: Capabilities, adjustments: Adjustments | None = None
) -> ClaudeRequest:
    """Validate an OpenAI chat body and read everything both Claude APIs need from it.

    ``reasoning_effort`` becomes the thinking form of the target generation
    (``shared/convert/claude_fit.py``): a budget where Claude knows budgets, adaptive
    thinking with that effort where it knows only adaptive thinking.
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    if body.get("n") not in (None, 1):
        raise InvalidRequest("n: Claude models return one choice; n must be 1", param="n")
    if body.get("logprobs"):
        raise InvalidRequest("logprobs: Claude models do not return log probabilities", param="logprobs")
    turns = build_turns(body.get("messages"))
    system = system_blocks(body["messages"])
    if (instruction := json_instruction(body.get("response_format"))) is not None:
        system.append({"type": "text", "text": instruction})
    tools = _tools(body)
    choice = _tool_choice(body.get("tool_choice"), {t["name"] for t in tools})
    effort = body.get("reasoning_effort")
    if effort not in (None, "none", "minimal", *REASONING_EFFORTS):
        raise InvalidRequest(
            f"reasoning_effort must be none, minimal, {', '.join(REASONING_EFFORTS)}", param="reasoning_effort"
        )
    last_assistant = next((t for t in reversed(turns) if t["role"] == "assistant"), None)
    if (
        (choice is not None and choice["type"] in ("any", "tool"))  # Claude: no thinking with a forced tool
        or turns[-1]["role"] == "assistant"  # ... nor with a prefill
        # ... nor inside a tool loop whose signed thinking blocks OpenAI clients cannot hand back.
        or (last_assistant is not None and any(b["type"] == "tool_use" for b in last_assistant["content"]))
    ):
        effort = None
    max_tokens = common.max_output_tokens(body) or default_max_tokens
    intent, level = ThinkingIntent(None), None
    if effort in REASONING_EFFORTS:
        if BUDGET in caps.thinking:
            intent = ThinkingIntent(BUDGET, budget=BUDGET_BY_EFFORT[effort])
        else:
            intent, level = ThinkingIntent(ADAPTIVE), effort
    # max_tokens must exceed a budget: it grows by the budget, keeping the client's room for the answer.
    reasoning = fit_reasoning(intent, level, max_tokens, caps, adjustments, answer_room=max_tokens)
    sampling = {"temperature": _number(body, "temperature"), "top_p": _number(body, "top_p")}
    if not reasoning.thinks and sampling["temperature"] is not None:
        sampling["top_p"] = None  # one is enough, and Claude 4.5 refuses both together
    sampling = fit_sampling(sampling, caps, reasoning.thinks, adjustments)
    temperature, top_p = sampling.get("temperature"), sampling.get("top_p")
    stop = common.stop_sequences(body) or None
    parallel = body.get("parallel_tool_calls") is not False
    return ClaudeRequest(
        system,
        turns,
        reasoning.max_tokens,
        temperature,
        top_p,
        stop,
        tools,
        choice,
        parallel,
        reasoning.thinking,
        reasoning.output_config,
    )
