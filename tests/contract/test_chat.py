"""Chat Completions through the official openai SDK, for every model family, on both stacks."""

from __future__ import annotations

import base64
import json
import re

import openai
import pytest

from tests.contract.conftest import Stack

# (model, upstream path) - the sim's default topology; the 3.7 model is configured for Converse.
MODELS = ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
CLAUDE = {"anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet"}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}
# 1x1 transparent PNG
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


def sdk(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{stack.url}/v1", api_key=stack.key, max_retries=0, timeout=30)


def ask(text: str, system: str | None = "Be brief.") -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    return [*messages, {"role": "user", "content": text}]


@pytest.mark.parametrize("model", MODELS)
def test_non_streaming_text_usage_and_finish(stack: Stack, model: str):
    r = sdk(stack).chat.completions.create(model=model, messages=ask("Hello there"), max_tokens=100)
    assert r.object == "chat.completion"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content == f"{model} says: Hello there"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.completion_tokens == 4
    assert r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


@pytest.mark.parametrize("model", MODELS)
def test_streaming_text_with_usage(stack: Stack, model: str):
    chunks = list(
        sdk(stack).chat.completions.create(
            model=model, messages=ask("Hello there"), stream=True, stream_options={"include_usage": True}
        )
    )
    with_choices = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in with_choices) == f"{model} says: Hello there"
    assert [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1, "one id per stream"
    roles = [c.choices[0].delta.role for c in with_choices if c.choices[0].delta.role]
    assert roles == ["assistant"]


@pytest.mark.parametrize("model", MODELS)
def test_streaming_without_include_usage_sends_no_usage(stack: Stack, model: str):
    chunks = list(sdk(stack).chat.completions.create(model=model, messages=ask("Hi"), stream=True))
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", MODELS)
def test_max_tokens_truncates_with_length(stack: Stack, model: str):
    r = sdk(stack).chat.completions.create(model=model, messages=ask("one two three four"), max_tokens=2)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 2


@pytest.mark.parametrize("model", MODELS)
def test_stop_sequence(stack: Stack, model: str):
    r = sdk(stack).chat.completions.create(model=model, messages=ask("alpha beta gamma"), stop=["gamma"])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content.rstrip() == f"{model} says: alpha beta"


@pytest.mark.parametrize("model", MODELS)
def test_tool_call_and_result_round_trip(stack: Stack, model: str):
    client = sdk(stack)
    messages = ask("What is the weather in Paris? Use get_weather.")
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "sim-city", "unit": "c"}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
    ]
    r2 = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r2.choices[0].finish_reason == "stop"
    assert re.fullmatch(r"Tool \S+ returned: .*sunny, 21C.*", r2.choices[0].message.content)


@pytest.mark.parametrize("model", MODELS)
def test_streamed_tool_call(stack: Stack, model: str):
    chunks = list(
        sdk(stack).chat.completions.create(
            model=model, messages=ask("Call get_weather please"), tools=[WEATHER_TOOL], stream=True
        )
    )
    calls: dict[int, dict] = {}
    fragments = 0
    for c in chunks:
        for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
                fragments += 1
    assert list(calls) == [0]
    assert calls[0]["id"] and calls[0]["name"] == "get_weather"
    assert json.loads(calls[0]["arguments"]) == {"city": "sim-city", "unit": "c"}
    if model in CLAUDE or model == "gpt-4o":
        assert fragments >= 2, "arguments must be streamed as they arrive, not buffered"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


@pytest.mark.parametrize("model", MODELS)
def test_image_as_data_url(stack: Stack, model: str):
    content = [
        {"type": "text", "text": "Describe this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    r = sdk(stack).chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    assert r.choices[0].message.content == f"{model} says: Describe this [images: 1]"


@pytest.mark.parametrize("model", ["anthropic--claude-4-sonnet", "gemini-2.5-pro"])
def test_remote_image_url_is_a_clear_400(stack: Stack, model: str):
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    with pytest.raises(openai.BadRequestError, match="data URL"):
        sdk(stack).chat.completions.create(model=model, messages=[{"role": "user", "content": content}])


@pytest.mark.parametrize("model", MODELS)
def test_multi_turn_with_late_system_message(stack: Stack, model: str):
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "system", "content": "late rule"},
        {"role": "user", "content": "second question"},
    ]
    r = sdk(stack).chat.completions.create(model=model, messages=messages)
    assert r.choices[0].message.content == f"{model} says: second question"
