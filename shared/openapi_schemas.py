"""The JSON Schemas (2020-12) behind ``shared/openapi.py``: request and answer bodies.

Request schemas describe what the proxy itself checks (``shared/chat.py``,
``shared/convert/*``) and leave every other field open: clients send many fields the
proxy passes on untouched, and a schema that refused them would call real requests
invalid. Answer schemas require what the proxy always produces and what the SDKs read;
answers forwarded from SAP AI Core (Azure chat completions, Bedrock messages) may carry
more, so they stay open too. Kept apart from the document builder so each file stays
readable; nothing here is computed.
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
    # The proxy refuses a tool message that does not say which call it answers.
    allOf=[
        {
            "if": {"properties": {"role": {"const": "tool"}}, "required": ["role"]},
            "then": {"required": ["tool_call_id"]},
        }
    ],
)
_CHAT_TOOL = _obj(
    ["function"],
    {
        "type": _STRING,
        "function": _obj(["name"], {"name": _NAME, "description": _STRING, "parameters": _OBJECT}),
    },
)
_CHAT_REQUEST = _obj(
    ["model", "messages"],
    {
        "model": {**_NAME, "examples": ["gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"]},
        "messages": {"type": "array", "minItems": 1, "items": ref("ChatMessage")},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "tools": {"type": "array", "items": _CHAT_TOOL},
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
_CHAT_COMPLETION = _obj(
    ["id", "object", "created", "model", "choices"],
    {
        "id": _STRING,
        "object": {"const": "chat.completion"},
        "created": _COUNT,
        "model": _STRING,
        "choices": {
            "type": "array",
            "items": _obj(
                ["index", "message", "finish_reason"],
                {
                    "index": _COUNT,
                    "message": _obj(
                        ["role"],
                        {
                            "role": {"const": "assistant"},
                            "content": _NULLABLE_STRING,
                            "reasoning_content": _STRING,
                            "tool_calls": {"type": "array", "items": _obj(["id", "type", "function"], {})},
                        },
                    ),
                    "finish_reason": _NULLABLE_STRING,
                },
            ),
        },
        "usage": _USAGE,
    },
)

# --- embeddings and models --------------------------------------------------------------

_TOKENS: Schema = {"type": "array", "minItems": 1, "items": _COUNT}
_EMBEDDINGS_REQUEST = _obj(
    ["model", "input"],
    {
        "model": {**_NAME, "examples": ["text-embedding-3-small"]},
        "input": {
            "anyOf": [
                _NAME,
                {"type": "array", "minItems": 1, "items": _NAME},
                _TOKENS,
                {"type": "array", "minItems": 1, "items": _TOKENS},
            ]
        },
        "dimensions": _POSITIVE,
        "encoding_format": {"enum": ["float", "base64"]},
        "user": _STRING,
    },
)
_EMBEDDINGS = _obj(
    ["object", "data", "model", "usage"],
    {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": _obj(
                ["index", "embedding"],
                {"index": _COUNT, "embedding": {"type": ["array", "string"], "items": _NUMBER}},
            ),
        },
        "model": _STRING,
        "usage": _obj(["prompt_tokens", "total_tokens"], {"prompt_tokens": _COUNT, "total_tokens": _COUNT}),
    },
)
_MODEL_LIST = _obj(
    ["object", "data"],
    {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": _obj(
                ["id", "object", "created", "owned_by"],
                {"id": _STRING, "object": {"const": "model"}, "created": _COUNT, "owned_by": _STRING},
            ),
        },
    },
)
_HEALTH = _obj(["status", "stack"], {"status": {"const": "ok"}, "stack": {"enum": ["flask", "fastapi"]}})

# --- Anthropic Messages -----------------------------------------------------------------

_BLOCK: Schema = _obj(
    ["type"],
    {"type": _STRING},
    allOf=[
        {
            "if": {"properties": {"type": {"const": "text"}}, "required": ["type"]},
            "then": {"required": ["text"], "properties": {"text": _STRING}},
        }
    ],
)
_CONTENT: Schema = {"anyOf": [_STRING, {"type": "array", "items": _BLOCK}]}
_ANTHROPIC_MESSAGE_IN = _obj(
    ["role", "content"], {"role": {"enum": ["user", "assistant", "system"]}, "content": _CONTENT}
)
_ANTHROPIC_TOOL = _obj([], {"type": _STRING, "name": _NAME, "description": _STRING, "input_schema": _OBJECT})
_COUNT_TOKENS_FIELDS: dict[str, Schema] = {
    "model": {**_NAME, "examples": ["anthropic--claude-4-sonnet", "claude-sonnet-4-5-20250929"]},
    "messages": {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE_IN},
    "system": _CONTENT,
    "tools": {"type": "array", "items": _ANTHROPIC_TOOL},
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
        "content": {"type": "array", "items": _obj(["type"], {"type": _STRING})},
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
        "tools": {"type": "array", "items": _OBJECT},
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
        "output": {"type": "array", "items": _obj(["type"], {"type": _STRING})},
        "usage": {"type": ["object", "null"]},
    },
)

# --- event streams ----------------------------------------------------------------------
# An event stream is validated one event at a time, as parsed SSE events ({event, data, id?}).

_JSON_OBJECT_TEXT = r"^\{[\s\S]*\}$"
_CHAT_EVENT = _obj(
    ["data"],
    {"event": _STRING, "data": {"type": "string", "pattern": r"^(\[DONE\]|\{[\s\S]*\})$"}},
    description="A chat.completion.chunk, an in-band error object, or the final [DONE].",
)
_ANTHROPIC_EVENT = _obj(
    ["event", "data"],
    {"event": _STRING, "data": {"type": "string", "pattern": _JSON_OBJECT_TEXT}},
    description="A named Anthropic stream event (message_start ... message_stop, ping, error).",
)
_RESPONSES_EVENT = _obj(["data"], {"event": _STRING, "data": {"type": "string", "pattern": _JSON_OBJECT_TEXT}})

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
}

_HELLO = [{"role": "user", "content": "Hello there"}]
REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "ChatCompletionRequest": {
        "text": {"summary": "One question", "value": {"model": "gpt-4o", "messages": _HELLO}},
        "stream": {
            "summary": "Streamed, with usage at the end",
            "value": {
                "model": "anthropic--claude-4-sonnet",
                "messages": [{"role": "system", "content": "Be brief."}, *_HELLO],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        },
    },
    "EmbeddingsRequest": {
        "one": {"summary": "One text", "value": {"model": "text-embedding-3-small", "input": "Hello there"}},
    },
    "MessagesRequest": {
        "text": {
            "summary": "One question",
            "value": {"model": "anthropic--claude-4-sonnet", "max_tokens": 256, "messages": _HELLO},
        },
        "stream": {
            "summary": "Streamed, any model family",
            "value": {
                "model": "gemini-2.5-pro",
                "max_tokens": 256,
                "system": "Be brief.",
                "messages": _HELLO,
                "stream": True,
            },
        },
    },
    "CountTokensRequest": {
        "text": {"summary": "One question", "value": {"model": "anthropic--claude-4-sonnet", "messages": _HELLO}},
    },
    "ResponsesRequest": {
        "text": {"summary": "One question", "value": {"model": "gpt-5", "input": "Hello there"}},
        "stream": {
            "summary": "Streamed, with instructions",
            "value": {"model": "gpt-4o", "instructions": "Be brief.", "input": _HELLO, "stream": True},
        },
    },
}
"""Named request examples shown in the document (and sent first by the fuzz test)."""
