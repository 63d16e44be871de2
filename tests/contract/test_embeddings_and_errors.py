"""Embeddings through the SDK and the error contract (status + OpenAI error shape)."""

from __future__ import annotations

import openai
import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.test_chat import sdk


def test_embeddings_float_and_base64(stack: Stack):
    client = sdk(stack)
    r = client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])  # SDK asks base64
    assert [d.index for d in r.data] == [0, 1] and len(r.data[0].embedding) == 8
    assert r.model == "text-embedding-3-small" and r.usage.prompt_tokens > 0
    r2 = client.embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float", dimensions=5)
    assert len(r2.data[0].embedding) == 5
    assert r2.data[0].embedding[:5] != r.data[1].embedding[:5]


def test_embeddings_on_a_chat_model_is_400(stack: Stack):
    with pytest.raises(openai.BadRequestError, match="embedding"):
        sdk(stack).embeddings.create(model="anthropic--claude-4-sonnet", input="x")


def test_unknown_model_is_404_with_hint(stack: Stack):
    with pytest.raises(openai.NotFoundError) as info:
        sdk(stack).chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    err = info.value.body
    assert err["code"] == "model_not_found" and "/v1/models" in err["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"", "empty"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model:"),
        (b'{"model": "gpt-4o", "messages": []}', "messages:"),
        (b'{"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}', "role"),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream:"),
    ],
)
def test_bad_input_is_400_in_openai_shape(stack: Stack, body: bytes, fragment: str):
    with stack.client() as c:
        r = c.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and fragment in err["message"]


def test_upstream_400_is_passed_on_not_500(stack: Stack, sim: Sim):
    """A 400 the proxy could not foresee reaches the client as a 400 with the upstream's words.

    (An unknown field no longer provokes one: it is left out, tests/contract/test_agent_requests.py.)
    """
    error = {"message": "Invalid value for 'seed': too large.", "type": "invalid_request_error", "param": "seed"}
    sim.fault(target="*", status=400, body={"error": {**error, "code": None}})
    with pytest.raises(openai.BadRequestError, match="Invalid value for 'seed'"):
        sdk(stack).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "x"}], extra_body={"frobnicate": 1}
        )


def test_malformed_tool_arguments_are_a_400(stack: Stack):
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ]
    with pytest.raises(openai.BadRequestError, match="arguments"):
        sdk(stack).chat.completions.create(model="anthropic--claude-4-sonnet", messages=messages)


def test_wrong_content_type_is_415(stack: Stack):
    with stack.client() as c:
        r = c.post("/v1/chat/completions", content=b"model=gpt-4o", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"


def test_oversized_body_is_413_declared_or_streamed(stack: Stack):
    from tests.contract.conftest import BODY_LIMIT

    big = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "' + b"x" * BODY_LIMIT + b'"}]}'
    with stack.client() as c:
        declared = c.post("/v1/chat/completions", content=big, headers={"content-type": "application/json"})

        def pieces():
            for i in range(0, len(big), 65536):
                yield big[i : i + 65536]

        streamed = c.post("/v1/chat/completions", content=pieces(), headers={"content-type": "application/json"})
    for r in (declared, streamed):
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "request_too_large"
