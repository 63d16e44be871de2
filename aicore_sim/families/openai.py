"""Azure OpenAI chat completions, as served behind SAP AI Core.

Validation (Azure's strict refusals) lives in :mod:`openai_checks`; this module turns
the request into a :class:`Conversation` and renders the answer. Streams carry Azure's
extra first chunk with ``prompt_filter_results`` and, only when asked for with
``stream_options.include_usage``, a final usage chunk with ``choices: []``.
"""

from __future__ import annotations

from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, split_chunks, split_fragments, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, json_outcome, rand_id, sse, unix_now
from aicore_sim.families.openai_checks import is_reasoning, validate_chat
from aicore_sim.families.openai_rules import api_version_of

__all__ = ["handle_chat", "model_version"]

_VERSIONS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-5": "gpt-5-2025-08-07",
    "gpt-5-mini": "gpt-5-mini-2025-08-07",
    "o3": "o3-2025-04-16",
    "o4-mini": "o4-mini-2025-04-16",
}
_SAFE = {"filtered": False, "severity": "safe"}
_FILTERS = {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE}
_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": _FILTERS}]
_FINISH = {"stop": "stop", "stop_sequence": "stop", "length": "length", "tool": "tool_calls"}
_FINGERPRINT = "fp_sim0a1b2c3d"


def model_version(model: str) -> str:
    """The versioned model name Azure reports for a backend model."""
    return _VERSIONS.get(model, f"{model}-2024-08-06")


def _content_text(content: Any) -> tuple[str, int]:
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return " ".join(t for t in texts if isinstance(t, str)), images


def _conversation(body: dict[str, Any]) -> Conversation:
    messages: list[dict[str, Any]] = body["messages"]
    tools = body.get("tools")
    conv = Conversation(input_chars=text_chars(messages) + (text_chars(tools) if tools else 0))
    if messages[-1].get("role") == "tool":
        names: dict[str, str] = {}
        for m in messages:
            for c in m.get("tool_calls") or ():
                if isinstance(c, dict) and isinstance(c.get("function"), dict):
                    names[c.get("id", "")] = c["function"].get("name", "")
        tail = len(messages)
        while tail and messages[tail - 1].get("role") == "tool":
            tail -= 1
        for m in messages[tail:]:
            content = m.get("content")
            text = _content_text(content)[0] if isinstance(content, str | list) else orjson.dumps(content).decode()
            conv.tool_results.append((names.get(m["tool_call_id"]) or m["tool_call_id"], text))
    else:
        for m in reversed(messages):
            if m.get("role") == "user":
                conv.user_text, conv.images = _content_text(m.get("content"))
                break
    for tool in body.get("tools") or []:
        conv.tools.append((tool["function"]["name"], tool["function"].get("parameters") or {}))
    choice = body.get("tool_choice")
    if choice == "none":
        conv.choice = "none"
    elif choice == "required":
        conv.choice = "any"
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        conv.choice, conv.choice_name = "tool", choice["function"].get("name")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    conv.max_tokens = limit if isinstance(limit, int) else None
    stop = body.get("stop")
    conv.stop = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)]
    return conv


def _usage(ans: Answer, reasoning: int) -> dict[str, Any]:
    completion = ans.output_tokens + reasoning
    return {
        "prompt_tokens": ans.input_tokens,
        "completion_tokens": completion,
        "total_tokens": ans.input_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def handle_chat(call: Call) -> Outcome:
    """Validate, answer and render one ``chat/completions`` call."""
    model = call.dep.model
    try:
        validate_chat(call.body, model, api_version_of(call.query_string))
    except Refusal as refusal:
        return refusal.outcome()
    body: dict[str, Any] = call.body
    ans = compute_answer(model, _conversation(body))
    reasoning = 2 if is_reasoning(model) else 0
    cid, created, version = "chatcmpl-" + rand_id(29), unix_now(), model_version(model)
    tool_call: dict[str, Any] | None = None
    if ans.tool_name is not None:
        args = orjson.dumps(ans.tool_args).decode()
        tool_call = {
            "id": "call_" + rand_id(24),
            "type": "function",
            "function": {"name": ans.tool_name, "arguments": args},
        }
    finish = _FINISH[ans.finish]
    if not call.stream:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if tool_call else ans.text,
            "refusal": None,
            "annotations": [],
        }
        if tool_call:
            message["tool_calls"] = [tool_call]
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": finish,
            "logprobs": None,
            "content_filter_results": _FILTERS,
        }
        return json_outcome(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": version,
                "system_fingerprint": _FINGERPRINT,
                "choices": [choice],
                "usage": _usage(ans, reasoning),
                "prompt_filter_results": _PROMPT_FILTER,
            }
        )
    opts = body.get("stream_options")
    with_usage = isinstance(opts, dict) and opts.get("include_usage") is True
    out = Frames()
    out.add(
        sse(
            {"choices": [], "created": 0, "id": cid, "model": "", "object": "", "prompt_filter_results": _PROMPT_FILTER}
        )
    )

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        obj: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": version,
            "system_fingerprint": _FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if with_usage:
            obj["usage"] = None
        return sse(obj)

    out.add(chunk({"role": "assistant", "content": "" if tool_call is None else None, "refusal": None}))
    if tool_call is None:
        for piece in split_chunks(ans.text, call.chunks):
            out.add(chunk({"content": piece}), paced=True)
    else:
        first = {
            "index": 0,
            "id": tool_call["id"],
            "type": "function",
            "function": {"name": ans.tool_name, "arguments": ""},
        }
        out.add(chunk({"tool_calls": [first]}), paced=True)
        for frag in split_fragments(tool_call["function"]["arguments"]):
            out.add(chunk({"tool_calls": [{"index": 0, "function": {"arguments": frag}}]}), paced=True)
    out.add(chunk({}, finish))
    if with_usage:
        out.add(
            sse(
                {
                    "id": cid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": version,
                    "system_fingerprint": _FINGERPRINT,
                    "choices": [],
                    "usage": _usage(ans, reasoning),
                }
            )
        )
    out.add(b"data: [DONE]\n\n")
    return out.outcome()
