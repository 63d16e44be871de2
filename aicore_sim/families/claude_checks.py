"""Bedrock InvokeModel's request validation for Claude (its JSON-schema style refusals).

Kept apart from the renderer because it is the part that mirrors the real service's
rules; ``check_thinking`` is shared with Converse, which applies the same limits.
"""

from __future__ import annotations

from typing import Any

from aicore_sim.families.base import Refusal
from aicore_sim.families.claude_rules import (
    betas_of,
    check_anthropic_beta,
    check_generation_thinking,
    check_max_tokens,
    check_output_config,
    check_sampling,
    claude_profile,
)

__all__ = ["check_thinking", "validate_invoke"]

_TOP = frozenset(
    "anthropic_version max_tokens messages system temperature top_p top_k stop_sequences tools tool_choice "
    "thinking anthropic_beta".split()
)
_BLOCK_KEYS = {
    "text": frozenset(("type", "text", "cache_control", "citations")),
    "image": frozenset(("type", "source", "cache_control")),
    "tool_use": frozenset(("type", "id", "name", "input", "cache_control")),
    "tool_result": frozenset(("type", "tool_use_id", "content", "is_error", "cache_control")),
    "thinking": frozenset(("type", "thinking", "signature")),
    "redacted_thinking": frozenset(("type", "data")),
    "document": frozenset(("type", "source", "title", "context", "citations", "cache_control")),
}
_TOOL_KEYS = frozenset(("type", "name", "description", "input_schema", "cache_control"))
_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp")


def _malformed(detail: str) -> Refusal:
    return Refusal(400, {"message": f"Malformed input request: {detail}, please reformat your input and try again."})


def _bad(message: str) -> Refusal:
    return Refusal(400, {"message": message})


def check_thinking(
    thinking: Any, max_tokens: int, temperature: Any, bad: Any, interleaved: bool = False, adaptive: bool = False
) -> bool:
    """Anthropic's extended-thinking rules; returns whether thinking is on.

    ``adaptive`` says whether the generation knows ``type: adaptive`` (which generation
    accepts which form is decided by :func:`check_generation_thinking` before this runs).
    With the interleaved-thinking beta the budget may exceed ``max_tokens``
    (https://docs.claude.com/en/docs/build-with-claude/extended-thinking#interleaved-thinking:
    "budget_tokens can exceed the max_tokens parameter").
    """
    if thinking is None:
        return False
    kinds = ("enabled", "disabled", "adaptive") if adaptive else ("enabled", "disabled")
    if not isinstance(thinking, dict) or thinking.get("type") not in kinds:
        raise bad(
            "thinking: type must be 'enabled', 'disabled' or 'adaptive'"
            if adaptive
            else "thinking: type must be 'enabled' or 'disabled'"
        )
    if thinking["type"] == "disabled":
        return False
    if thinking["type"] == "adaptive":
        if temperature is not None and temperature != 1:
            raise bad("`temperature` may only be set to 1 when thinking is enabled.")
        return True
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if max_tokens <= budget and not interleaved:
        raise bad(
            "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
            "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
        )
    if temperature is not None and temperature != 1:
        raise bad("`temperature` may only be set to 1 when thinking is enabled.")
    return True


def _check_block(i: int, j: int, block: Any, role: str, prev_ids: set[str]) -> None:
    where = f"#/messages/{i}/content/{j}"
    kind = block.get("type") if isinstance(block, dict) else None
    allowed = _BLOCK_KEYS.get(kind) if isinstance(kind, str) else None
    if allowed is None:
        raise _malformed(f"{where}/type: {kind} is not a valid enum value")
    extra = next((k for k in block if k not in allowed), None)
    if extra is not None:
        raise _malformed(f"{where}: extraneous key [{extra}] is not permitted")
    if kind == "text" and not (isinstance(block.get("text"), str) and block["text"]):
        raise _bad("messages: text content blocks must be non-empty")
    if kind == "image":
        src = block.get("source")
        if not isinstance(src, dict) or src.get("type") != "base64" or src.get("media_type") not in _MEDIA:
            raise _malformed(f"{where}/source: expected a base64 source with media_type one of {', '.join(_MEDIA)}")
        if not isinstance(src.get("data"), str):
            raise _malformed(f"{where}/source: required key [data] not found")
    if kind == "tool_use":
        if role != "assistant" or not isinstance(block.get("id"), str) or not isinstance(block.get("input"), dict):
            raise _bad(f"messages.{i}.content.{j}: tool_use blocks need an id and an object input in an assistant turn")
    if kind == "tool_result":
        if role != "user":
            raise _bad(f"messages.{i}.content.{j}: tool_result blocks are only allowed in user turns")
        if not isinstance(block.get("tool_use_id"), str) or block["tool_use_id"] not in prev_ids:
            raise _bad(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message."
            )
    if kind == "thinking" and not (isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)):
        raise _malformed(f"{where}: required keys [thinking, signature] not found")


def _allowed_keys(model: str, betas: list[str]) -> frozenset[str]:
    """Top-level keys of the generation's InvokeModel schema.

    `output_config` exists from the generations with effort or structured output on
    (see claude_rules); `context_management` is the body field of the
    context-management-2025-06-27 beta (Bedrock request reference, anthropic_beta list), so it
    is accepted only with that beta, on a generation that knows the beta.
    """
    profile = claude_profile(model)
    keys = set(_TOP)
    if profile.effort or profile.structured_output:
        keys.add("output_config")
    if "context-management-2025-06-27" in betas and "context-management-2025-06-27" in profile.betas:
        keys.add("context_management")
    return frozenset(keys)


def validate_invoke(body: Any, model: str = "anthropic--claude-4-sonnet") -> None:
    """Raise :class:`Refusal` for a body Bedrock would refuse for this model's generation.

    ``model`` is the AI Core model name (default: Claude 4 Sonnet, for callers that check a body
    without naming a model, such as the proxy's cross-check tests).
    """
    if not isinstance(body, dict):
        raise _malformed("#: expected type: JSONObject")
    profile = claude_profile(model)
    betas = betas_of(body.get("anthropic_beta"))
    allowed = _allowed_keys(model, betas)
    for key in body:
        if key not in allowed:
            raise _malformed(f"#: extraneous key [{key}] is not permitted")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise _malformed(f"#: required key [{key}] not found")
    if body["anthropic_version"] != "bedrock-2023-05-31":
        raise _malformed(f"#/anthropic_version: {body['anthropic_version']} is not a valid enum value")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _malformed("#/max_tokens: expected an integer >= 1")
    check_anthropic_beta(profile, betas)
    check_max_tokens(profile, max_tokens, betas)
    check_generation_thinking(profile, body.get("thinking"))
    check_thinking(
        body.get("thinking"),
        max_tokens,
        body.get("temperature"),
        _bad,
        interleaved="interleaved-thinking-2025-05-14" in betas,
        adaptive="adaptive" in profile.thinking_types,
    )
    check_output_config(profile, body.get("output_config"), betas)
    check_sampling(profile, body, {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k"})
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(x, str) for x in stops)):
        raise _malformed("#/stop_sequences: expected type: JSONArray of strings")
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        if not isinstance(system, list) or any(not isinstance(b, dict) or b.get("type") != "text" for b in system):
            raise _malformed("#/system: expected a string or a list of text blocks")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _malformed("#/messages: expected minimum item count: 1")
    prev_ids: set[str] = set()
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _malformed(f"#/messages/{i}: expected type: JSONObject")
        extra = next((k for k in m if k not in ("role", "content")), None)
        if extra is not None:
            raise _malformed(f"#/messages/{i}: extraneous key [{extra}] is not permitted")
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise _bad(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if i == 0 and role != "user":
            raise _bad('messages: first message must use the "user" role')
        if i and role == messages[i - 1].get("role"):
            raise _bad(
                f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" '
                "roles in a row"
            )
        content = m.get("content")
        if isinstance(content, str):
            blocks: list[Any] = [{"type": "text", "text": content}] if content else []
        elif isinstance(content, list):
            blocks = content
        else:
            raise _malformed(f"#/messages/{i}/content: expected a string or a list")
        if not blocks and not (role == "assistant" and i == len(messages) - 1):
            raise _bad(
                f"messages.{i}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
        for j, block in enumerate(blocks):
            _check_block(i, j, block, role, prev_ids)
        if role == "user" and prev_ids:
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            if prev_ids - answered:
                raise _bad(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                    f"{', '.join(sorted(prev_ids - answered))}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
        prev_ids = {b["id"] for b in blocks if b.get("type") == "tool_use"} if role == "assistant" else set()
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _malformed("#/tools: expected type: JSONArray")
        for j, tool in enumerate(tools):
            if not isinstance(tool, dict):
                raise _malformed(f"#/tools/{j}: expected type: JSONObject")
            if tool.get("type", "custom") != "custom":
                raise _malformed(f"#/tools/{j}/type: {tool['type']} is not a valid enum value")
            extra = next((k for k in tool if k not in _TOOL_KEYS), None)
            if extra is not None:
                raise _malformed(f"#/tools/{j}: extraneous key [{extra}] is not permitted")
            for key in ("name", "input_schema"):
                if key not in tool:
                    raise _malformed(f"#/tools/{j}: required key [{key}] not found")
    choice = body.get("tool_choice")
    if choice is not None and (
        not isinstance(choice, dict)
        or choice.get("type") not in ("auto", "any", "tool", "none")
        or (choice["type"] == "tool" and not isinstance(choice.get("name"), str))
    ):
        raise _malformed("#/tool_choice: expected {type: auto|any|none} or {type: tool, name}")
