"""The Anthropic Messages API through the official anthropic SDK, for every family, on both stacks."""

from __future__ import annotations

import json
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.sse_client import stream_raw

MODELS = ["anthropic--claude-4-sonnet", "gpt-4o", "gemini-2.5-pro"]
TOOL = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
}
CLAUDE_CODE = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic-claude-code-request.json"
# (output_config is no longer here: Claude 4.5 takes output_config.format, and the proxy sends
# it where the generation has it — tests/unit/test_fit_to_model.py.)
REJECTED_BY_BEDROCK = {
    "model",
    "stream",
    "metadata",
    "context_management",
    "input_examples",
    "defer_loading",
}


def sdk(stack: Stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=stack.url, api_key=stack.key, max_retries=0, timeout=30)


@pytest.mark.parametrize("model", MODELS)
def test_create(stack: Stack, model: str):
    msg = sdk(stack).messages.create(
        model=model, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert msg.type == "message" and msg.role == "assistant" and msg.model == model
    assert [b.type for b in msg.content] == ["text"]
    assert msg.content[0].text == f"{model} says: Hello there"
    assert msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens == 4


@pytest.mark.parametrize("model", MODELS)
def test_stream_text(stack: Stack, model: str):
    with sdk(stack).messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "Hello stream"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"{model} says: Hello stream"
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 4


@pytest.mark.parametrize("model", MODELS)
def test_event_sequence_on_the_wire(stack: Stack, model: str):
    body = {"model": model, "max_tokens": 50, "stream": True, "messages": [{"role": "user", "content": "seq"}]}
    with stack.client() as c:
        s = stream_raw(c, "/v1/messages?beta=true", body)
    names = [e for e, _ in s.frames]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "content_block_start" in names and "content_block_delta" in names and "content_block_stop" in names
    assert all(json.loads(d)["type"] == e for e, d in s.frames), "event name equals the data's type"
    assert "[DONE]" not in s.data
    delta = json.loads(s.frames[-2][1])
    assert delta["delta"]["stop_reason"] == "end_turn" and delta["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_tool_use_round_trip(stack: Stack, model: str, streaming: bool):
    client = sdk(stack)
    messages = [{"role": "user", "content": "Weather in Paris? use get_weather"}]
    if streaming:
        with client.messages.stream(model=model, max_tokens=200, tools=[TOOL], messages=messages) as stream:
            msg = stream.get_final_message()
    else:
        msg = client.messages.create(model=model, max_tokens=200, tools=[TOOL], messages=messages)
    assert msg.stop_reason == "tool_use"
    (call,) = [b for b in msg.content if b.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "sim-city", "unit": "c"}
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in msg.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}]},
    ]
    reply = client.messages.create(model=model, max_tokens=200, tools=[TOOL], messages=messages)
    assert reply.stop_reason == "end_turn"
    assert "returned" in reply.content[0].text and "sunny, 21C" in reply.content[0].text


@pytest.mark.parametrize("model", MODELS)
def test_count_tokens(stack: Stack, model: str):
    client = sdk(stack)
    short = client.messages.count_tokens(model=model, messages=[{"role": "user", "content": "hi"}])
    longer = client.messages.count_tokens(
        model=model, system="You are helpful.", tools=[TOOL], messages=[{"role": "user", "content": "hi " * 200}]
    )
    assert 0 < short.input_tokens < longer.input_tokens


def test_claude_code_request_is_made_acceptable_to_bedrock(stack: Stack, sim: Sim):
    doc = json.loads(CLAUDE_CODE.read_text())
    mark = sim.mark()
    with stack.client() as c:
        s = stream_raw(
            c,
            "/v1/messages?beta=true",
            doc,
            headers={"anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"},
        )
    assert s.status == 200, s.body
    assert [e for e, _ in s.frames][-1] == "message_stop"
    (call,) = sim.calls(mark)
    assert call["status"] == 200 and call["path"].endswith("/invoke-with-response-stream")
    assert call["deployment"] == "da-claude-4-5-sonnet"  # claude-sonnet-4-5-20250929: same tier and generation
    sent = call["json"]
    assert sent["output_config"] == doc["output_config"]  # structured output, natively on Claude 4.5

    def keys(value):
        if isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield from keys(v)
        elif isinstance(value, list):
            for v in value:
                yield from keys(v)

    assert not (set(keys(sent)) & REJECTED_BY_BEDROCK)
    assert sent["max_tokens"] > sent["thinking"]["budget_tokens"] == 31999
    assert sent.get("anthropic_beta") == ["interleaved-thinking-2025-05-14"]
    assert all(m["role"] in ("user", "assistant") for m in sent["messages"])


def test_unknown_model_is_404_not_found_error(stack: Stack):
    with pytest.raises(anthropic.NotFoundError) as info:
        sdk(stack).messages.create(model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert info.value.body["error"]["type"] == "not_found_error"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK warns about the dated name itself
def test_dated_claude_name_reaches_the_model_of_its_tier_and_generation(stack: Stack):
    msg = sdk(stack).messages.create(
        model="claude-sonnet-4-5-20250929", max_tokens=10, messages=[{"role": "user", "content": "tier"}]
    )
    assert msg.content[0].text == "anthropic--claude-4.5-sonnet says: tier"
    assert msg.model == "claude-sonnet-4-5-20250929"


def test_claude_name_of_an_unconfigured_tier_uses_the_configured_fallback(stack: Stack):
    msg = sdk(stack).messages.create(
        model="claude-fable-5", max_tokens=10, messages=[{"role": "user", "content": "fallback"}]
    )
    assert msg.content[0].text == "anthropic--claude-4-sonnet says: fallback"


def test_errors_use_the_anthropic_shape(stack: Stack):
    r = httpx.post(f"{stack.url}/v1/messages", headers={"x-api-key": "wrong"}, json={})
    assert r.status_code == 401
    assert r.json() == {"type": "error", "error": {"type": "authentication_error", "message": "invalid API key"}}
    with stack.client() as c:
        bad = c.post("/v1/messages", json={"model": "gpt-4o", "max_tokens": 5, "messages": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_telemetry_sink_accepts_without_auth(stack: Stack):
    r = httpx.post(f"{stack.url}/api/event_logging/batch", json={"events": [{"event_name": "x"}]})
    assert r.status_code == 200
