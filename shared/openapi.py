"""The proxy's OpenAPI 3.1 document, built from the endpoint table both stacks serve.

Why it is built here and not by a framework: FastAPI could generate a document, Flask
cannot, and the two would differ. Built from :data:`shared.endpoints.ENDPOINTS`, the
document lists exactly the endpoints both apps register, with the auth and error
dialect the core applies to each, so it can neither drift from the stacks nor differ
between them. ``GET /openapi.json`` serves :func:`openapi_json` unchanged; the fuzz
test (``tests/contract/test_fuzz.py``) holds both stacks to it.

What a endpoint documents comes from its entry in :data:`OPERATIONS` (request and answer
schemas, whether it streams, whether it calls SAP AI Core) plus the statuses those
facts imply (:func:`error_statuses`). A endpoint with no entry is still documented, with
an open answer schema, so the served document always covers every endpoint; the unit
tests insist that every endpoint has an entry.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from shared.endpoints import ENDPOINTS, Endpoint
from shared.jsonutil import dumps
from shared.openapi_schemas import REQUEST_EXAMPLES, SCHEMAS, ref

__all__ = [
    "API_VERSION",
    "ERROR_SCHEMA",
    "OPERATIONS",
    "Operation",
    "error_statuses",
    "openapi_document",
    "openapi_json",
]

API_VERSION = "0.1.0"
"""The document's ``info.version``: the proxy's version, bumped with ``pyproject.toml``."""

ERROR_SCHEMA = {"openai": "OpenAIError", "anthropic": "AnthropicError"}
"""The error body schema of each dialect (``shared.errors.render_error``)."""

_SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyAuth": []}]
_SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>` (OpenAI SDKs)."},
    "apiKeyAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "`x-api-key` (Anthropic SDKs).",
    },
}
_HEADERS = {
    "X-Proxy-Stack": {
        "description": "Which stack answered.",
        "required": True,
        "schema": {"type": "string", "enum": ["flask", "fastapi"]},
    },
    "X-Request-Id": {
        "description": "The client's X-Request-Id when it is sane, else a new one; also sent to SAP AI Core.",
        "schema": {"type": "string"},
    },
    "Retry-After": {"description": "Seconds to wait, passed on from SAP AI Core.", "schema": {"type": "string"}},
}
_STATUS_TEXT = {
    400: "The body is not a JSON object or a field is missing or wrong (the message names it), "
    "or SAP AI Core refused the converted request.",
    401: "The API key is missing or wrong.",
    404: "The model is not configured (`model_not_found`).",
    405: "The path does not take this method.",
    408: "SAP AI Core answered 408; passed on.",
    409: "SAP AI Core answered 409; passed on.",
    413: "The body is larger than `max_body_bytes`, or SAP AI Core answered 413.",
    415: "The Content-Type is not JSON.",
    422: "SAP AI Core answered 422; passed on.",
    429: "SAP AI Core is rate limiting; `Retry-After` is passed on when it sent one.",
    500: "An unexpected proxy error (a bug); the proxy's log has the details.",
    502: "SAP AI Core failed, refused the proxy's credentials, has no such deployment, or answered unreadably.",
    503: "SAP AI Core is unreachable or overloaded, or no XSUAA token could be fetched.",
    504: "SAP AI Core did not answer in time.",
}
_UPSTREAM_STATUSES = (404, 408, 409, 422, 429, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says about one endpoint beyond its path, method, auth and dialect."""

    operation_id: str
    summary: str
    tag: str
    answer: str  # components.schemas name of the 200 JSON body
    request: str | None = None  # components.schemas name of the JSON body, None: no body
    events: str | None = None  # schema of one SSE event when ``stream: true`` is honoured
    validates: bool = True  # the body is parsed and checked: 400 possible
    upstream: bool = False  # calls SAP AI Core: model and upstream errors possible
    anthropic_params: bool = False  # anthropic-version / anthropic-beta headers, ?beta=true
    media: str = "application/json"  # of the 200 answer


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/v1/chat/completions"): Operation(
        "createChatCompletion",
        "OpenAI Chat Completions over every model family",
        "openai",
        "ChatCompletion",
        "ChatCompletionRequest",
        events="ChatCompletionEvent",
        upstream=True,
    ),
    ("POST", "/v1/embeddings"): Operation(
        "createEmbeddings", "OpenAI embeddings (OpenAI-family models)", "openai", "Embeddings", "EmbeddingsRequest",
        upstream=True,
    ),
    ("GET", "/v1/models"): Operation("listModels", "The configured model names", "openai", "ModelList"),
    ("POST", "/v1/responses"): Operation(
        "createResponse",
        "OpenAI Responses API (stateless) over every model family",
        "openai",
        "Response",
        "ResponsesRequest",
        events="ResponseEvent",
        upstream=True,
    ),
    ("POST", "/v1/messages"): Operation(
        "createMessage",
        "Anthropic Messages over every model family",
        "anthropic",
        "Message",
        "MessagesRequest",
        events="MessageEvent",
        upstream=True,
        anthropic_params=True,
    ),
    ("POST", "/v1/messages/count_tokens"): Operation(
        "countMessageTokens",
        "An estimate of a Messages request's input tokens; nothing goes upstream",
        "anthropic",
        "CountTokens",
        "CountTokensRequest",
        anthropic_params=True,
    ),
    ("POST", "/api/event_logging/batch"): Operation(
        "acceptEventBatch", "Claude Code telemetry sink: accepted, never forwarded", "proxy", "EventBatchAccepted",
        "EventBatch", validates=False,
    ),
    ("GET", "/health"): Operation("health", "Liveness; no upstream call", "proxy", "Health"),
    ("GET", "/ready"): Operation(
        "ready", "Readiness: a token obtainable for at least one sub-account (503 with reasons otherwise)",
        "proxy", "Readiness",
    ),
    ("GET", "/openapi.json"): Operation("openapi", "This document", "proxy", "OpenAPIDocument"),
    ("GET", "/metrics"): Operation(
        "metrics", "Prometheus metrics of this worker, or of all workers in multiprocess mode", "proxy", "Metrics",
        media="text/plain",
    ),
}  # fmt: skip


def error_statuses(endpoint: Endpoint, op: Operation) -> list[int]:
    """Every error status the proxy can answer on ``endpoint``, derived from what the endpoint does."""
    statuses = {405, 500}
    if endpoint.method == "POST":
        statuses |= {413, 415}
        if op.validates:
            statuses.add(400)
    if endpoint.auth:
        statuses.add(401)
    if op.upstream:
        statuses |= {400, 413, 415, *_UPSTREAM_STATUSES}
    return sorted(statuses)


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _error_responses() -> dict[str, Any]:
    """One reusable response per dialect and status, e.g. ``OpenAIError404``."""
    out: dict[str, Any] = {}
    for schema in ERROR_SCHEMA.values():
        for status, text in _STATUS_TEXT.items():
            headers = _headers("X-Proxy-Stack", "X-Request-Id", *(["Retry-After"] if status == 429 else []))
            out[f"{schema}{status}"] = {
                "description": text,
                "headers": headers,
                "content": {"application/json": {"schema": ref(schema)}},
            }
    return out


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 128}}
    ]
    if op.anthropic_params:
        params += [
            {"name": "anthropic-version", "in": "header", "required": False, "schema": {"type": "string"}},
            {"name": "anthropic-beta", "in": "header", "required": False, "schema": {"type": "string"}},
            {"name": "beta", "in": "query", "required": False, "schema": {"type": "boolean"}},
        ]
    return params


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op = OPERATIONS.get((endpoint.method, endpoint.path))
    if op is None:  # a endpoint added without an entry: documented openly rather than left out
        op = Operation(endpoint.handler, endpoint.handler, "proxy", "", "" if endpoint.method == "POST" else None)
    content: dict[str, Any] = {op.media: {"schema": ref(op.answer) if op.answer else {}}}
    if op.events:
        content["text/event-stream"] = {"schema": ref(op.events)}
    ok = "A stream of server-sent events when the body says `stream: true`." if op.events else "Success."
    doc: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op),
        "responses": {
            "200": {"description": ok, "headers": _headers("X-Proxy-Stack", "X-Request-Id"), "content": content},
            **{
                str(status): {"$ref": f"#/components/responses/{ERROR_SCHEMA[endpoint.dialect]}{status}"}
                for status in error_statuses(endpoint, op)
            },
        },
    }
    if op.request is not None:
        media: dict[str, Any] = {"schema": ref(op.request) if op.request else {}}
        if op.request in REQUEST_EXAMPLES:
            media["examples"] = REQUEST_EXAMPLES[op.request]
        doc["requestBody"] = {"required": True, "content": {"application/json": media}}
    if not endpoint.auth:
        doc["security"] = []
    return doc


@lru_cache(maxsize=8)
def _build(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SAP AI Core LLM proxy",
            "version": API_VERSION,
            "description": "OpenAI- and Anthropic-compatible API in front of SAP AI Core. See docs/api.md.",
        },
        "tags": [
            {"name": "openai", "description": "OpenAI dialect: errors as {error: {message, type, param, code}}"},
            {"name": "anthropic", "description": "Anthropic dialect: errors as {type: error, error: {type, message}}"},
            {"name": "proxy", "description": "The proxy's own endpoints"},
        ],
        "security": _SECURITY,
        "paths": paths,
        "components": {
            "securitySchemes": _SECURITY_SCHEMES,
            "headers": _HEADERS,
            "responses": _error_responses(),
            "schemas": SCHEMAS,
        },
    }


def openapi_document(endpoints: Sequence[Endpoint] = ENDPOINTS) -> dict[str, Any]:
    """The document for ``endpoints`` (default: the endpoint table); a fresh copy the caller may change."""
    return copy.deepcopy(_build(tuple(endpoints)))


@lru_cache(maxsize=1)
def openapi_json() -> bytes:
    """The document for :data:`~shared.endpoints.ENDPOINTS` as JSON bytes, built once per process."""
    return dumps(_build(ENDPOINTS))
