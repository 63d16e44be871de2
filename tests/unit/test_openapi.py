"""The OpenAPI document: valid, complete for the route table, and true to what the core renders."""

from __future__ import annotations

from typing import Any

import jsonschema_rs  # dev extra: validates the document against the JSON Schema meta-schema
import orjson
import pytest

from shared.config import parse_config
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS, Endpoint
from shared.errors import (
    InvalidRequest,
    MethodNotAllowed,
    ModelNotFound,
    NotFound,
    PayloadTooLarge,
    ProxyError,
    TokenFetchError,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    render_error,
)
from shared.openapi import ERROR_SCHEMA, OPERATIONS, error_statuses, openapi_document, openapi_json
from shared.openapi_schemas import REQUEST_EXAMPLES, SCHEMAS
from shared.replies import Reply

DOC = openapi_document()
PLANNED = {
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages/count_tokens"),
    ("POST", "/v1/responses"),
    ("POST", "/api/event_logging/batch"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
}


def operation(route: Endpoint) -> dict[str, Any]:
    return dict(DOC["paths"][route.path][route.method.lower()])


def resolve(obj: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in obj:
        node: Any = DOC
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def validator(name: str) -> Any:
    root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": DOC["components"]["schemas"]}}
    return jsonschema_rs.Draft202012Validator(root)


def core() -> ProxyCore:
    config = parse_config(
        {
            "subAccounts": {
                "A": {
                    "service_key_json": {"clientid": "c", "clientsecret": "s", "url": "https://auth"},
                    "deployment_models": {"gpt-4o": ["https://a/1"], "anthropic--claude-4-sonnet": ["https://a/2"]},
                }
            },
            "secret_authentication_tokens": ["k"],
        }
    )
    return ProxyCore(config, stack="flask", started_at=1_700_000_000)


def test_document_is_valid_openapi_3_1():
    schemathesis = pytest.importorskip("schemathesis")
    assert DOC["openapi"] == "3.1.0" and DOC["info"]["title"] and DOC["info"]["version"]
    schemathesis.openapi.from_dict(openapi_document()).validate()  # the OpenAPI 3.1 meta-schema


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_component_is_a_valid_json_schema(name: str):
    jsonschema_rs.meta.validate(SCHEMAS[name])


def test_every_route_is_documented_with_its_method():
    for route in ENDPOINTS:
        assert (route.method, route.path) in OPERATIONS, f"{route.method} {route.path} has no entry in OPERATIONS"
        assert operation(route)["operationId"] == OPERATIONS[(route.method, route.path)].operation_id


def test_the_document_lists_exactly_the_served_routes():
    documented = {(method.upper(), path) for path, item in DOC["paths"].items() for method in item}
    assert documented == {(route.method, route.path) for route in ENDPOINTS}


def test_the_operations_table_knows_every_planned_route():
    assert set(OPERATIONS) == PLANNED
    assert len({op.operation_id for op in OPERATIONS.values()}) == len(OPERATIONS)


def test_a_route_without_an_entry_is_still_documented():
    extra = Endpoint("/v1/new", "POST", "new")
    doc = openapi_document((*ENDPOINTS, extra))
    op = doc["paths"]["/v1/new"]["post"]
    assert op["operationId"] == "new" and "401" in op["responses"] and "requestBody" in op


def test_api_keys_are_required_except_on_open_routes():
    schemes = DOC["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKeyAuth"] == {**schemes["apiKeyAuth"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert DOC["security"] == [{"bearerAuth": []}, {"apiKeyAuth": []}]
    for route in ENDPOINTS:
        op = operation(route)
        assert ("security" not in op) == route.auth, route.path
        assert op.get("security", DOC["security"]) == (DOC["security"] if route.auth else [])
        assert ("401" in op["responses"]) == route.auth
    open_routes = {(r.method, r.path) for r in ENDPOINTS if not r.auth}
    assert open_routes <= {
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/openapi.json"),
        ("GET", "/metrics"),
        ("POST", "/api/event_logging/batch"),
    }


def test_every_error_status_has_the_dialect_error_schema():
    for route in ENDPOINTS:
        for status, response in operation(route)["responses"].items():
            if int(status) < 400:
                continue
            media = resolve(response)["content"]
            assert list(media) == ["application/json"], (route.path, status)
            assert media["application/json"]["schema"] == {
                "$ref": f"#/components/schemas/{ERROR_SCHEMA[route.dialect]}"
            }, (route.path, status)


def test_routes_document_the_statuses_the_proxy_answers():
    by_path = {r.path: r for r in ENDPOINTS}
    chat = by_path["/v1/chat/completions"]
    expected = [400, 401, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504]
    assert error_statuses(chat, OPERATIONS[("POST", chat.path)]) == expected
    assert error_statuses(by_path["/health"], OPERATIONS[("GET", "/health")]) == [405, 500]
    assert error_statuses(by_path["/v1/models"], OPERATIONS[("GET", "/v1/models")]) == [401, 405, 500]
    for route in ENDPOINTS:
        assert {"200", *map(str, error_statuses(route, OPERATIONS[(route.method, route.path)]))} == set(
            operation(route)["responses"]
        )


def test_streaming_routes_also_answer_event_streams():
    for route in ENDPOINTS:
        content = operation(route)["responses"]["200"]["content"]
        streams = OPERATIONS[(route.method, route.path)].events is not None
        assert ("text/event-stream" in content) == streams, route.path
        assert OPERATIONS[(route.method, route.path)].media in content


ERRORS: list[ProxyError] = [
    InvalidRequest("bad", param="model"),
    Unauthorized("no key"),
    NotFound("no route"),
    ModelNotFound("no model", param="model"),
    MethodNotAllowed("no"),
    PayloadTooLarge("big"),
    UnsupportedMediaType("xml"),
    UpstreamStatusError("rate", upstream_status=429, status=429, headers={"Retry-After": "2"}),
    UpstreamStatusError("odd", upstream_status=422, status=422),
    UpstreamError("broke"),
    UpstreamProtocolError("garbled"),
    UpstreamUnavailable("down"),
    UpstreamTimeout("slow"),
    TokenFetchError("xsuaa"),
    ProxyError("internal"),
]


@pytest.mark.parametrize("dialect", sorted(ERROR_SCHEMA))
@pytest.mark.parametrize("exc", ERRORS, ids=lambda e: type(e).__name__)
def test_rendered_errors_match_the_documented_schema(exc: ProxyError, dialect: str):
    status, _, body = render_error(exc, dialect)
    validator(ERROR_SCHEMA[dialect]).validate(orjson.loads(body))
    assert f"{ERROR_SCHEMA[dialect]}{status}" in DOC["components"]["responses"]


@pytest.mark.parametrize(
    ("path", "body", "schema"),
    [
        ("/v1/models", b"", "ModelList"),
        ("/health", b"", "Health"),
        ("/v1/messages/count_tokens", b'{"model":"m","messages":[{"role":"user","content":"hi"}]}', "CountTokens"),
        ("/api/event_logging/batch", b'{"events":[]}', "EventBatchAccepted"),
    ],
)
def test_the_core_answers_what_the_document_says(path: str, body: bytes, schema: str):
    route = next((r for r in ENDPOINTS if r.path == path), None)
    if route is None:
        pytest.skip(f"{path} is not served yet")
    reply = core().begin(route, {"authorization": "Bearer k"}, route.method, route.path, 0.0).job(body, 1_700_000_000.0)
    assert isinstance(reply, Reply) and reply.status == 200
    validator(schema).validate(orjson.loads(reply.body))


def test_the_core_refuses_in_the_documented_shapes():
    proxy = core()
    for route in ENDPOINTS:
        if not route.auth:
            continue
        reply = proxy.begin(route, {}, route.method, route.path, 0.0).job(b"{}", 0.0)
        assert isinstance(reply, Reply) and str(reply.status) in operation(route)["responses"]
        validator(ERROR_SCHEMA[route.dialect]).validate(orjson.loads(reply.body))


@pytest.mark.parametrize("name", sorted(REQUEST_EXAMPLES))
def test_request_examples_match_their_schemas(name: str):
    for example in REQUEST_EXAMPLES[name].values():
        validator(name).validate(example["value"])


def test_the_document_is_orjson_serialisable_and_stable():
    assert orjson.loads(orjson.dumps(openapi_document())) == DOC
    assert orjson.loads(openapi_json()) == DOC
    assert openapi_json() is openapi_json()  # built once per process


def test_callers_get_a_copy():
    doc = openapi_document()
    doc["paths"].clear()
    doc["components"]["schemas"]["OpenAIError"]["required"].append("x")
    assert openapi_document() == DOC
