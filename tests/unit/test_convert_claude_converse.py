"""OpenAI <-> Claude through Bedrock Converse: requests, answers, streams (JSON and Python-literal)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.capabilities import capabilities_for
from shared.convert.claude_converse import (
    EMPTY_TOOL_RESULT,
    ClaudeConverseStream,
    claude_converse_to_openai,
    openai_to_claude_converse,
    stream_decoder,
)
from shared.errors import InvalidRequest, UpstreamProtocolError, UpstreamStatusError
from shared.openai_chunks import make_usage
from shared.streams import ChatRelay
from tests.unit.feeding import FEED_MODES, feed_all, fixture_bytes, slices
from tests.unit.test_convert_claude_invoke import (
    CREATED,
    ID,
    MODEL,
    PNG,
    VARIANTS,
    WEATHER,
    F,
    expected,
    run_failing_stream,
    run_stream,
    tool_round_trip,
    walk,
)

CONVERSE_KEYS = {"messages", "system", "inferenceConfig", "toolConfig", "additionalModelRequestFields"}

CLAUDE_4 = capabilities_for("anthropic--claude-4-sonnet", "claude")


def convert(body: dict[str, Any], default_max_tokens: int = 4096) -> dict[str, Any]:
    before = copy.deepcopy(body)
    out = openai_to_claude_converse(body, default_max_tokens=default_max_tokens, caps=CLAUDE_4)
    assert body == before, "the converter mutated its input"
    assert set(out) <= CONVERSE_KEYS
    assert not any(isinstance(d, dict) and "cache_control" in d for d in walk(out)), "Converse answers 400 {}"
    return out


# ---------------------------------------------------------------- requests


def test_minimal_request() -> None:
    out = convert({"model": "m", "messages": [{"role": "user", "content": "Hi"}], "stream": False})
    assert out == {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {"maxTokens": 4096}}


def test_system_anywhere_and_cache_control_never_sent() -> None:
    cached = {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    body = {
        "messages": [
            {"role": "system", "content": [cached]},
            {"role": "user", "content": [cached, {"type": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Hello", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "user", "content": "More"},
            {"role": "developer", "content": "Late rule."},
        ]
    }
    out = convert(body)
    assert out["system"] == [{"text": "Long rules"}, {"text": "Late rule."}]
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "Long rules"}, {"text": "Hi"}]},
        {"role": "assistant", "content": [{"text": "Hello"}]},
        {"role": "user", "content": [{"text": "More"}]},
    ]


def test_parallel_tool_calls_and_results_round_trip() -> None:
    out = convert(tool_round_trip())
    assert out["system"] == [{"text": "Answer in one line."}]
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"json": {"temp": 21}}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "18 C, rain"}]}},
                {"text": "Which is warmer?"},
            ],
        },
    ]
    assert out["toolConfig"] == {
        "tools": [
            {
                "toolSpec": {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "inputSchema": {"json": WEATHER["function"]["parameters"]},  # type: ignore[index]
                }
            }
        ]
    }


@pytest.mark.parametrize(("output", "block"), [("", {"text": EMPTY_TOOL_RESULT}), ("[1, 2]", {"text": "[1, 2]"}),
                                               ("{not json", {"text": "{not json"})])  # fmt: skip
def test_tool_output_shapes(output: str, block: dict[str, Any]) -> None:
    body = tool_round_trip()
    body["messages"][2]["content"] = output
    assert convert(body)["messages"][2]["content"][0]["toolResult"]["content"] == [block]


def test_unanswered_tool_call_gets_an_error_result() -> None:
    body = tool_round_trip()
    del body["messages"][4]
    result = convert(body)["messages"][2]["content"][1]["toolResult"]
    assert result == {
        "toolUseId": "call_2",
        "content": [{"text": "No result was given for this tool call."}],
        "status": "error",
    }


@pytest.mark.parametrize(
    ("choice", "wanted"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"tool": {"name": "get_weather"}}),
        (None, None),
    ],
)
def test_tool_choice(choice: Any, wanted: Any) -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [WEATHER],
        "parallel_tool_calls": False,
    }
    if choice is not None:
        body["tool_choice"] = choice
    config = convert(body)["toolConfig"]
    assert config.get("toolChoice") == wanted and len(config["tools"]) == 1


def test_tool_choice_none() -> None:
    fresh = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "none"}
    assert "toolConfig" not in convert(fresh)  # Converse has no "none": the tools are withheld
    with_history = convert({**tool_round_trip(), "tool_choice": "none"})
    assert with_history["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assert "toolChoice" not in with_history["toolConfig"]


def test_history_with_tool_calls_but_no_tools_gets_placeholder_specs() -> None:
    body = tool_round_trip()
    del body["tools"]
    spec = convert(body)["toolConfig"]["tools"][0]["toolSpec"]
    assert spec["name"] == "get_weather" and spec["inputSchema"] == {"json": {"type": "object", "properties": {}}}


def test_images() -> None:
    parts = [{"type": "image_url", "image_url": {"url": PNG}}, {"type": "text", "text": "What is this?"}]
    out = convert({"messages": [{"role": "user", "content": parts}]})
    image = {"image": {"format": "png", "source": {"bytes": PNG.split(",", 1)[1]}}}
    assert out["messages"][0]["content"] == [image, {"text": "What is this?"}]
    jpg = convert(
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/"}}]}
            ]
        }
    )
    assert jpg["messages"][0]["content"][0]["image"]["format"] == "jpeg"
    with pytest.raises(InvalidRequest) as info:
        convert(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}
                ]
            }
        )
    assert info.value.status == 400 and "messages[0].content[0]" in info.value.message


def test_inference_config() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 100,
        "max_completion_tokens": 300,
        "top_p": 0.8,
        "stop": "END",
    }
    assert convert(body)["inferenceConfig"] == {"maxTokens": 300, "topP": 0.8, "stopSequences": ["END"]}
    out = convert({**body, "temperature": 0.1, "stop": ["a", "b"]})
    assert out["inferenceConfig"] == {"maxTokens": 300, "temperature": 0.1, "stopSequences": ["a", "b"]}


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 4096), ("high", 16384)])
def test_reasoning_effort(effort: str, budget: int) -> None:
    body = {"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort, "temperature": 0.2}
    out = convert({**body, "max_tokens": 500})
    assert out["additionalModelRequestFields"] == {"thinking": {"type": "enabled", "budget_tokens": budget}}
    assert out["inferenceConfig"] == {"maxTokens": 500 + budget}
    assert "additionalModelRequestFields" not in convert({**body, "reasoning_effort": "minimal"})


def test_response_format_and_refusals() -> None:
    out = convert({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})
    assert "JSON" in out["system"][0]["text"]
    with pytest.raises(InvalidRequest, match="n must be 1"):
        convert({"messages": [{"role": "user", "content": "x"}], "n": 3})
    with pytest.raises(InvalidRequest, match="first non-system message"):
        convert({"messages": [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}]})
    bad = tool_round_trip()
    bad["messages"][1]["tool_calls"][1]["function"]["arguments"] = "{"
    with pytest.raises(InvalidRequest, match=r"messages\[1\]\.tool_calls\[1\]: function.arguments is not valid JSON"):
        convert(bad)


# ---------------------------------------------------------------- non-streaming answers


def answer(name: str) -> dict[str, Any]:
    resp = json.loads(fixture_bytes(name))
    before = copy.deepcopy(resp)
    out = claude_converse_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)
    assert resp == before
    assert (out["id"], out["object"], out["created"], out["model"]) == (ID, "chat.completion", CREATED, MODEL)
    return out


def test_text_answer() -> None:
    out = answer("claude-converse-text.json")
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "The capital of France is Paris."}
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == make_usage(14, 10)


def test_tool_use_answer() -> None:
    out = answer("claude-converse-tool-use.json")
    message = out["choices"][0]["message"]
    assert message["content"] == "I'll check the weather in both cities."
    assert [c["id"] for c in message["tool_calls"]] == [
        "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
        "tooluse_Q2hxR8pWS0mFz1aBcD3eFg",
    ]
    assert message["tool_calls"][1] == {
        "id": "tooluse_Q2hxR8pWS0mFz1aBcD3eFg",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city":"Rome","unit":"celsius"}'},
    }
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_answer_with_cache_usage() -> None:
    out = answer("claude-converse-reasoning.json")
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "17 × 23 = 391.",
        "reasoning_content": "17 * 20 = 340, 17 * 3 = 51, so 391.",
    }
    assert out["usage"] == make_usage(45 + 2048 + 512, 112, cached=2048)


@pytest.mark.parametrize(
    ("reason", "wanted"),
    [("max_tokens", "length"), ("stop_sequence", "stop"), ("guardrail_intervened", "content_filter"),
     ("content_filtered", "content_filter"), ("end_turn", "stop"), ("mystery", "stop")],
)  # fmt: skip
def test_finish_reasons(reason: str, wanted: str) -> None:
    resp = json.loads(fixture_bytes("claude-converse-max-tokens.json"))
    resp["stopReason"] = reason
    out = claude_converse_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)
    assert out["choices"][0]["finish_reason"] == wanted


def test_tool_only_answer_has_null_content() -> None:
    resp = json.loads(fixture_bytes("claude-converse-tool-use.json"))
    resp["output"]["message"]["content"] = resp["output"]["message"]["content"][1:]
    out = claude_converse_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)
    assert out["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize("resp", [{}, {"output": {}}, {"output": {"message": {"content": "x"}}}, "nope"])
def test_malformed_answer_is_a_protocol_error(resp: Any) -> None:
    with pytest.raises(UpstreamProtocolError):
        claude_converse_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)


# ---------------------------------------------------------------- streams


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_text_stream(variant: str, include_usage: bool) -> None:
    chunks = run_stream(ClaudeConverseStream, "claude-converse-text.sse", variant, include_usage, stream_decoder())
    want = [F.role(), F.text("Grüße aus Paris 👋"), F.text("! How can I help you today?"), F.finish("stop")]
    assert chunks == expected(want, make_usage(21, 15), include_usage)


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_python_literal_stream(variant: str, include_usage: bool) -> None:
    chunks = run_stream(ClaudeConverseStream, "claude-converse-literal.sse", variant, include_usage, stream_decoder())
    want = [F.role(), F.text("It's sunny"), F.text(" and 24 °C in Paris."), F.finish("stop")]
    assert chunks == expected(want, make_usage(30 + 1023, 9, cached=1023), include_usage)


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_tool_use_stream(variant: str, include_usage: bool) -> None:
    chunks = run_stream(ClaudeConverseStream, "claude-converse-tool-use.sse", variant, include_usage, stream_decoder())
    want = [
        F.role(),
        F.reasoning("The user wants the weather; "),
        F.reasoning("call get_weather."),
        F.text("Let me look that up."),
        F.tool_call_start(0, "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "get_weather"),
        F.tool_call_args(0, '{"city": '),
        F.tool_call_args(0, '"Paris", "unit"'),
        F.tool_call_args(0, ': "celsius"}'),
        F.tool_call_start(1, "tooluse_Q2hxR8pWS0mFz1aBcD3eFg", "get_time"),
        F.tool_call_args(1, "{}"),
        F.finish("tool_calls"),
    ]
    assert chunks == expected(want, make_usage(402 + 256, 61, cached=256), include_usage)
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in chunks[4:8])
    assert json.loads(args) == {"city": "Paris", "unit": "celsius"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_exception_event_ends_the_stream_in_band(variant: str) -> None:
    exc, chunks = run_failing_stream(ClaudeConverseStream, "claude-converse-exception.sse", variant, stream_decoder())
    assert isinstance(exc, UpstreamStatusError) and exc.status == 429 and "Too many tokens" in exc.message
    assert chunks[-1]["error"]["message"] == exc.message
    assert chunks[:-1] == [F.role(), F.text("Sure, here")][: len(chunks) - 1]


@pytest.mark.parametrize(
    ("name", "status"),
    [("throttlingException", 429), ("serviceUnavailableException", 503), ("validationException", 400),
     ("internalServerException", 502), ("modelStreamErrorException", 502)],
)  # fmt: skip
def test_exception_statuses(name: str, status: int) -> None:
    with pytest.raises(UpstreamStatusError) as info:
        ClaudeConverseStream(F, include_usage=True).feed({name: {"message": "m"}})
    assert info.value.status == status and name in info.value.message


@pytest.mark.parametrize("mode", FEED_MODES)
def test_stream_without_message_stop_is_not_complete(mode: str) -> None:
    data = fixture_bytes("claude-converse-text.sse")
    relay = ChatRelay(stream_decoder(), ClaudeConverseStream(F, include_usage=True))
    for piece in slices(data[: data.index(b'data: {"messageStop"')], mode):
        relay.feed(piece)
    with pytest.raises(UpstreamProtocolError, match="incomplete"):
        relay.finish()


def test_finish_is_sent_once_even_without_metadata() -> None:
    stream = ClaudeConverseStream(F, include_usage=True)
    assert stream.feed({"messageStart": {"role": "assistant"}}) == [F.role()]
    assert stream.feed({"messageStop": {"stopReason": "max_tokens"}}) == []
    assert stream.finish() == [F.finish("length"), F.usage(make_usage(0, 0))]
    assert stream.finish() == []


def test_stream_edge_cases() -> None:
    stream = ClaudeConverseStream(F, include_usage=False)
    assert stream.feed({"somethingNew": {}}) == [F.role()]
    assert stream.feed({"contentBlockStart": {"start": {}, "contentBlockIndex": 0}}) == []
    assert stream.feed({"contentBlockDelta": {"delta": {"text": ""}, "contentBlockIndex": 0}}) == []
    assert stream.feed({"contentBlockStop": {"contentBlockIndex": 0}}) == []
    with pytest.raises(UpstreamProtocolError):
        stream.feed({"contentBlockDelta": {"delta": {"toolUse": {"input": "{"}}, "contentBlockIndex": 4}})
    with pytest.raises(UpstreamProtocolError):
        stream.feed({"contentBlockDelta": "broken"})


def test_decoder_reads_json_and_python_literals() -> None:
    data = b"data: {'a': True, 'b': False, 'c': None}\n\ndata: {\"d\": true}\n\ndata: [DONE]\n\n"
    for mode in FEED_MODES:
        decoder = stream_decoder()
        assert feed_all(decoder.feed, decoder.flush, data, mode) == [{"a": True, "b": False, "c": None}, {"d": True}]
    with pytest.raises(UpstreamProtocolError):
        stream_decoder().feed(b"data: {oops\n\n")
