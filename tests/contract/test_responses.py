"""The OpenAI Responses API (Codex) through the official openai SDK, for every family, on both stacks."""

from __future__ import annotations

import json

import openai
import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.sse_client import stream_raw

MODELS = ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
}


def sdk(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0, timeout=30)


@pytest.mark.parametrize("model", MODELS)
def test_create(stack: Stack, model: str):
    r = sdk(stack).responses.create(model=model, instructions="Be brief.", input="Hello there", max_output_tokens=100)
    assert r.object == "response" and r.status == "completed" and r.id.startswith("resp_")
    assert r.output_text == f"{model} says: Hello there"
    assert r.usage.output_tokens == 4 and r.usage.input_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_stream(stack: Stack, model: str):
    with sdk(stack).responses.stream(model=model, input=[{"role": "user", "content": "Hello stream"}]) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == f"{model} says: Hello stream" == final.output_text
    assert final.status == "completed"


@pytest.mark.parametrize("model", MODELS)
def test_event_sequence_numbers_rise(stack: Stack, model: str):
    with stack.client() as c:
        s = stream_raw(c, "/v1/responses", {"model": model, "input": "seq", "stream": True})
    events = [json.loads(d) for _, d in s.frames]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    names = [e["type"] for e in events]
    assert names[:2] == ["response.created", "response.in_progress"] and names[-1] == "response.completed"
    for required in ("response.output_item.added", "response.content_part.added", "response.output_text.delta"):
        assert required in names
    assert all(name == e["type"] for (name, _), e in zip(s.frames, events, strict=True))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streaming", [False, True], ids=["json", "sse"])
def test_function_call_round_trip(stack: Stack, model: str, streaming: bool):
    client = sdk(stack)
    items: list = [{"role": "user", "content": "Weather in Oslo? use get_weather"}]
    if streaming:
        with client.responses.stream(model=model, input=items, tools=[TOOL]) as stream:
            arg_deltas = [e for e in stream if e.type == "response.function_call_arguments.delta"]
            r = stream.get_final_response()
        assert arg_deltas
    else:
        r = client.responses.create(model=model, input=items, tools=[TOOL])
    (call,) = [o for o in r.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "sim-city", "unit": "c"}
    items += [
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "snow, -3C"},
    ]
    r2 = client.responses.create(model=model, input=items, tools=[TOOL])
    assert "returned" in r2.output_text and "snow, -3C" in r2.output_text


def test_tool_output_separated_from_its_call_is_repaired(stack: Stack, sim: Sim):
    """Codex puts developer messages between a call and its output; the upstream must get them adjacent."""
    items = [
        {"role": "user", "content": "Weather? use get_weather"},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Oslo","unit":"c"}',
        },
        {"role": "developer", "content": "approval: the tool may run"},
        {"type": "function_call_output", "call_id": "call_1", "output": "snow"},
        {"type": "function_call", "call_id": "call_orphan", "name": "get_weather", "arguments": "{}"},
    ]
    mark = sim.mark()
    r = sdk(stack).responses.create(model="gpt-4o", input=items, tools=[TOOL])
    assert r.status == "completed"
    (call,) = sim.calls(mark)
    roles = [m["role"] for m in call["json"]["messages"]]
    assert roles == ["user", "assistant", "tool", "system"]
    assert [c["id"] for c in call["json"]["messages"][1]["tool_calls"]] == ["call_1"]


def test_previous_response_id_is_a_clear_400(stack: Stack):
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        sdk(stack).responses.create(model="gpt-4o", input="x", previous_response_id="resp_123")


def test_unknown_model_is_404(stack: Stack):
    with pytest.raises(openai.NotFoundError):
        sdk(stack).responses.create(model="nope", input="x")
