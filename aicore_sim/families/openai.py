"""Azure OpenAI chat completions, as served behind SAP AI Core.

Azure is strict about the request body (unknown arguments, reasoning-model parameters,
tool-call/tool-message pairing), so the validation here mirrors its refusals and error
shape. Streams carry Azure's extra first chunk with ``prompt_filter_results``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, split_chunks, split_fragments, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, json_outcome, rand_id, sse, unix_now

__all__ = ["handle_chat", "is_reasoning", "model_version"]

_ALLOWED = frozenset(
    "model messages stream stream_options temperature top_p n stop max_tokens max_completion_tokens "
    "presence_penalty frequency_penalty logit_bias logprobs top_logprobs user seed tools tool_choice "
    "parallel_tool_calls response_format reasoning_effort prediction modalities audio store metadata "
    "service_tier verbosity web_search_options".split()
)
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_MSG_KEYS = frozenset(("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio"))
_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
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


def is_reasoning(model: str) -> bool:
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def _err(message: str, param: str | None = None, code: str | None = None) -> Refusal:
    return Refusal(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def _content_text(content: Any) -> tuple[str, int]:
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        return "", 0
    texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
    images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
    return " ".join(t for t in texts if isinstance(t, str)), images


def _check_message(i: int, m: Any) -> str:
    if not isinstance(m, dict):
        raise _err(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]", "invalid_type")
    extra = next((k for k in m if k not in _MSG_KEYS), None)
    if extra is not None:
        raise _err(f"Additional properties are not allowed ('{extra}' was unexpected) - 'messages.{i}'", None)
    role = m.get("role")
    if role not in _ROLES:
        raise _err(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
            "and 'developer'.",
            f"messages[{i}].role",
            "invalid_value",
        )
    content = m.get("content")
    if content is None and role not in ("assistant",):
        raise _err(f"Missing required parameter: 'messages[{i}].content'.", f"messages[{i}].content", None)
    if isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _PART_TYPES:
                raise _err(
                    f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', "
                    "'refusal', 'audio', and 'file'.",
                    f"messages[{i}].content[{j}].type",
                    "invalid_value",
                )
    elif content is not None and not isinstance(content, str):
        raise _err(f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content", "invalid_type")
    return role


def _validate(body: Any, model: str) -> None:
    if not isinstance(body, dict):
        raise _err("We could not parse the JSON body of your request. Expected an object.")
    for key in body:
        if key not in _ALLOWED:
            raise _err(f"Unrecognized request argument supplied: {key}")
    messages = body.get("messages")
    if messages is None:
        raise _err("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        raise _err("Invalid type for 'messages': expected an array.", "messages", "invalid_type")
    if not messages:
        raise _err(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages", "empty_array"
        )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _err("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type")
    if body.get("stream_options") is not None and not stream:
        raise _err("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if is_reasoning(model):
        if body.get("max_tokens") is not None:
            raise _err(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        for key in ("temperature", "top_p"):
            value = body.get(key)
            if value is not None and value != 1:
                raise _err(
                    f"Unsupported value: '{key}' does not support {value} with this model. "
                    "Only the default (1) value is supported.",
                    key,
                    "unsupported_value",
                )
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise _err(f"Invalid '{key}': expected an integer >= 1, got {value!r}.", key, "integer_below_min_value")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _err("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
        for j, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                raise _err(f"Invalid value for 'tools[{j}]': expected a function tool.", f"tools[{j}]")
            name = fn.get("name")
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise _err(
                    f"Invalid 'tools[{j}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    f"tools[{j}].function.name",
                    "invalid_value",
                )
    if body.get("tool_choice") is not None and not tools:
        raise _err(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"
        )
    open_ids: set[str] = set()
    call_ids: set[str] = set()
    in_run = False
    for i, m in enumerate(messages):
        role = _check_message(i, m)
        if role == "tool":
            if not in_run or m.get("tool_call_id") not in call_ids:
                raise _err(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    "with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            open_ids.discard(m["tool_call_id"])
            continue
        if open_ids:
            raise _missing_responses(open_ids, f"messages.[{i}].role")
        in_run = False
        if role == "assistant" and m.get("tool_calls"):
            call_ids = {c.get("id") for c in m["tool_calls"] if isinstance(c, dict)}
            open_ids, in_run = set(call_ids), True
    if open_ids:
        raise _missing_responses(open_ids, "messages")


def _missing_responses(ids: set[str], param: str) -> Refusal:
    return _err(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(ids))}",
        param,
    )


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
        _validate(call.body, model)
    except Refusal as refusal:
        return refusal.outcome()
    body: dict[str, Any] = call.body
    ans = compute_answer(model, _conversation(body))
    reasoning = 2 if is_reasoning(model) else 0
    cid, created, version = "chatcmpl-" + rand_id(29), unix_now(), model_version(model)
    tool_call = None
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
