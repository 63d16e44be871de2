"""Azure OpenAI chat completions: shape, streaming framing, strict validation, tools."""

from __future__ import annotations

import orjson
from sim_helpers import WEATHER_ARGS, WEATHER_SCHEMA, Sim, sse_json, sse_payloads, user

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA}}]


def chat(sim: Sim, body: dict, dep: str = "da-gpt-4o"):
    return sim.post(dep, "chat/completions", body)


def test_non_streaming_shape(sim: Sim) -> None:
    resp = chat(sim, {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"}, user("hello there")]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-2024-08-06"
    choice = body["choices"][0]
    assert choice["message"] == {
        "role": "assistant",
        "content": "gpt-4o says: hello there",
        "refusal": None,
        "annotations": [],
    }
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == 4
    assert usage["prompt_tokens"] == 8  # ceil(len("system" "be brief" "user" "hello there") / 4) = ceil(29 / 4)
    assert usage["total_tokens"] == 12
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0


def test_ids_are_fresh_for_identical_requests(sim: Sim) -> None:
    body = {"messages": [user("same")]}
    ids = {chat(sim, body).json()["id"] for _ in range(3)}
    assert len(ids) == 3


def test_stream_framing_without_usage(sim: Sim) -> None:
    resp = chat(sim, {"messages": [user("hello there")], "stream": True})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["transfer-encoding"] == "chunked"
    payloads = sse_payloads(resp.content)
    assert payloads[-1] == "[DONE]"
    chunks = sse_json(resp.content)
    assert chunks[0]["choices"] == [] and "prompt_filter_results" in chunks[0]
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[1]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[1:])
    assert text == "gpt-4o says: hello there"
    assert [c["choices"][0]["delta"]["content"] for c in chunks[2:6]] == ["gpt-4o ", "says: ", "hello ", "there"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_stream_usage_only_in_extra_final_chunk(sim: Sim) -> None:
    body = {"messages": [user("hello there")], "stream": True, "stream_options": {"include_usage": True}}
    chunks = sse_json(chat(sim, body).content)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4
    assert all(c.get("usage") is None for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_unknown_argument_is_refused(sim: Sim) -> None:
    resp = chat(sim, {"messages": [user("hi")], "foo": 1})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Unrecognized request argument supplied: foo"


def test_reasoning_model_rules(sim: Sim) -> None:
    resp = chat(sim, {"messages": [user("hi")], "max_tokens": 10}, "da-gpt-5")
    assert resp.status_code == 400
    assert resp.json()["error"]["param"] == "max_tokens"
    resp = chat(sim, {"messages": [user("hi")], "temperature": 0.5}, "da-gpt-5")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "unsupported_value"
    ok = chat(sim, {"messages": [user("hi")], "max_completion_tokens": 10, "temperature": 1}, "da-gpt-5")
    assert ok.status_code == 200
    body = ok.json()
    assert body["model"].startswith("gpt-5-")
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2
    assert body["usage"]["completion_tokens"] == 3 + 2
    assert chat(sim, {"messages": [user("hi")], "max_tokens": 10, "temperature": 0.2}).status_code == 200


def test_message_validation(sim: Sim) -> None:
    assert chat(sim, {"messages": []}).status_code == 400
    assert chat(sim, {}).status_code == 400
    assert chat(sim, {"messages": [{"role": "bot", "content": "x"}]}).status_code == 400
    assert chat(sim, {"messages": [{"role": "user", "content": "x", "cache_control": {}}]}).status_code == 400
    assert chat(sim, {"messages": [user("x")], "stream": "yes"}).status_code == 400
    assert chat(sim, {"messages": [user("x")], "stream_options": {"include_usage": True}}).status_code == 400
    orphan = {"messages": [user("x"), {"role": "tool", "tool_call_id": "call_1", "content": "r"}]}
    assert chat(sim, orphan).status_code == 400
    assert chat(sim, {"messages": [user("x")], "tool_choice": "auto"}).status_code == 400
    bad_tool = {"messages": [user("x")], "tools": [{"type": "function", "function": {"name": "has space"}}]}
    assert chat(sim, bad_tool).status_code == 400


def test_forced_tool_call(sim: Sim) -> None:
    body = {"messages": [user("what is the weather?")], "tools": TOOLS, "tool_choice": "required"}
    choice = chat(sim, body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == WEATHER_ARGS


def test_tool_named_in_text_is_called_unless_forbidden(sim: Sim) -> None:
    body = {"messages": [user("please use get_weather")], "tools": TOOLS}
    assert chat(sim, body).json()["choices"][0]["finish_reason"] == "tool_calls"
    body["tool_choice"] = "none"
    assert chat(sim, body).json()["choices"][0]["message"]["content"] == "gpt-4o says: please use get_weather"
    plain = {"messages": [user("no tool mentioned")], "tools": TOOLS}
    assert chat(sim, plain).json()["choices"][0]["finish_reason"] == "stop"


def test_call_spelled_out_in_text_gets_those_arguments(sim: Sim) -> None:
    """The agent tier's convention: a tool's name, then a JSON object, is that exact call."""
    ask = 'Mention of get_weather first. Now call the get_weather tool with {"city": "Walldorf", "days": 3} please'
    call = chat(sim, {"messages": [user(ask)], "tools": TOOLS}).json()["choices"][0]["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert orjson.loads(call["function"]["arguments"]) == {**WEATHER_ARGS, "city": "Walldorf", "days": 3}
    too_far = 'get_weather, and much later, after many more words than a few: {"city": "Walldorf"}'
    call = chat(sim, {"messages": [user(too_far)], "tools": TOOLS}).json()["choices"][0]["message"]["tool_calls"][0]
    assert orjson.loads(call["function"]["arguments"]) == WEATHER_ARGS
    forbidden = {"messages": [user(ask)], "tools": TOOLS, "tool_choice": "none"}
    assert chat(sim, forbidden).json()["choices"][0]["finish_reason"] == "stop"


def test_streamed_tool_call_fragments(sim: Sim) -> None:
    body = {
        "messages": [user("weather?")],
        "tools": TOOLS,
        "stream": True,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }
    chunks = sse_json(chat(sim, body).content)
    deltas = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:] if "tool_calls" in c["choices"][0]["delta"]]
    assert deltas[0]["id"].startswith("call_") and deltas[0]["function"] == {"name": "get_weather", "arguments": ""}
    assert all("id" not in d and "name" not in d["function"] for d in deltas[1:])
    assert 2 <= len(deltas) - 1 <= 3
    assert orjson.loads("".join(d["function"]["arguments"] for d in deltas)) == WEATHER_ARGS
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_result_reply(sim: Sim) -> None:
    call = {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    body = {
        "messages": [
            user("weather?"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc", "content": "22C and sunny"},
        ],
        "tools": TOOLS,
    }
    msg = chat(sim, body).json()["choices"][0]["message"]
    assert msg["content"] == "Tool get_weather returned: 22C and sunny"
    missing = {"messages": body["messages"][:2], "tools": TOOLS}
    assert chat(sim, missing).status_code == 400


def test_images_max_tokens_and_stop(sim: Sim) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "look"}, image, image]}]}
    assert chat(sim, body).json()["choices"][0]["message"]["content"] == "gpt-4o says: look [images: 2]"
    choice = chat(sim, {"messages": [user("one two three four")], "max_tokens": 3}).json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("gpt-4o says: one", "length")
    choice = chat(sim, {"messages": [user("one two STOP three")], "stop": ["STOP"]}).json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("gpt-4o says: one two ", "stop")
