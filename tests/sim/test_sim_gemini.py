"""Gemini via Vertex AI: shape, protobuf-style validation, stream framings, tools, thinking."""

from __future__ import annotations

import orjson
import pytest
from sim_helpers import WEATHER_ARGS, WEATHER_SCHEMA, Sim, sse_json

DEP, MODEL = "da-gemini-2-5-pro", "gemini-2.5-pro"
FUNCS = [{"functionDeclarations": [{"name": "get_weather", "description": "w", "parameters": WEATHER_SCHEMA}]}]


def gen(sim: Sim, b: dict, stream: bool = False, dep: str = DEP, model: str = MODEL):
    method = "streamGenerateContent" if stream else "generateContent"
    return sim.post(dep, f"models/{model}:{method}", b)


def body(text: str = "hello there", **extra) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}


def test_non_streaming_shape(sim: Sim) -> None:
    out = gen(sim, body(systemInstruction={"parts": [{"text": "be brief"}]})).json()
    cand = out["candidates"][0]
    assert cand["content"] == {"role": "model", "parts": [{"text": "gemini-2.5-pro says: hello there"}]}
    assert cand["finishReason"] == "STOP"
    usage = out["usageMetadata"]
    assert (usage["promptTokenCount"], usage["candidatesTokenCount"], usage["totalTokenCount"]) == (6, 4, 10)
    assert out["modelVersion"] == MODEL


def test_sap_style_single_objects_and_snake_case(sim: Sim) -> None:
    b = {
        "contents": {"role": "user", "parts": {"text": "hi"}},
        "generation_config": {"maxOutputTokens": 100, "temperature": 0.2},
        "safety_settings": {"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT", "threshold": "BLOCK_LOW_AND_ABOVE"},
    }
    resp = gen(sim, b)
    assert resp.status_code == 200
    assert resp.json()["candidates"][0]["content"]["parts"][0]["text"] == "gemini-2.5-pro says: hi"


@pytest.mark.parametrize(
    ("b", "name", "where"),
    [
        (body(generation_config={"foo": 1}), "foo", "generation_config"),
        (body(generationConfig={"thinkingConfig": {"bogus": True}}), "bogus", "generation_config.thinking_config"),
        ({"contents": [{"role": "user", "parts": [{"text": "x", "bar": 1}]}]}, "bar", "contents[0].parts[0]"),
        (body(extra=1), "extra", None),
    ],
)
def test_unknown_fields(sim: Sim, b: dict, name: str, where: str | None) -> None:
    resp = gen(sim, b)
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and err["code"] == 400
    suffix = f" at '{where}'" if where else ""
    assert err["message"] == f'Invalid JSON payload received. Unknown name "{name}"{suffix}: Cannot find field.'


@pytest.mark.parametrize(
    "bad",
    [
        {"additionalProperties": False},
        {"$schema": "x"},
        {"$defs": {}},
        {"properties": {"a": {"type": "string", "$ref": "#/x"}}},
    ],
)
def test_function_schema_subset(sim: Sim, bad: dict) -> None:
    params = {"type": "object", **bad}
    tools = [{"functionDeclarations": [{"name": "f", "parameters": params}]}]
    resp = gen(sim, body(tools=tools))
    assert resp.status_code == 400
    assert "Unknown name" in resp.json()["error"]["message"]
    assert "tools[0].function_declarations[0].parameters" in resp.json()["error"]["message"]


def test_roles_and_contents(sim: Sim) -> None:
    assert gen(sim, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}).status_code == 400
    assert gen(sim, {"contents": []}).status_code == 400
    assert gen(sim, {"contents": [{"role": "user", "parts": []}]}).status_code == 400
    assert gen(sim, {"contents": [{"role": "user", "parts": [{"text": 5}]}]}).status_code == 400


def test_function_call_and_response(sim: Sim) -> None:
    config = {"functionCallingConfig": {"mode": "ANY"}}
    out = gen(sim, body("weather?", tools=FUNCS, toolConfig=config)).json()
    part = out["candidates"][0]["content"]["parts"][0]
    assert part == {"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}
    assert out["candidates"][0]["finishReason"] == "STOP"
    none = {"functionCallingConfig": {"mode": "NONE"}}
    out = gen(sim, body("get_weather please", tools=FUNCS, toolConfig=none)).json()
    assert "text" in out["candidates"][0]["content"]["parts"][0]
    history = {
        "contents": [
            {"role": "user", "parts": [{"text": "weather?"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "22C"}}}]},
        ],
        "tools": FUNCS,
    }
    out = gen(sim, history).json()
    assert out["candidates"][0]["content"]["parts"][0]["text"] == "Tool get_weather returned: 22C"
    history["contents"][1]["parts"] *= 2  # two calls, one response
    assert gen(sim, history).status_code == 400


def test_sse_stream_cumulative_usage(sim: Sim) -> None:
    resp = gen(sim, body(), stream=True)
    assert resp.headers["content-type"].startswith("text/event-stream")
    chunks = sse_json(resp.content)
    assert len(chunks) == 4
    assert (
        "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "gemini-2.5-pro says: hello there"
    )
    assert [c["usageMetadata"]["candidatesTokenCount"] for c in chunks] == [1, 2, 3, 4]
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_jsonl_and_array_framings(sim: Sim) -> None:
    raw = gen(sim, body(), stream=True, dep="da-gemini-jsonl", model="gemini-2.5-flash").content
    lines = [orjson.loads(line) for line in raw.decode().splitlines() if line]
    assert lines[-1]["candidates"][0]["finishReason"] == "STOP" and len(lines) == 4
    raw = gen(sim, body(), stream=True, dep="da-gemini-array", model="gemini-2.5-flash").content
    assert raw.startswith(b"[{") and raw.endswith(b"]")
    items = orjson.loads(raw)
    assert len(items) == 4 and items[-1]["usageMetadata"]["candidatesTokenCount"] == 4


def test_streamed_function_call_is_one_chunk_and_thoughts_come_first(sim: Sim) -> None:
    config = {"thinkingConfig": {"includeThoughts": True}}
    b = body(
        "weather?",
        tools=FUNCS,
        toolConfig={"functionCallingConfig": {"allowedFunctionNames": ["get_weather"]}},
        generationConfig=config,
    )
    chunks = sse_json(gen(sim, b, stream=True).content)
    parts = [c["candidates"][0]["content"]["parts"][0] for c in chunks]
    assert all(p.get("thought") for p in parts[:-1])
    assert parts[-1] == {"functionCall": {"name": "get_weather", "args": WEATHER_ARGS}}
    assert "".join(p["text"] for p in parts[:-1]) == "Thinking about: weather?"
    assert chunks[-1]["usageMetadata"]["thoughtsTokenCount"] == 3
    out = gen(sim, body("why", generationConfig=config)).json()
    assert out["candidates"][0]["content"]["parts"][0] == {"text": "Thinking about: why", "thought": True}
    assert out["usageMetadata"]["thoughtsTokenCount"] == 3


def test_limits(sim: Sim) -> None:
    out = gen(sim, body("a b c", generationConfig={"maxOutputTokens": 2})).json()
    assert out["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert out["candidates"][0]["content"]["parts"][0]["text"] == "gemini-2.5-pro says:"
    out = gen(sim, body("a b c", generationConfig={"stopSequences": [" b"]})).json()
    assert out["candidates"][0]["content"]["parts"][0]["text"] == "gemini-2.5-pro says: a"
    assert out["candidates"][0]["finishReason"] == "STOP"
    image = {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
    out = gen(sim, {"contents": [{"role": "user", "parts": [{"text": "see"}, image]}]}).json()
    assert out["candidates"][0]["content"]["parts"][0]["text"] == "gemini-2.5-pro says: see [images: 1]"
