"""Claude via Bedrock InvokeModel: shape, stream events, Bedrock's refusals, tools, thinking, caching."""

from __future__ import annotations

import math

import orjson
import pytest
from sim_helpers import WEATHER_ARGS, WEATHER_SCHEMA, Sim, sse_json, user

DEP = "da-claude-4-sonnet"
TOOLS = [{"name": "get_weather", "description": "weather", "input_schema": WEATHER_SCHEMA}]


def body(*messages: dict, **extra) -> dict:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "messages": list(messages) or [user("hello there")],
        **extra,
    }


def invoke(sim: Sim, b: dict, stream: bool = False):
    return sim.post(DEP, "invoke-with-response-stream" if stream else "invoke", b)


def test_non_streaming_shape(sim: Sim) -> None:
    resp = invoke(sim, body(system="be brief"))
    assert resp.status_code == 200
    msg = resp.json()
    assert msg["id"].startswith("msg_bdrk_")
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["model"] == "claude-sonnet-4-20250514"
    assert msg["content"] == [{"type": "text", "text": "anthropic--claude-4-sonnet says: hello there"}]
    assert msg["stop_reason"] == "end_turn" and msg["stop_sequence"] is None
    assert msg["usage"] == {
        "input_tokens": math.ceil(len("be briefuserhello there") / 4),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 4,
    }


@pytest.mark.parametrize("key", ["model", "stream", "metadata", "context_management", "output_config"])
def test_extraneous_top_level_keys(sim: Sim, key: str) -> None:
    resp = invoke(sim, body(**{key: "x"}))
    assert resp.status_code == 400
    assert resp.json() == {
        "message": f"Malformed input request: #: extraneous key [{key}] is not permitted, "
        "please reformat your input and try again."
    }


def test_version_and_max_tokens(sim: Sim) -> None:
    b = body()
    b["anthropic_version"] = "2023-06-01"
    assert invoke(sim, b).status_code == 400
    b = body()
    del b["max_tokens"]
    assert "required key [max_tokens]" in invoke(sim, b).json()["message"]
    thinking = {"type": "enabled", "budget_tokens": 2000}
    assert invoke(sim, body(thinking=thinking)).status_code == 400  # max_tokens 200 <= budget
    assert invoke(sim, {**body(thinking=thinking), "max_tokens": 3000}).status_code == 200


def test_message_structure(sim: Sim) -> None:
    assistant = {"role": "assistant", "content": "ok"}
    assert invoke(sim, body({"role": "system", "content": "x"}, user("hi"))).status_code == 400
    assert invoke(sim, body(assistant, user("hi"))).status_code == 400
    assert invoke(sim, body(user("a"), user("b"))).status_code == 400
    assert invoke(sim, body(user("a"), assistant, user("b"))).status_code == 200
    assert invoke(sim, body({"role": "user", "content": [{"type": "video", "x": 1}]})).status_code == 400
    assert invoke(sim, body({"role": "user", "content": [{"type": "text", "text": ""}]})).status_code == 400
    url_image = {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
    assert invoke(sim, body({"role": "user", "content": [url_image]})).status_code == 400
    extra = {"type": "text", "text": "hi", "foo": 1}
    assert "extraneous key [foo]" in invoke(sim, body({"role": "user", "content": [extra]})).json()["message"]


def test_tool_result_must_match_previous_tool_use(sim: Sim) -> None:
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
    asked = {"role": "assistant", "content": [use]}
    wrong = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"}]}
    assert invoke(sim, body(user("w?"), asked, wrong, tools=TOOLS)).status_code == 400
    assert invoke(sim, body(user("w?"), asked, user("no result"), tools=TOOLS)).status_code == 400
    right = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "22C"}]}],
    }
    msg = invoke(sim, body(user("w?"), asked, right, tools=TOOLS)).json()
    assert msg["content"][0]["text"] == "Tool get_weather returned: 22C"


@pytest.mark.parametrize(
    "tool",
    [
        {"type": "web_search_20250305", "name": "web_search"},
        {"type": "bash_20241022", "name": "bash"},
        {"name": "t", "input_schema": {"type": "object"}, "input_examples": [{}]},
        {"name": "t", "input_schema": {"type": "object"}, "defer_loading": True},
        {"name": "t"},
    ],
)
def test_tool_refusals(sim: Sim, tool: dict) -> None:
    assert invoke(sim, body(tools=[tool])).status_code == 400


def test_tool_call_non_streaming(sim: Sim) -> None:
    msg = invoke(sim, body(user("weather?"), tools=TOOLS, tool_choice={"type": "any"})).json()
    assert msg["stop_reason"] == "tool_use"
    assert msg["content"][0] == {"type": "text", "text": "Calling get_weather."}
    use = msg["content"][1]
    assert use["type"] == "tool_use" and use["id"].startswith("toolu_bdrk_")
    assert use["name"] == "get_weather" and use["input"] == WEATHER_ARGS


def test_stream_events_and_usage_placement(sim: Sim) -> None:
    events = sse_json(invoke(sim, body(), stream=True).content)
    types = [e["type"] for e in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    start = events[0]["message"]
    assert start["id"].startswith("msg_bdrk_") and start["usage"]["input_tokens"] == 4
    assert {"cache_read_input_tokens", "cache_creation_input_tokens"} <= set(start["usage"])
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == "anthropic--claude-4-sonnet says: hello there"
    assert events[-2]["delta"]["stop_reason"] == "end_turn" and events[-2]["usage"]["output_tokens"] == 4
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == 4 and metrics["outputTokenCount"] == 4


def test_streamed_tool_use(sim: Sim) -> None:
    events = sse_json(invoke(sim, body(user("use get_weather"), tools=TOOLS), stream=True).content)
    starts = [e["content_block"] for e in events if e["type"] == "content_block_start"]
    assert [s["type"] for s in starts] == ["text", "tool_use"]
    assert starts[1]["input"] == {} and starts[1]["id"].startswith("toolu_bdrk_")
    parts = [
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    ]
    assert 2 <= len(parts) <= 3 and orjson.loads("".join(parts)) == WEATHER_ARGS
    assert events[-2]["delta"]["stop_reason"] == "tool_use"


def test_thinking(sim: Sim) -> None:
    b = {**body(user("deep question")), "max_tokens": 3000, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    msg = invoke(sim, b).json()
    assert msg["content"][0]["type"] == "thinking"
    assert msg["content"][0]["thinking"] == "Thinking about: deep question"
    assert msg["content"][0]["signature"]
    assert msg["usage"]["output_tokens"] == 4 + 4  # reply words + thinking words
    events = sse_json(invoke(sim, b, stream=True).content)
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert "".join(d.get("thinking", "") for d in deltas) == "Thinking about: deep question"
    assert deltas[-1]["type"] == "signature_delta"
    assert {d["type"] for d in deltas[:-1]} == {"thinking_delta"}


def test_cache_read_tokens(sim: Sim) -> None:
    system = [{"type": "text", "text": "x" * 401, "cache_control": {"type": "ephemeral"}}]
    msg = invoke(sim, body(system=system)).json()
    assert msg["usage"]["cache_read_input_tokens"] == 101
    assert msg["usage"]["cache_creation_input_tokens"] == 0
    start = sse_json(invoke(sim, body(system=system), stream=True).content)[0]
    assert start["message"]["usage"]["cache_read_input_tokens"] == 101


def test_limits(sim: Sim) -> None:
    msg = invoke(sim, {**body(user("a b c d")), "max_tokens": 2}).json()
    assert msg["content"][0]["text"] == "anthropic--claude-4-sonnet says:"
    assert msg["stop_reason"] == "max_tokens"
    msg = invoke(sim, body(user("a b END c"), stop_sequences=["END"])).json()
    assert msg["content"][0]["text"] == "anthropic--claude-4-sonnet says: a b "
    assert (msg["stop_reason"], msg["stop_sequence"]) == ("stop_sequence", "END")
    events = sse_json(invoke(sim, body(user("a b END c"), stop_sequences=["END"]), stream=True).content)
    assert events[-2]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "END"}
