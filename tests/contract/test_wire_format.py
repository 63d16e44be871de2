"""What SAP AI Core receives, read back from the simulator's journal."""

from __future__ import annotations

import httpx
import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.sse_client import stream_raw

RESOURCE_GROUPS = {"default", "rg-b"}


def chat(stack: Stack, model: str, stream: bool) -> None:
    body = {
        "model": model,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi!"},
            {"role": "user", "content": "Bye"},
        ],
        "max_tokens": 50,
        "temperature": 0.5,
        "stream": stream,
    }
    with stack.client() as c:
        if stream:
            assert stream_raw(c, "/v1/chat/completions", body).status == 200
        else:
            assert c.post("/v1/chat/completions", json=body).status_code == 200


def last_call(sim: Sim, mark: int) -> dict:
    calls = sim.calls(mark)
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["status"] == 200
    assert call["headers"]["authorization"].startswith("Bearer ")
    assert call["headers"]["ai-resource-group"] in RESOURCE_GROUPS
    assert call["headers"]["content-type"].startswith("application/json")
    return call


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_openai_family_passthrough(stack: Stack, sim: Sim, stream: bool):
    mark = sim.mark()
    chat(stack, "gpt-4o", stream)
    call = last_call(sim, mark)
    assert call["path"].endswith("/chat/completions")
    assert call["query"]["api-version"]
    body = call["json"]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["max_tokens"] == 50 and body["temperature"] == 0.5
    assert body.get("stream", False) is stream


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_claude_invoke(stack: Stack, sim: Sim, stream: bool):
    mark = sim.mark()
    chat(stack, "anthropic--claude-4-sonnet", stream)
    call = last_call(sim, mark)
    assert call["path"].endswith("/invoke-with-response-stream" if stream else "/invoke")
    body = call["json"]
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in body and "stream" not in body
    assert body["system"] in ("Be brief.", [{"type": "text", "text": "Be brief."}])
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.5


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_claude_converse(stack: Stack, sim: Sim, stream: bool):
    mark = sim.mark()
    chat(stack, "anthropic--claude-3.7-sonnet", stream)
    call = last_call(sim, mark)
    assert call["path"].endswith("/converse-stream" if stream else "/converse")
    body = call["json"]
    assert body["system"] == [{"text": "Be brief."}]
    assert body["messages"][0] == {"role": "user", "content": [{"text": "Hello"}]}
    assert body["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.5}
    assert "model" not in body and "stream" not in body


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_gemini(stack: Stack, sim: Sim, stream: bool):
    mark = sim.mark()
    chat(stack, "gemini-2.5-pro", stream)
    call = last_call(sim, mark)
    assert call["path"].endswith(
        "/models/gemini-2.5-pro:streamGenerateContent" if stream else "/models/gemini-2.5-pro:generateContent"
    )
    body = call["json"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {"maxOutputTokens": 50, "temperature": 0.5}


def test_round_robin_spreads_over_sub_accounts(stack: Stack, sim: Sim):
    mark = sim.mark()
    for _ in range(4):
        chat(stack, "gpt-4o", False)
    groups = [c["headers"]["ai-resource-group"] for c in sim.calls(mark)]
    assert sorted(groups) == ["default", "default", "rg-b", "rg-b"]


def test_one_token_per_sub_account_under_a_burst(stack: Stack, sim: Sim):
    """Tokens are cached: many requests, no new token fetches once warm."""
    chat(stack, "gpt-4o", False)
    chat(stack, "gpt-4o", False)
    before = sim.stats()["token_fetches_total"]
    with stack.client() as c:
        for _ in range(10):
            assert c.get("/v1/models").status_code == 200
    for _ in range(6):
        chat(stack, "gpt-4o", False)
    assert sim.stats()["token_fetches_total"] == before


def test_embeddings_wire_format(stack: Stack, sim: Sim):
    mark = sim.mark()
    with stack.client() as c:
        r = c.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", "b"], "dimensions": 4})
    assert r.status_code == 200
    call = last_call(sim, mark)
    assert call["path"].endswith("/embeddings") and call["query"]["api-version"]
    assert call["json"] == {"input": ["a", "b"], "dimensions": 4}


def test_upstream_never_sees_client_key(stack: Stack, sim: Sim):
    mark = sim.mark()
    chat(stack, "gpt-4o", False)
    call = last_call(sim, mark)
    assert stack.key not in call["headers"]["authorization"]
    assert httpx.Headers(call["headers"]).get("x-api-key") is None


@pytest.mark.parametrize(
    ("model", "check"),
    [
        ("anthropic--claude-4-sonnet", lambda b: b["thinking"] == {"type": "enabled", "budget_tokens": 4096}),
        (
            "anthropic--claude-3.7-sonnet",
            lambda b: b["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 4096,
        ),
        ("gemini-2.5-pro", lambda b: b["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 4096),
        ("gpt-5", lambda b: b["reasoning_effort"] == "medium" and "max_tokens" not in b),
        ("gpt-4o", lambda b: "reasoning_effort" not in b),
    ],
)
def test_reasoning_effort_is_mapped_not_dropped_or_rejected(stack: Stack, sim: Sim, model, check):
    mark = sim.mark()
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "think"}],
        "reasoning_effort": "medium",
        "max_tokens": 20000,
    }
    with stack.client() as c:
        r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    assert check(last_call(sim, mark)["json"])


@pytest.mark.parametrize(
    "model", ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
)
def test_text_blocks_with_cache_control_are_accepted(stack: Stack, model: str):
    content = [{"type": "text", "text": "cached context", "cache_control": {"type": "ephemeral"}}]
    body = {"model": model, "messages": [{"role": "system", "content": content}, {"role": "user", "content": content}]}
    with stack.client() as c:
        r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"].endswith("cached context")


@pytest.mark.parametrize(
    "model", ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
)
def test_missing_stream_means_json_on_every_path(stack: Stack, model: str):
    with stack.client() as c:
        r = c.post(
            "/v1/chat/completions", json={"model": model, "messages": [{"role": "user", "content": "no stream"}]}
        )
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
