"""Claude through Bedrock Converse (``/converse``, ``/converse-stream``).

Two real-world quirks are reproduced on purpose: a body carrying Anthropic's
``cache_control`` anywhere is refused with status 400 and the body ``{}``, and some
deployments write each stream frame as a Python literal instead of JSON.
"""

from __future__ import annotations

from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, split_chunks, split_fragments, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, json_outcome, rand_id
from aicore_sim.families.claude import thinking_display
from aicore_sim.families.converse_checks import validate_converse

__all__ = ["handle_converse"]

_STOP = {"stop": "end_turn", "stop_sequence": "stop_sequence", "length": "max_tokens", "tool": "tool_use"}


def _cache_chars(blocks: Any) -> int:
    """Characters of the blocks before the last cachePoint of a block list."""
    if not isinstance(blocks, list):
        return 0
    last = max((i for i, b in enumerate(blocks) if isinstance(b, dict) and "cachePoint" in b), default=-1)
    return text_chars(blocks[:last]) if last > 0 else 0


def _conversation(body: dict[str, Any]) -> tuple[Conversation, bool]:
    messages, system, config = body["messages"], body.get("system"), body.get("toolConfig") or {}
    conv = Conversation(input_chars=text_chars(messages) + text_chars(system) + text_chars(config.get("tools")))
    cache = _cache_chars(system) + _cache_chars(config.get("tools")) + sum(_cache_chars(m["content"]) for m in messages)
    has_cache = any("cachePoint" in b for m in messages for b in m["content"]) or any(
        isinstance(b, dict) and "cachePoint" in b for b in (system or []) + (config.get("tools") or [])
    )
    conv.cache_chars = cache
    names = {b["toolUse"]["toolUseId"]: b["toolUse"]["name"] for m in messages for b in m["content"] if "toolUse" in b}
    last = next((m for m in reversed(messages) if m["role"] == "user"), None)
    if last is not None:
        blocks = last["content"]
        conv.user_text = " ".join(b["text"] for b in blocks if "text" in b)
        conv.images = sum(1 for b in blocks if "image" in b)
        for b in blocks:
            if "toolResult" in b:
                res = b["toolResult"]
                texts = [c["text"] for c in res["content"] if isinstance(c, dict) and isinstance(c.get("text"), str)]
                jsons = [c["json"] for c in res["content"] if isinstance(c, dict) and "json" in c]
                text = " ".join(texts) if texts else orjson.dumps(jsons[0] if len(jsons) == 1 else jsons).decode()
                conv.tool_results.append((names.get(res["toolUseId"]) or res["toolUseId"], text))
    conv.tools = [
        (t["toolSpec"]["name"], t["toolSpec"]["inputSchema"]["json"])
        for t in config.get("tools") or []
        if "toolSpec" in t
    ]
    choice = config.get("toolChoice")
    if isinstance(choice, dict):
        conv.choice = next(iter(choice))
        if conv.choice == "tool":
            conv.choice_name = (choice["tool"] or {}).get("name")
    inference = body.get("inferenceConfig") or {}
    conv.max_tokens = inference.get("maxTokens")
    conv.stop = [s for s in inference.get("stopSequences") or [] if isinstance(s, str)]
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking")
    conv.thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    return conv, has_cache


def _usage(ans: Answer, has_cache: bool) -> dict[str, Any]:
    usage = {
        "inputTokens": ans.input_tokens,
        "outputTokens": ans.output_tokens,
        "totalTokens": ans.input_tokens + ans.output_tokens,
    }
    if has_cache:
        usage["cacheReadInputTokens"] = ans.cache_read_tokens
        usage["cacheWriteInputTokens"] = 0
    return usage


def handle_converse(call: Call) -> Outcome:
    """Validate, answer and render one ``converse`` / ``converse-stream`` call."""
    try:
        validate_converse(call.body, call.dep.model)
    except Refusal as refusal:
        return refusal.outcome()
    conv, has_cache = _conversation(call.body)
    ans = compute_answer(call.dep.model, conv, preamble=True)
    signature = "sim-sig-" + rand_id(16)
    tool_id = "tooluse_" + rand_id(22)
    blocks: list[dict[str, Any]] = []
    thinking = (call.body.get("additionalModelRequestFields") or {}).get("thinking")
    shown = ans.thinking if thinking_display(call.dep.model, thinking) == "summarized" else ""
    if ans.thinking:
        blocks.append({"reasoningContent": {"reasoningText": {"text": shown, "signature": signature}}})
    if ans.text or not ans.tool_name:
        blocks.append({"text": ans.text})
    if ans.tool_name:
        blocks.append({"toolUse": {"toolUseId": tool_id, "name": ans.tool_name, "input": ans.tool_args}})
    stop, usage = _STOP[ans.finish], _usage(ans, has_cache)
    if not call.stream:
        return json_outcome(
            {
                "output": {"message": {"role": "assistant", "content": blocks}},
                "stopReason": stop,
                "usage": usage,
                "metrics": {"latencyMs": 1},
            }
        )
    literal = call.dep.python_literals

    def frame(obj: dict[str, Any]) -> bytes:
        return b"data: " + (repr(obj).encode() if literal else orjson.dumps(obj)) + b"\n\n"

    out = Frames()
    out.add(frame({"messageStart": {"role": "assistant"}}))
    for index, block in enumerate(blocks):
        deltas: list[dict[str, Any]]
        if "reasoningContent" in block:
            deltas = [{"reasoningContent": {"text": p}} for p in split_chunks(shown, call.chunks)]
            deltas.append({"reasoningContent": {"signature": signature}})
        elif "text" in block:
            deltas = [{"text": p} for p in split_chunks(ans.text, call.chunks)]
        else:
            out.add(
                frame(
                    {
                        "contentBlockStart": {
                            "start": {"toolUse": {"toolUseId": tool_id, "name": ans.tool_name}},
                            "contentBlockIndex": index,
                        }
                    }
                )
            )
            deltas = [{"toolUse": {"input": p}} for p in split_fragments(orjson.dumps(ans.tool_args).decode())]
        for delta in deltas:
            out.add(frame({"contentBlockDelta": {"delta": delta, "contentBlockIndex": index}}), paced=True)
        out.add(frame({"contentBlockStop": {"contentBlockIndex": index}}))
    out.add(frame({"messageStop": {"stopReason": stop}}))
    out.add(frame({"metadata": {"usage": usage, "metrics": {"latencyMs": 1 + len(out.frames)}}}))
    garbage = b"data: {'malformed': \n\n" if literal else b'data: {"malformed": \n\n'
    return out.outcome(garbage=garbage)
