"""The bad-input matrix: every route, every kind of bad request, same status and error type on both stacks."""

from __future__ import annotations

import pytest

from tests.contract.conftest import BODY_LIMIT, Stack

ENDPOINTS = {
    # path: (dialect, a valid body for an unknown model, a wrongly typed body)
    "/v1/chat/completions": (
        "openai",
        {"model": "nope", "messages": [{"role": "user", "content": "x"}]},
        {"model": "gpt-4o", "messages": "x"},
    ),
    "/v1/embeddings": ("openai", {"model": "nope", "input": "x"}, {"model": "text-embedding-3-small", "input": 5}),
    "/v1/messages": (
        "anthropic",
        {"model": "nope", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        {"model": "gpt-4o", "max_tokens": "5", "messages": [{"role": "user", "content": "x"}]},
    ),
    "/v1/messages/count_tokens": ("anthropic", None, {"model": "gpt-4o", "messages": "x"}),
    "/v1/responses": ("openai", {"model": "nope", "input": "x"}, {"model": "gpt-4o", "input": 5}),
}
CASES = [
    "invalid-json",
    "not-an-object",
    "missing-model",
    "wrong-type",
    "unknown-model",
    "too-large",
    "content-type",
    "method",
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_bad_input(stack: Stack, path: str, case: str):
    dialect, unknown, wrong = ENDPOINTS[path]
    json_headers = {"content-type": "application/json"}
    with stack.client() as c:
        if case == "invalid-json":
            r, status = c.post(path, content=b'{"model": ', headers=json_headers), 400
        elif case == "not-an-object":
            r, status = c.post(path, content=b'["model"]', headers=json_headers), 400
        elif case == "missing-model":
            r, status = c.post(path, json={"messages": [{"role": "user", "content": "x"}], "input": "x"}), 400
        elif case == "wrong-type":
            r, status = c.post(path, json=wrong), 400
        elif case == "unknown-model":
            if unknown is None:
                pytest.skip("count_tokens estimates for any model name")
            r, status = c.post(path, json=unknown), 404
        elif case == "too-large":
            r, status = (
                c.post(path, content=b'{"model": "' + b"x" * (BODY_LIMIT + 10) + b'"}', headers=json_headers),
                413,
            )
        elif case == "content-type":
            r, status = (
                c.post(path, content=b"model=x", headers={"content-type": "application/x-www-form-urlencoded"}),
                415,
            )
        else:
            r, status = c.get(path), 405
    assert r.status_code == status, r.text
    body = r.json()
    if dialect == "anthropic":
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
        expected = {
            400: "invalid_request_error",
            404: "not_found_error",
            405: "invalid_request_error",
            413: "request_too_large",
            415: "invalid_request_error",
        }
        assert body["error"]["type"] == expected[status]
    else:
        assert set(body["error"]) == {"message", "type", "param", "code"}
        assert body["error"]["message"]
    assert "Traceback" not in r.text
