"""Claude through Bedrock InvokeModel (``/invoke``, ``/invoke-with-response-stream``).

Bedrock validates the Anthropic body against a JSON schema and refuses anything
extra (``model``, ``stream``, ``metadata``, server tools ...), which is exactly where
proxies go wrong, so those refusals are reproduced with Bedrock's message style.
"""

from __future__ import annotations

from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, split_chunks, split_fragments, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, json_outcome, rand_id, sse

__all__ = ["check_thinking", "claude_model_id", "handle_invoke", "tool_result_text"]

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
_MODEL_IDS = {
    "anthropic--claude-4-sonnet": "claude-sonnet-4-20250514",
    "anthropic--claude-4.5-sonnet": "claude-sonnet-4-5-20250929",
    "anthropic--claude-3.7-sonnet": "claude-3-7-sonnet-20250219",
    "anthropic--claude-3.5-sonnet": "claude-3-5-sonnet-20241022",
    "anthropic--claude-4-opus": "claude-opus-4-20250514",
    "anthropic--claude-4.1-opus": "claude-opus-4-1-20250805",
    "anthropic--claude-3-haiku": "claude-3-haiku-20240307",
}
_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens", "tool": "tool_use"}
_MEDIA = ("image/jpeg", "image/png", "image/gif", "image/webp")


def claude_model_id(model: str) -> str:
    """The Anthropic model id reported for an AI Core model name."""
    return _MODEL_IDS.get(model, model.removeprefix("anthropic--") + "-20250101")


def _malformed(detail: str) -> Refusal:
    return Refusal(400, {"message": f"Malformed input request: {detail}, please reformat your input and try again."})


def _bad(message: str) -> Refusal:
    return Refusal(400, {"message": message})


def check_thinking(thinking: Any, max_tokens: int, temperature: Any, bad: Any) -> bool:
    """Anthropic's extended-thinking rules; returns whether thinking is on."""
    if thinking is None:
        return False
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "disabled"):
        raise bad("thinking: type must be 'enabled' or 'disabled'")
    if thinking["type"] == "disabled":
        return False
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        raise bad("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if max_tokens <= budget:
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
    allowed = _BLOCK_KEYS.get(kind)  # type: ignore[arg-type]
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
        if block.get("tool_use_id") not in prev_ids:
            raise _bad(
                f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding `tool_use` "
                "block in the previous message."
            )
    if kind == "thinking" and not (isinstance(block.get("thinking"), str) and isinstance(block.get("signature"), str)):
        raise _malformed(f"{where}: required keys [thinking, signature] not found")


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise _malformed("#: expected type: JSONObject")
    for key in body:
        if key not in _TOP:
            raise _malformed(f"#: extraneous key [{key}] is not permitted")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise _malformed(f"#: required key [{key}] not found")
    if body["anthropic_version"] != "bedrock-2023-05-31":
        raise _malformed(f"#/anthropic_version: {body['anthropic_version']} is not a valid enum value")
    max_tokens = body["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _malformed("#/max_tokens: expected an integer >= 1")
    check_thinking(body.get("thinking"), max_tokens, body.get("temperature"), _bad)
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


def tool_result_text(content: Any) -> str:
    """Text of a tool result's content (text parts joined), else its compact JSON."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)]
        if texts:
            return " ".join(texts)
    return orjson.dumps(content).decode()


def _cache_chars(blocks: Any) -> int:
    if not isinstance(blocks, list):
        return 0
    total = 0
    for b in blocks:
        if isinstance(b, dict) and "cache_control" in b:
            text = b.get("text")
            total += (
                len(text)
                if isinstance(text, str)
                else text_chars({k: v for k, v in b.items() if k not in ("cache_control", "type")})
            )
    return total


def _conversation(body: dict[str, Any]) -> Conversation:
    messages, system, tools = body["messages"], body.get("system"), body.get("tools")
    conv = Conversation(input_chars=text_chars(messages) + text_chars(system) + text_chars(tools))
    conv.cache_chars = _cache_chars(system) + _cache_chars(tools)
    names: dict[str, str] = {}
    for m in messages:
        if isinstance(m["content"], list):
            conv.cache_chars += _cache_chars(m["content"])
            for b in m["content"]:
                if b.get("type") == "tool_use":
                    names[b["id"]] = b.get("name", "")
    last = next((m for m in reversed(messages) if m["role"] == "user"), None)
    if last is not None:
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        conv.user_text = " ".join(b["text"] for b in blocks if b.get("type") == "text")
        conv.images = sum(1 for b in blocks if b.get("type") == "image")
        for b in blocks:
            if b.get("type") == "tool_result":
                tid = b["tool_use_id"]
                conv.tool_results.append((names.get(tid) or tid, tool_result_text(b.get("content", ""))))
    conv.tools = [(t["name"], t.get("input_schema") or {}) for t in tools or []]
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        conv.choice, conv.choice_name = choice["type"], choice.get("name")
    conv.max_tokens = body["max_tokens"]
    conv.stop = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
    thinking = body.get("thinking")
    conv.thinking = isinstance(thinking, dict) and thinking.get("type") == "enabled"
    return conv


def _usage(ans: Answer) -> dict[str, Any]:
    return {
        "input_tokens": ans.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": ans.cache_read_tokens,
        "output_tokens": ans.output_tokens,
    }


def handle_invoke(call: Call) -> Outcome:
    """Validate, answer and render one ``invoke`` / ``invoke-with-response-stream`` call."""
    try:
        _validate(call.body)
    except Refusal as refusal:
        return refusal.outcome()
    ans = compute_answer(call.dep.model, _conversation(call.body), preamble=True)
    mid, model = "msg_bdrk_" + rand_id(24), claude_model_id(call.dep.model)
    signature = "sim-sig-" + rand_id(16) if ans.thinking else ""
    tool_id = "toolu_bdrk_" + rand_id(24) if ans.tool_name else ""
    blocks: list[dict[str, Any]] = []
    if ans.thinking:
        blocks.append({"type": "thinking", "thinking": ans.thinking, "signature": signature})
    if ans.text or not ans.tool_name:
        blocks.append({"type": "text", "text": ans.text})
    if ans.tool_name:
        blocks.append({"type": "tool_use", "id": tool_id, "name": ans.tool_name, "input": ans.tool_args})
    stop = _STOP[ans.finish]
    if not call.stream:
        return json_outcome(
            {
                "id": mid,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop,
                "stop_sequence": ans.stop_sequence,
                "usage": _usage(ans),
            }
        )
    out = Frames()
    start_usage = {**_usage(ans), "output_tokens": 1}
    out.add(
        sse(
            {
                "type": "message_start",
                "message": {
                    "id": mid,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            }
        )
    )
    for index, block in enumerate(blocks):
        kind = block["type"]
        empty = (
            {"type": "thinking", "thinking": "", "signature": ""}
            if kind == "thinking"
            else ({**block, "input": {}} if kind == "tool_use" else {"type": "text", "text": ""})
        )
        out.add(sse({"type": "content_block_start", "index": index, "content_block": empty}))
        if kind == "thinking":
            deltas = [{"type": "thinking_delta", "thinking": p} for p in split_chunks(block["thinking"], call.chunks)]
            deltas.append({"type": "signature_delta", "signature": signature})
        elif kind == "text":
            deltas = [{"type": "text_delta", "text": p} for p in split_chunks(block["text"], call.chunks)]
        else:
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in split_fragments(orjson.dumps(block["input"]).decode())
            ]
        for delta in deltas:
            out.add(sse({"type": "content_block_delta", "index": index, "delta": delta}), paced=True)
        out.add(sse({"type": "content_block_stop", "index": index}))
    out.add(
        sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": ans.stop_sequence},
                "usage": {"output_tokens": ans.output_tokens},
            }
        )
    )
    out.add(
        sse(
            {
                "type": "message_stop",
                "amazon-bedrock-invocationMetrics": {
                    "inputTokenCount": ans.input_tokens,
                    "outputTokenCount": ans.output_tokens,
                    "invocationLatency": 1 + len(out.frames),
                    "firstByteLatency": 1,
                },
            }
        )
    )
    return out.outcome()
