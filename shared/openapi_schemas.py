"""The JSON Schemas (2020-12) behind ``shared/openapi.py``: request and answer bodies.

Request schemas describe what the proxy itself checks (``shared/flows/chat.py``,
``shared/convert/*``) and leave every other field open: clients send many fields the
proxy passes on untouched, and a schema that refused them would call real requests
invalid. Answer schemas require what the proxy always produces and what the SDKs read;
answers forwarded from SAP AI Core (Azure chat completions, Bedrock messages) may carry
more, so they stay open too. Kept apart from the document builder so each file stays
readable; nothing here depends on the configuration or the route table.
"""

from __future__ import annotations

from typing import Any

__all__ = ["REQUEST_EXAMPLES", "SCHEMAS", "ref"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to ``components.schemas[name]``."""
    return {"$ref": f"#/components/schemas/{name}"}


_STRING: Schema = {"type": "string"}
_NAME: Schema = {"type": "string", "minLength": 1}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_POSITIVE: Schema = {"type": "integer", "minimum": 1}
_NUMBER: Schema = {"type": "number"}
_OBJECT: Schema = {"type": "object"}
_STRINGS: Schema = {"type": "array", "items": _STRING}
_NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _obj(required: list[str], properties: dict[str, Schema], **extra: Any) -> Schema:
    """An object with these required keys; open to others unless ``extra`` says otherwise."""
    return {"type": "object", "required": required, "properties": properties, **extra}


def _array(items: Schema, min_items: int = 0) -> Schema:
    return {"type": "array", "items": items, **({"minItems": min_items} if min_items else {})}


def _when(key: str, value: str, then: Schema) -> list[Schema]:
    """``allOf`` content: when ``key`` is ``value``, ``then`` applies too."""
    return [{"if": {"properties": {key: {"const": value}}, "required": [key]}, "then": then}]


def _example(summary: str, **value: Any) -> dict[str, Any]:
    return {"summary": summary, "value": value}


# --- errors -----------------------------------------------------------------------------

_OPENAI_ERROR = _obj(
    ["error"],
    {
        "error": _obj(
            ["message", "type", "param", "code"],
            {"message": _STRING, "type": _STRING, "param": _NULLABLE_STRING, "code": _NULLABLE_STRING},
        )
    },
    description="Every error on the OpenAI-dialect routes (chat, embeddings, models, responses).",
)
_ANTHROPIC_ERROR = _obj(
    ["type", "error"],
    {"type": {"const": "error"}, "error": _obj(["type", "message"], {"type": _STRING, "message": _STRING})},
    description="Every error on the Anthropic routes (/v1/messages*).",
)

# --- OpenAI Chat Completions ------------------------------------------------------------

_CHAT_ROLES = ["system", "developer", "user", "assistant", "tool", "function"]
_CHAT_MESSAGE: Schema = _obj(
    ["role"],
    {
        "role": {"enum": _CHAT_ROLES},
        "content": {"type": ["string", "array", "null"], "items": _obj(["type"], {"type": _STRING})},
        "name": _STRING,
        "tool_call_id": _STRING,
        "tool_calls": {"type": "array", "items": _OBJECT},
    },
    allOf=_when("role", "tool", {"required": ["tool_call_id"]}),  # which call it answers
)
_FUNCTION = _obj(["name"], {"name": _NAME, "description": _STRING, "parameters": _OBJECT})
_CHAT_TOOL = _obj(["function"], {"type": _STRING, "function": _FUNCTION})
_CHAT_REQUEST = _obj(
    ["model", "messages"],
    {
        "model": {**_NAME, "examples": ["gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"]},
        "messages": _array(ref("ChatMessage"), 1),
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "tools": _array(_CHAT_TOOL),
        "tool_choice": {"type": ["string", "object"]},
        "max_tokens": _POSITIVE,
        "max_completion_tokens": _POSITIVE,
        "temperature": _NUMBER,
        "top_p": _NUMBER,
        "stop": {"type": ["string", "array"], "items": _STRING},
        "response_format": _OBJECT,
        "reasoning_effort": _STRING,
        "parallel_tool_calls": {"type": "boolean"},
        "user": _STRING,
    },
)
_USAGE = _obj(
    ["prompt_tokens", "completion_tokens", "total_tokens"],
    {"prompt_tokens": _COUNT, "completion_tokens": _COUNT, "total_tokens": _COUNT},
)
_ANSWER = _obj(
    ["role"],
    {
        "role": {"const": "assistant"},
        "content": _NULLABLE_STRING,
        "reasoning_content": _STRING,
        "tool_calls": _array(_obj(["id", "type", "function"], {})),
    },
)
_CHOICE = _obj(
    ["index", "message", "finish_reason"], {"index": _COUNT, "message": _ANSWER, "finish_reason": _NULLABLE_STRING}
)
_CHAT_COMPLETION = _obj(
    ["id", "object", "created", "model", "choices"],
    {
        "id": _STRING,
        "object": {"const": "chat.completion"},
        "created": _COUNT,
        "model": _STRING,
        "choices": _array(_CHOICE),
        "usage": _USAGE,
    },
)

# --- embeddings and models --------------------------------------------------------------

_TOKENS = _array(_COUNT, 1)
_EMBEDDINGS_REQUEST = _obj(
    ["model", "input"],
    {
        "model": {**_NAME, "examples": ["text-embedding-3-small"]},
        "input": {"anyOf": [_NAME, _array(_NAME, 1), _TOKENS, _array(_TOKENS, 1)]},
        "dimensions": _POSITIVE,
        "encoding_format": {"enum": ["float", "base64"]},
        "user": _STRING,
    },
)
_EMBEDDINGS = _obj(
    ["object", "data", "model", "usage"],
    {
        "object": {"const": "list"},
        "data": _array(
            _obj(
                ["index", "embedding"], {"index": _COUNT, "embedding": {"type": ["array", "string"], "items": _NUMBER}}
            )
        ),
        "model": _STRING,
        "usage": _obj(["prompt_tokens", "total_tokens"], {"prompt_tokens": _COUNT, "total_tokens": _COUNT}),
    },
)
_MODEL_LIST = _obj(
    ["object", "data"],
    {
        "object": {"const": "list"},
        "data": _array(
            _obj(
                ["id", "object", "created", "owned_by"],
                {"id": _STRING, "object": {"const": "model"}, "created": _COUNT, "owned_by": _STRING},
            )
        ),
    },
)
_HEALTH = _obj(["status", "stack"], {"status": {"const": "ok"}, "stack": {"enum": ["flask", "fastapi"]}})

# --- Anthropic Messages -----------------------------------------------------------------

_TYPED = _obj(["type"], {"type": _STRING})
_BLOCK = {**_TYPED, "allOf": _when("type", "text", {"required": ["text"], "properties": {"text": _STRING}})}
_CONTENT: Schema = {"anyOf": [_STRING, _array(_BLOCK)]}
_ANTHROPIC_MESSAGE_IN = _obj(
    ["role", "content"], {"role": {"enum": ["user", "assistant", "system"]}, "content": _CONTENT}
)
_ANTHROPIC_TOOL = _obj([], {"type": _STRING, "name": _NAME, "description": _STRING, "input_schema": _OBJECT})
_COUNT_TOKENS_FIELDS: dict[str, Schema] = {
    "model": {**_NAME, "examples": ["anthropic--claude-4-sonnet", "claude-sonnet-4-5-20250929"]},
    "messages": _array(_ANTHROPIC_MESSAGE_IN, 1),
    "system": _CONTENT,
    "tools": _array(_ANTHROPIC_TOOL),
}
_MESSAGES_REQUEST = _obj(
    ["model", "messages", "max_tokens"],
    {
        **_COUNT_TOKENS_FIELDS,
        "max_tokens": _POSITIVE,
        "stream": {"type": "boolean"},
        "stop_sequences": _STRINGS,
        "temperature": _NUMBER,
        "top_p": _NUMBER,
        "top_k": _COUNT,
        "tool_choice": _obj(["type"], {"type": {"enum": ["auto", "any", "tool", "none"]}, "name": _STRING}),
        "thinking": _OBJECT,
        "metadata": _OBJECT,
    },
)
_ANTHROPIC_MESSAGE = _obj(
    ["id", "type", "role", "model", "content", "stop_reason", "usage"],
    {
        "id": _STRING,
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": _STRING,
        "content": _array(_TYPED),
        "stop_reason": _NULLABLE_STRING,
        "stop_sequence": _NULLABLE_STRING,
        "usage": _obj(["input_tokens", "output_tokens"], {"input_tokens": _COUNT, "output_tokens": _COUNT}),
    },
)

# --- OpenAI Responses -------------------------------------------------------------------

_RESPONSES_REQUEST = _obj(
    ["model"],
    {
        "model": {**_NAME, "examples": ["gpt-5"]},
        "input": {"type": ["string", "array"], "items": {"type": ["string", "object"]}},
        "instructions": _NULLABLE_STRING,
        "max_output_tokens": _POSITIVE,
        "stream": {"type": "boolean"},
        "tools": _array(_OBJECT),
        "reasoning": _OBJECT,
        "text": _OBJECT,
    },
)
_RESPONSE = _obj(
    ["id", "object", "created_at", "status", "model", "output"],
    {
        "id": _STRING,
        "object": {"const": "response"},
        "created_at": _COUNT,
        "status": {"enum": ["completed", "incomplete", "in_progress", "failed"]},
        "model": _STRING,
        "output": _array(_TYPED),
        "usage": {"type": ["object", "null"]},
    },
)

# --- event streams ----------------------------------------------------------------------
# An event stream is validated one event at a time, as parsed SSE events ({event, data, id?}).


def _event(required: list[str], data: str, description: str) -> Schema:
    return _obj(required, {"event": _STRING, "data": {"type": "string", "pattern": data}}, description=description)


_JSON_TEXT = r"^\{[\s\S]*\}$"
_CHAT_EVENT = _event(["data"], r"^(\[DONE\]|\{[\s\S]*\})$", "A chunk, an in-band error object, or the final [DONE].")
_ANTHROPIC_EVENT = _event(["event", "data"], _JSON_TEXT, "A named Anthropic event (message_start ... message_stop).")
_RESPONSES_EVENT = _event(["data"], _JSON_TEXT, "A Responses stream event (response.created ... response.completed).")

SCHEMAS: dict[str, Schema] = {
    "OpenAIError": _OPENAI_ERROR,
    "AnthropicError": _ANTHROPIC_ERROR,
    "ChatMessage": _CHAT_MESSAGE,
    "ChatCompletionRequest": _CHAT_REQUEST,
    "ChatCompletion": _CHAT_COMPLETION,
    "ChatCompletionEvent": _CHAT_EVENT,
    "EmbeddingsRequest": _EMBEDDINGS_REQUEST,
    "Embeddings": _EMBEDDINGS,
    "ModelList": _MODEL_LIST,
    "Health": _HEALTH,
    "Readiness": {
        "type": "object",
        "required": ["status", "stack"],
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "stack": {"type": "string"},
            "sub_account": {"type": "string", "description": "the sub-account whose token was obtained"},
            "reasons": {"type": "array", "items": {"type": "string"}, "description": "why not ready"},
        },
    },
    "MessagesRequest": _MESSAGES_REQUEST,
    "Message": _ANTHROPIC_MESSAGE,
    "MessageEvent": _ANTHROPIC_EVENT,
    "CountTokensRequest": _obj(["model", "messages"], _COUNT_TOKENS_FIELDS),
    "CountTokens": _obj(["input_tokens"], {"input_tokens": _COUNT}),
    "ResponsesRequest": _RESPONSES_REQUEST,
    "Response": _RESPONSE,
    "ResponseEvent": _RESPONSES_EVENT,
    "EventBatch": {"description": "Claude Code telemetry: any JSON, accepted and dropped."},
    "EventBatchAccepted": _obj(["status"], {"status": {"const": "ok"}}),
    "OpenAPIDocument": _obj(["openapi", "info", "paths"], {"openapi": _STRING}),
    "Metrics": {"type": "string", "description": "Prometheus text exposition format 0.0.4."},
}

_HELLO = [{"role": "user", "content": "Hello there"}]
_CLAUDE = "anthropic--claude-4-sonnet"
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "ChatCompletionRequest": {
        "text": _example("One question", model="gpt-4o", messages=_HELLO),
        "stream": _example(
            "Streamed, with usage at the end",
            model=_CLAUDE,
            messages=[{"role": "system", "content": "Be brief."}, *_HELLO],
            stream=True,
            stream_options={"include_usage": True},
        ),
    },
    "EmbeddingsRequest": {"one": _example("One text", model="text-embedding-3-small", input="Hello there")},
    "MessagesRequest": {
        "text": _example("One question", model=_CLAUDE, max_tokens=256, messages=_HELLO),
        "stream": _example(
            "Streamed, any model family", model="gemini-2.5-pro", max_tokens=256, messages=_HELLO, stream=True
        ),
    },
    "CountTokensRequest": {"text": _example("One question", model=_CLAUDE, system="Be brief.", messages=_HELLO)},
    "ResponsesRequest": {
        "text": _example("One question", model="gpt-5", input="Hello there"),
        "stream": _example("Streamed", model="gpt-4o", instructions="Be brief.", input=_HELLO, stream=True),
    },
}
"""Named request examples shown in the document (and sent first by the fuzz test)."""
