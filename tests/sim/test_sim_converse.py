"""Claude via Bedrock Converse: shape, cache_control refusal, stream frames (JSON and Python literal)."""

from __future__ import annotations

import orjson
import pytest
from sim_helpers import WEATHER_ARGS, WEATHER_SCHEMA, Sim, sse_json, sse_literals, sse_payloads

JSON_DEP, LITERAL_DEP = "da-claude-4-sonnet", "da-claude-3-7-sonnet"
TOOL_CONFIG = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": WEATHER_SCHEMA}}}]}


def turn(role: str, *blocks: dict) -> dict:
    return {"role": role, "content": list(blocks)}


def body(text: str = "hello there", **extra) -> dict:
    return {"messages": [turn("user", {"text": text})], **extra}


def test_non_streaming_shape(sim: Sim) -> None:
    resp = sim.post(JSON_DEP, "converse", body(system=[{"text": "be brief"}], inferenceConfig={"maxTokens": 100}))
    assert resp.status_code == 200
    out = resp.json()
    assert out["output"]["message"] == {
        "role": "assistant",
        "content": [{"text": "anthropic--claude-4-sonnet says: hello there"}],
    }
    assert out["stopReason"] == "end_turn"
    assert out["usage"] == {"inputTokens": 6, "outputTokens": 4, "totalTokens": 10}
    assert "latencyMs" in out["metrics"]


@pytest.mark.parametrize("where", ["message", "system", "tool", "nested"])
def test_cache_control_anywhere_is_400_with_empty_body(sim: Sim, where: str) -> None:
    cc = {"type": "ephemeral"}
    b = body()
    if where == "message":
        b["messages"][0]["content"][0]["cache_control"] = cc
    elif where == "system":
        b["system"] = [{"text": "s", "cache_control": cc}]
    elif where == "tool":
        b["toolConfig"] = {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {}}}, "cache_control": cc}]}
    else:
        b["additionalModelRequestFields"] = {"x": [{"cache_control": cc}]}
    for suffix in ("converse", "converse-stream"):
        resp = sim.post(JSON_DEP, suffix, b)
        assert resp.status_code == 400
        assert resp.content == b"{}"


def test_validation(sim: Sim) -> None:
    assert sim.post(JSON_DEP, "converse", body(stream=True)).status_code == 400
    assert sim.post(JSON_DEP, "converse", body(inferenceConfig={"max_tokens": 5})).status_code == 400
    two_users = {"messages": [turn("user", {"text": "a"}), turn("user", {"text": "b"})]}
    assert "alternate" in sim.post(JSON_DEP, "converse", two_users).json()["message"]
    assert sim.post(JSON_DEP, "converse", {"messages": [turn("assistant", {"text": "a"})]}).status_code == 400
    assert (
        sim.post(JSON_DEP, "converse", {"messages": [turn("user", {"type": "text", "text": "a"})]}).status_code == 400
    )
    assert sim.post(JSON_DEP, "converse", {"messages": []}).status_code == 400
    use = {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {}}}
    result = {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "22C"}]}}
    history = {"messages": [turn("user", {"text": "w?"}), turn("assistant", use), turn("user", result)]}
    assert "toolConfig" in sim.post(JSON_DEP, "converse", history).json()["message"]
    out = sim.post(JSON_DEP, "converse", {**history, "toolConfig": TOOL_CONFIG}).json()
    assert out["output"]["message"]["content"] == [{"text": "Tool get_weather returned: 22C"}]


def test_json_stream_frames(sim: Sim) -> None:
    resp = sim.post(JSON_DEP, "converse-stream", body())
    events = sse_json(resp.content)
    keys = [next(iter(e)) for e in events]
    assert keys[0] == "messageStart" and keys[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert all(len(e) == 1 for e in events)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "anthropic--claude-4-sonnet says: hello there"
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 4


def test_python_literal_stream_frames(sim: Sim) -> None:
    raw = sim.post(LITERAL_DEP, "converse-stream", body()).content
    payloads = sse_payloads(raw)
    assert all(p.startswith("{'") for p in payloads)
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(payloads[0])
    events = sse_literals(raw)
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "anthropic--claude-3.7-sonnet says: hello there"
    assert "metadata" in events[-1]


def test_streamed_tool_use_in_python_literals(sim: Sim) -> None:
    b = body("what is the weather", toolConfig={**TOOL_CONFIG, "toolChoice": {"tool": {"name": "get_weather"}}})
    events = sse_literals(sim.post(LITERAL_DEP, "converse-stream", b).content)
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["start"]["toolUse"]["name"] == "get_weather"
    assert start["start"]["toolUse"]["toolUseId"].startswith("tooluse_")
    index = start["contentBlockIndex"]
    parts = [
        e["contentBlockDelta"]["delta"]["toolUse"]["input"]
        for e in events
        if "contentBlockDelta" in e and e["contentBlockDelta"]["contentBlockIndex"] == index
    ]
    assert 2 <= len(parts) <= 3 and orjson.loads("".join(parts)) == WEATHER_ARGS
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == "tool_use"


def test_non_streaming_tool_use(sim: Sim) -> None:
    out = sim.post(JSON_DEP, "converse", body("call get_weather", toolConfig=TOOL_CONFIG)).json()
    content = out["output"]["message"]["content"]
    assert content[0] == {"text": "Calling get_weather."}
    assert content[1]["toolUse"]["input"] == WEATHER_ARGS
    assert out["stopReason"] == "tool_use"


def test_cache_points_and_reasoning(sim: Sim) -> None:
    b = body(system=[{"text": "y" * 40}, {"cachePoint": {"type": "default"}}])
    usage = sim.post(JSON_DEP, "converse", b).json()["usage"]
    assert usage["cacheReadInputTokens"] == 10
    assert "cacheReadInputTokens" not in sim.post(JSON_DEP, "converse", body()).json()["usage"]
    thinking = body(
        "why",
        inferenceConfig={"maxTokens": 3000},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    content = sim.post(JSON_DEP, "converse", thinking).json()["output"]["message"]["content"]
    assert content[0]["reasoningContent"]["reasoningText"]["text"] == "Thinking about: why"
    events = sse_json(sim.post(JSON_DEP, "converse-stream", thinking).content)
    reasoning = [
        e["contentBlockDelta"]["delta"]["reasoningContent"]
        for e in events
        if "contentBlockDelta" in e and "reasoningContent" in e["contentBlockDelta"]["delta"]
    ]
    assert "".join(r.get("text", "") for r in reasoning) == "Thinking about: why"
    assert "signature" in reasoning[-1]


def test_limits(sim: Sim) -> None:
    out = sim.post(JSON_DEP, "converse", body("a b c", inferenceConfig={"maxTokens": 2})).json()
    assert out["stopReason"] == "max_tokens"
    assert out["output"]["message"]["content"][0]["text"] == "anthropic--claude-4-sonnet says:"
    out = sim.post(JSON_DEP, "converse", body("a b c", inferenceConfig={"stopSequences": ["b"]})).json()
    assert out["stopReason"] == "stop_sequence"
    assert out["output"]["message"]["content"][0]["text"] == "anthropic--claude-4-sonnet says: a "
