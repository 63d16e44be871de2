"""Azure OpenAI's request validation for chat completions (its refusals and error shape).

Kept apart from the renderer because it is the part that mirrors the real service's
rules: unknown arguments, reasoning-model parameters and tool-call pairing.
"""

from __future__ import annotations

import re
from typing import Any

from aicore_sim.families.base import Refusal
from aicore_sim.families.openai_rules import allowed_parameters, max_output_tokens, reasoning_effort_levels

__all__ = ["is_reasoning", "openai_error", "validate_chat"]

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_MSG_KEYS = frozenset(("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio"))
_PART_TYPES = ("text", "image_url", "input_audio", "refusal", "audio", "file")
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def is_reasoning(model: str) -> bool:
    """o1/o3/o4/gpt-5 models: no ``max_tokens``, temperature/top_p only 1."""
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def openai_error(message: str, param: str | None = None, code: str | None = None) -> Refusal:
    return Refusal(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}})


def _check_message(i: int, m: Any) -> str:
    if not isinstance(m, dict):
        raise openai_error(f"Invalid type for 'messages[{i}]': expected an object.", f"messages[{i}]", "invalid_type")
    extra = next((k for k in m if k not in _MSG_KEYS), None)
    if extra is not None:
        raise openai_error(f"Additional properties are not allowed ('{extra}' was unexpected) - 'messages.{i}'", None)
    role = m.get("role")
    if role not in _ROLES:
        raise openai_error(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
            "and 'developer'.",
            f"messages[{i}].role",
            "invalid_value",
        )
    content = m.get("content")
    if content is None and role not in ("assistant",):
        raise openai_error(f"Missing required parameter: 'messages[{i}].content'.", f"messages[{i}].content", None)
    if isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _PART_TYPES:
                raise openai_error(
                    f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', "
                    "'refusal', 'audio', and 'file'.",
                    f"messages[{i}].content[{j}].type",
                    "invalid_value",
                )
    elif content is not None and not isinstance(content, str):
        raise openai_error(f"Invalid type for 'messages[{i}].content'.", f"messages[{i}].content", "invalid_type")
    return str(role)


def _quoted(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _check_model_parameters(body: dict[str, Any], model: str) -> None:
    """Per-model rules: reasoning_effort values, output-token limits."""
    effort = body.get("reasoning_effort")
    if effort is not None:
        levels = reasoning_effort_levels(model)
        if levels is None:
            raise openai_error(
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                "reasoning_effort",
                "unsupported_parameter",
            )
        if effort not in levels:
            # OpenAI's wording for a value the model does not take (e.g. 'minimal' on gpt-5.1+).
            raise openai_error(
                f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this model. "
                f"Supported values are: {_quoted(levels)}.",
                "reasoning_effort",
                "unsupported_value",
            )
    limit = max_output_tokens(model)
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if limit is not None and isinstance(value, int) and not isinstance(value, bool) and value > limit:
            # charmbracelet/catwalk#41 (Azure, gpt-4o): "max_tokens is too large: 20000. This model
            # supports at most 16384 completion tokens, whereas you provided 20000."
            raise openai_error(
                f"{key} is too large: {value}. This model supports at most {limit} completion tokens, "
                f"whereas you provided {value}.",
                key,
                "invalid_value",
            )


def validate_chat(body: Any, model: str, api_version: str = "2025-04-01-preview") -> None:
    """Raise :class:`Refusal` for a body Azure would refuse for this model and `api-version`."""
    if not isinstance(body, dict):
        raise openai_error("We could not parse the JSON body of your request. Expected an object.")
    allowed = allowed_parameters(api_version)
    for key in body:
        if key not in allowed:
            raise openai_error(f"Unrecognized request argument supplied: {key}")
    messages = body.get("messages")
    if messages is None:
        raise openai_error("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list):
        raise openai_error("Invalid type for 'messages': expected an array.", "messages", "invalid_type")
    if not messages:
        raise openai_error(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages", "empty_array"
        )
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise openai_error("Invalid type for 'stream': expected a boolean.", "stream", "invalid_type")
    if body.get("stream_options") is not None and not stream:
        raise openai_error("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if is_reasoning(model):
        if body.get("max_tokens") is not None:
            raise openai_error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
                "unsupported_parameter",
            )
        for key in ("temperature", "top_p"):
            value = body.get(key)
            if value is not None and value != 1:
                raise openai_error(
                    f"Unsupported value: '{key}' does not support {value} with this model. "
                    "Only the default (1) value is supported.",
                    key,
                    "unsupported_value",
                )
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise openai_error(
                f"Invalid '{key}': expected an integer >= 1, got {value!r}.", key, "integer_below_min_value"
            )
    _check_model_parameters(body, model)
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or len(stop) > 4 or not all(isinstance(x, str) for x in stop):
            raise openai_error("Invalid type for 'stop': expected a string or an array of up to 4 strings.", "stop")
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise openai_error("Invalid type for 'tools': expected an array.", "tools", "invalid_type")
        for j, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                raise openai_error(f"Invalid value for 'tools[{j}]': expected a function tool.", f"tools[{j}]")
            name = fn.get("name")
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise openai_error(
                    f"Invalid 'tools[{j}].function.name': string does not match pattern. "
                    "Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                    f"tools[{j}].function.name",
                    "invalid_value",
                )
    if body.get("tool_choice") is not None and not tools:
        raise openai_error(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", "tool_choice"
        )
    open_ids: set[str] = set()
    call_ids: set[str] = set()
    in_run = False
    for i, m in enumerate(messages):
        role = _check_message(i, m)
        if role == "tool":
            if not in_run or not isinstance(m.get("tool_call_id"), str) or m["tool_call_id"] not in call_ids:
                raise openai_error(
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
            call_ids = _tool_call_ids(i, m["tool_calls"])
            open_ids, in_run = set(call_ids), True
    if open_ids:
        raise _missing_responses(open_ids, "messages")


def _tool_call_ids(i: int, calls: Any) -> set[str]:
    ids: set[str] = set()
    for j, call in enumerate(calls if isinstance(calls, list) else [None]):
        fn = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(fn, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(fn.get("name"), str)
            or not isinstance(fn.get("arguments"), str)
        ):
            raise openai_error(
                f"Invalid value for 'messages[{i}].tool_calls[{j}]': expected {{id, type: function, "
                "function: {name, arguments: string}}.",
                f"messages[{i}].tool_calls[{j}]",
                "invalid_value",
            )
        ids.add(call["id"])
    return ids


def _missing_responses(ids: set[str], param: str) -> Refusal:
    return openai_error(
        "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
        f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(ids))}",
        param,
    )
