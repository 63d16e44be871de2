"""Protobuf-JSON style validation of Vertex AI ``generateContent`` bodies.

Vertex parses the body into protobuf messages: an unknown field anywhere is a 400
("Unknown name ... Cannot find field"), both ``camelCase`` and ``snake_case`` names are
accepted, and function parameter schemas only know the OpenAPI subset Vertex implements.
:func:`check_request` validates and returns a copy with snake_case keys, so the handler
reads one spelling; the caller's body (kept in the journal) is left untouched.
"""

from __future__ import annotations

import re
from typing import Any

from aicore_sim.families.base import Refusal

__all__ = ["SCHEMA_FIELDS", "check_request", "gemini_error", "snake"]

STR, INT, NUM, BOOL, ANY, SCHEMA = "string", "int", "number", "bool", "any", "schema"


class Rep:
    """A repeated field. A single object is accepted too, as SAP's own examples send it."""

    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item


_PART = {
    "text": STR,
    "inline_data": {"mime_type": STR, "data": STR, "display_name": STR},
    "file_data": {"mime_type": STR, "file_uri": STR, "display_name": STR},
    "function_call": {"id": STR, "name": STR, "args": ANY},
    "function_response": {"id": STR, "name": STR, "response": ANY},
    "thought": BOOL,
    "thought_signature": STR,
    "executable_code": ANY,
    "code_execution_result": ANY,
    "video_metadata": ANY,
}
_CONTENT = {"role": STR, "parts": Rep(_PART)}
_GENERATION = {
    "max_output_tokens": INT,
    "temperature": NUM,
    "top_p": NUM,
    "top_k": NUM,
    "stop_sequences": Rep(STR),
    "candidate_count": INT,
    "response_mime_type": STR,
    "response_schema": SCHEMA,
    "response_json_schema": ANY,
    "thinking_config": {"include_thoughts": BOOL, "thinking_budget": INT, "thinking_level": STR},
    "presence_penalty": NUM,
    "frequency_penalty": NUM,
    "seed": INT,
    "response_logprobs": BOOL,
    "logprobs": INT,
    "response_modalities": Rep(STR),
    "media_resolution": STR,
    "speech_config": ANY,
    "audio_timestamp": BOOL,
    "routing_config": ANY,
}
_FUNCTION = {
    "name": STR,
    "description": STR,
    "parameters": SCHEMA,
    "parameters_json_schema": ANY,
    "response": SCHEMA,
    "response_json_schema": ANY,
}
_TOOL = {
    "function_declarations": Rep(_FUNCTION),
    "google_search": ANY,
    "google_search_retrieval": ANY,
    "code_execution": ANY,
    "retrieval": ANY,
    "url_context": ANY,
    "enterprise_web_search": ANY,
}
_REQUEST = {
    "contents": Rep(_CONTENT),
    "system_instruction": _CONTENT,
    "generation_config": _GENERATION,
    "tools": Rep(_TOOL),
    "tool_config": {
        "function_calling_config": {"mode": STR, "allowed_function_names": Rep(STR)},
        "retrieval_config": ANY,
    },
    "safety_settings": Rep({"category": STR, "threshold": STR, "method": STR}),
    "cached_content": STR,
    "labels": ANY,
    "model_armor_config": ANY,
}
SCHEMA_FIELDS = frozenset(
    "type format description nullable enum properties required items min_items max_items minimum maximum any_of "
    "property_ordering title min_length max_length pattern default example".split()
)
_PROTO_TYPES = {STR: "TYPE_STRING", INT: "TYPE_INT32", NUM: "TYPE_FLOAT", BOOL: "TYPE_BOOL"}
_SNAKE: dict[str, str] = {}
_UPPER = re.compile(r"([A-Z])")


def snake(name: str) -> str:
    """``maxOutputTokens`` -> ``max_output_tokens`` (cached)."""
    out = _SNAKE.get(name)
    if out is None:
        out = _SNAKE[name] = _UPPER.sub(lambda m: "_" + m.group(1).lower(), name)
    return out


def gemini_error(message: str, status: int = 400, code: str = "INVALID_ARGUMENT") -> Refusal:
    return Refusal(status, {"error": {"code": status, "message": message, "status": code}})


def _unknown(name: str, path: str) -> Refusal:
    where = f" at '{path}'" if path else ""
    return gemini_error(f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.')


def _scalar(value: Any, kind: str, path: str) -> None:
    ok = {
        STR: isinstance(value, str),
        INT: (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit()),
        NUM: isinstance(value, int | float) and not isinstance(value, bool),
        BOOL: isinstance(value, bool),
    }[kind]
    if not ok:
        raise gemini_error(f"Invalid value at '{path}' ({_PROTO_TYPES[kind]}), {value!r}")


def check_schema(value: Any, path: str) -> None:
    """An OpenAPI schema limited to the subset Vertex's ``Schema`` message knows."""
    if not isinstance(value, dict):
        raise gemini_error(f"Invalid value at '{path}' (type.googleapis.com/google.cloud.aiplatform.v1.Schema)")
    for key, sub in value.items():
        name = snake(key)
        if name not in SCHEMA_FIELDS:
            raise _unknown(key, path)
        if name == "properties":
            if not isinstance(sub, dict):
                raise gemini_error(f"Invalid value at '{path}.properties'")
            for index, prop in enumerate(sub.values()):
                check_schema(prop, f"{path}.properties[{index}].value")
        elif name == "items":
            check_schema(sub, f"{path}.items")
        elif name == "any_of":
            for index, item in enumerate(sub if isinstance(sub, list) else [sub]):
                check_schema(item, f"{path}.any_of[{index}]")


def _walk(value: Any, spec: Any, path: str) -> Any:
    if spec is ANY:
        return value
    if spec is SCHEMA:
        check_schema(value, path)
        return value
    if isinstance(spec, Rep):
        items = value if isinstance(value, list) else [value]
        return [_walk(item, spec.item, f"{path}[{i}]") for i, item in enumerate(items)]
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise gemini_error(f"Invalid value at '{path}': expected an object, got {type(value).__name__}")
        out = {}
        for key, sub in value.items():
            name = snake(key)
            sub_spec = spec.get(name)
            if sub_spec is None:
                raise _unknown(key, path)
            if sub is None:  # protobuf JSON: null means "not set"
                continue
            out[name] = _walk(sub, sub_spec, f"{path}.{name}" if path else name)
        return out
    _scalar(value, spec, path)
    return value


def check_request(body: Any) -> dict[str, Any]:
    """Validate a request body and return a snake_case copy (repeated fields always lists)."""
    if not isinstance(body, dict):
        raise gemini_error("Invalid JSON payload received. Expected an object.")
    return _walk(body, _REQUEST, "")  # type: ignore[no-any-return]
