"""Claude through Bedrock InvokeModel (``/invoke``, ``/invoke-with-response-stream``).

The body is the Anthropic Messages body minus ``model``/``stream`` plus
``anthropic_version``; Bedrock's refusals live in :mod:`claude_checks`. Streams carry the
Anthropic events, with usage split the way Bedrock reports it (input tokens and cache
figures in ``message_start``, output tokens in ``message_delta``, invocation metrics in
``message_stop``).
"""

from __future__ import annotations

from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, split_chunks, split_fragments, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, json_outcome, rand_id, sse
from aicore_sim.families.claude_checks import validate_invoke
from aicore_sim.families.claude_rules import claude_profile, known_generation

__all__ = ["claude_model_id", "handle_invoke", "thinking_display", "tool_result_text"]

_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens", "tool": "tool_use"}


def claude_model_id(model: str) -> str:
    """The Anthropic model id Bedrock reports for an AI Core model name (see claude_rules)."""
    if known_generation(model):
        return claude_profile(model).model_id
    return model.removeprefix("anthropic--") + "-20250101"


def thinking_display(model: str, thinking: Any) -> str | None:
    """``summarized``/``omitted`` when thinking is on, else None.

    Opus 4.7 omits the thinking text unless asked ("Opus 4.7 changed the default for the
    display parameter to "omitted" (Opus 4.6 and earlier defaulted to "summarized")",
    anthropics/claude-code#49268); an omitted block keeps its signature.
    """
    if not isinstance(thinking, dict) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    display = thinking.get("display")
    if display in ("summarized", "omitted"):
        return str(display)
    return "omitted" if claude_profile(model).sampling_removed else "summarized"


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
    conv.thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
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
        validate_invoke(call.body, call.dep.model)
    except Refusal as refusal:
        return refusal.outcome()
    ans = compute_answer(call.dep.model, _conversation(call.body), preamble=True)
    mid, model = "msg_bdrk_" + rand_id(24), claude_model_id(call.dep.model)
    signature = "sim-sig-" + rand_id(16) if ans.thinking else ""
    tool_id = "toolu_bdrk_" + rand_id(24) if ans.tool_name else ""
    blocks: list[dict[str, Any]] = []
    if ans.thinking:
        shown = ans.thinking if thinking_display(call.dep.model, call.body.get("thinking")) == "summarized" else ""
        blocks.append({"type": "thinking", "thinking": shown, "signature": signature})
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
