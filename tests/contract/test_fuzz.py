"""Schemathesis against both stacks: no 5xx, and every answer is what the OpenAPI document says.

The schema is :func:`shared.openapi.openapi_document` (what ``GET /openapi.json``
serves), restricted to the routes both stacks register (:data:`shared.endpoints.ENDPOINTS`),
so a route documented ahead of its handler is never fuzzed into a 404. Generated
``model`` names are mostly swapped for models the simulator serves (random names only
reach the 404 path), and half the bodies are minimal valid ones, so answers and event
streams get checked too, not only refusals.

Bugs the fuzzing found are kept as exact requests in :data:`FINDINGS`: each was a 500
before its fix and is now a regression test that must get a 400 in the route's shape.

Generation is derandomised so CI sees the same cases every run; explore further with
``PROXY_FUZZ_RANDOM=1 PROXY_FUZZ_EXAMPLES=200``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.endpoints import ENDPOINTS
from shared.openapi import openapi_document
from tests.contract.conftest import API_KEY, Stack

# What the simulator serves, by kind. SAP AI Core answers 404 to a chat call on an embeddings
# deployment (and the other way round), which the proxy, knowing no model kinds, reports as 502.
CHAT_MODELS = [
    "gpt-4o",
    "gpt-5",
    "anthropic--claude-4-sonnet",
    "anthropic--claude-3.7-sonnet",
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "claude-sonnet-4-5-20250929",  # not configured: served through fallback_models
]
EMBEDDING_MODELS = ["text-embedding-3-small"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]
SERVED = {(route.method, route.path) for route in ENDPOINTS}
DIALECT = {route.path: route.dialect for route in ENDPOINTS}
MAX_EXAMPLES = int(os.environ.get("PROXY_FUZZ_EXAMPLES", "25"))

config = schemathesis.Config.from_dict(
    {
        "auth": {"openapi": {"bearerAuth": {"bearer": API_KEY}}},
        "generation": {"max-examples": MAX_EXAMPLES, "no-shrink": True},
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(openapi_document(), config=config).include(
    lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in SERVED
)


@dataclass(frozen=True)
class Finding:
    """A request that is a 500 today; ``where`` (``*``: any list item) locates the bad value."""

    name: str
    path: str
    body: dict[str, Any]
    where: tuple[str, ...]
    expected: type
    bug: str

    def matches(self, path: str, body: Any) -> bool:
        """Whether ``body`` has a bad value where this finding's has one (so would hit the same bug)."""
        return path == self.path and any(
            v is not None and not isinstance(v, self.expected) for v in _values(body, self.where)
        )


def _values(doc: Any, where: tuple[str, ...]) -> list[Any]:
    if not where:
        return [doc]
    head, rest = where[0], where[1:]
    if head == "*":
        return [v for item in doc for v in _values(item, rest)] if isinstance(doc, list) else []
    return _values(doc[head], rest) if isinstance(doc, dict) and head in doc else []


_HI = [{"role": "user", "content": "hi"}]
_TOOL = {"name": "w", "input_schema": {"type": "object"}}
FINDINGS = [
    Finding(
        "chat-role-not-a-string",
        "/v1/chat/completions",
        {"model": "gpt-4o", "messages": [{"role": [], "content": "hi"}]},
        ("messages", "*", "role"),
        str,
        "shared/flows/chat.py parse_chat_request: `role not in _ROLES` (a set) raises TypeError for a list/object role",
    ),
    Finding(
        "chat-claude-tool-choice-name-not-a-string",
        "/v1/chat/completions",
        {
            "model": "anthropic--claude-4-sonnet",
            "messages": _HI,
            "tools": [{"type": "function", "function": {"name": "w"}}],
            "tool_choice": {"type": "function", "function": {"name": []}},
        },
        ("tool_choice", "function", "name"),
        str,
        "shared/convert/claude_common.py: set membership of tool_choice.function.name raises TypeError",
    ),
    Finding(
        "chat-gemini-tool-calls-not-a-list",
        "/v1/chat/completions",
        {"model": "gemini-2.5-pro", "messages": [*_HI, {"role": "assistant", "content": "x", "tool_calls": True}]},
        ("messages", "*", "tool_calls"),
        list,
        "shared/convert/common.py iterates messages[i].tool_calls without checking it is a list (TypeError)",
    ),
    Finding(
        "messages-tool-choice-type-not-a-string",
        "/v1/messages",
        {
            "model": "anthropic--claude-4-sonnet",
            "max_tokens": 10,
            "messages": _HI,
            "tools": [_TOOL],
            "tool_choice": {"type": []},
        },
        ("tool_choice", "type"),
        str,
        "shared/convert/anthropic_messages.py tool_choice: `type not in _CHOICES` (a dict) raises TypeError",
    ),
    Finding(
        "messages-tool-choice-name-not-a-string",
        "/v1/messages",
        {
            "model": "anthropic--claude-4-sonnet",
            "max_tokens": 10,
            "messages": _HI,
            "tools": [_TOOL],
            "tool_choice": {"type": "tool", "name": []},
        },
        ("tool_choice", "name"),
        str,
        "shared/convert/anthropic_messages.py tool_choice: `name not in {...}` raises TypeError for a list name",
    ),
    Finding(
        "responses-role-not-a-string",
        "/v1/responses",
        {"model": "gpt-4o", "input": [{"role": [], "content": "hi"}]},
        ("input", "*", "role"),
        str,
        "shared/convert/responses_api.py _message: `role in _ROLES` (a dict) raises TypeError for a list role",
    ),
    Finding(
        "responses-tool-choice-name-not-a-string",
        "/v1/responses",
        {
            "model": "gpt-4o",
            "input": "hi",
            "tools": [{"type": "function", "name": "w"}],
            "tool_choice": {"type": "function", "name": []},
        },
        ("tool_choice", "name"),
        str,
        "shared/convert/responses_api.py _tool_choice: `name not in names` (a set) raises TypeError",
    ),
    Finding(
        "responses-reasoning-effort-not-a-string",
        "/v1/responses",
        {"model": "gpt-4o", "input": "hi", "reasoning": {"effort": []}},
        ("reasoning", "effort"),
        str,
        "shared/convert/responses_api.py _parameters: `effort in _EFFORTS` (a dict) raises TypeError",
    ),
]

# Well-formed conversations by route: the field that holds them, samples, and what else a
# minimal valid body needs. Generated conversations are mostly refused by validation.
_CHAT = [
    [{"role": "user", "content": "Hello there"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": '{"city":"Paris"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ],
]
_ANTHROPIC = [
    [{"role": "user", "content": "Hello there"}],
    [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}, {"role": "assistant", "content": "Hello"}],
]
CONVERSATIONS: dict[str, tuple[str, list[Any], dict[str, Any]]] = {
    "/v1/chat/completions": ("messages", _CHAT, {}),
    "/v1/messages": ("messages", _ANTHROPIC, {"max_tokens": 64}),
    "/v1/messages/count_tokens": ("messages", _ANTHROPIC, {}),
    "/v1/responses": ("input", ["Hello there", [{"role": "user", "content": "Hi"}]], {}),
}


@schema.hook
def flatmap_body(ctx: Any, body: Any) -> Any:
    """Half the time the generated body with a served model; half a minimal valid body.

    Generated bodies keep every odd-but-valid field, so those reach the converters and
    the simulator; minimal ones (a conversation, ``stream`` true or false) reach the
    answer and stream converters, which generated conversations rarely get through to.
    """
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return st.just(body)
    served = EMBEDDING_MODELS if ctx.operation.path == "/v1/embeddings" else CHAT_MODELS
    generated = st.sampled_from([body["model"], *served]).map(lambda model: {**body, "model": model})
    if ctx.operation.path not in CONVERSATIONS:
        return generated
    field, samples, extra = CONVERSATIONS[ctx.operation.path]
    minimal = st.builds(
        lambda model, conversation, stream: {"model": model, field: conversation, "stream": stream, **extra},
        st.sampled_from(served),
        st.sampled_from(samples),
        st.booleans(),
    )
    return st.one_of(generated, minimal)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("PROXY_FUZZ_RANDOM"),
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_stack_conforms_to_openapi(case: schemathesis.Case, stack: Stack) -> None:
    case.call_and_validate(base_url=stack.url, checks=CHECKS, timeout=30)


@pytest.mark.parametrize(
    "finding",
    [
        pytest.param(f, id=f.name)  # each was a 500 before its fix: kept as a regression test
        for f in FINDINGS
        if f.path in DIALECT
    ],
)
def test_finding_is_refused_with_400(stack: Stack, finding: Finding) -> None:
    assert finding.matches(finding.path, finding.body)
    with stack.client() as client:
        r = client.post(finding.path, json=finding.body)
    assert r.status_code == 400, r.text
    doc = r.json()
    if DIALECT[finding.path] == "anthropic":
        assert doc["type"] == "error" and doc["error"]["type"] == "invalid_request_error"
    else:
        assert doc["error"]["type"] == "invalid_request_error"


@pytest.mark.skipif(("GET", "/openapi.json") not in SERVED, reason="GET /openapi.json is not registered yet")
def test_both_stacks_serve_the_same_document(both: list[Stack]) -> None:
    served = []
    for stack in both:
        with httpx.Client(base_url=stack.url, timeout=10) as client:  # no key: the route is open
            r = client.get("/openapi.json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
        served.append(r.content)
    assert served[0] == served[1]
    assert orjson.loads(served[0]) == openapi_document()


@pytest.mark.skipif("/v1/messages" not in DIALECT, reason="/v1/messages is not registered")
def test_405_on_an_anthropic_route_is_anthropic_shaped(stack: Stack) -> None:
    with stack.client() as client:
        r = client.get("/v1/messages")
    assert r.status_code == 405
    doc = r.json()
    assert doc["type"] == "error" and isinstance(doc["error"]["message"], str), doc
