"""OpenAI <-> Claude InvokeModel (Anthropic Messages on Bedrock): requests, answers, streams.

Also home of the stream harness the Converse tests reuse: every transcript is fed
whole, byte by byte, in uneven slices, with trailing bytes, without its final blank
line and with CRLF line ends, and the SSE written for the client is parsed back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.capabilities import capabilities_for
from shared.convert.claude_invoke import (
    ClaudeInvokeStream,
    claude_invoke_to_openai,
    openai_to_claude_invoke,
    stream_decoder,
)
from shared.errors import InvalidRequest, UpstreamProtocolError, UpstreamStatusError
from shared.openai_chunks import ChunkFactory, make_usage
from shared.streams import ChatRelay
from tests.unit.feeding import FEED_MODES, fixture_bytes, slices

ID, CREATED, MODEL = "chatcmpl-test123", 1_700_000_000, "anthropic--claude-4-sonnet"
F = ChunkFactory(ID, CREATED, MODEL)
VARIANTS = [*FEED_MODES, "trailing-bytes", "no-final-blank-line", "crlf"]
INVOKE_KEYS = {"anthropic_version", "max_tokens", "messages", "system", "temperature", "top_p", "top_k"}
INVOKE_KEYS |= {"stop_sequences", "tools", "tool_choice", "thinking", "anthropic_beta"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

CLAUDE_4 = capabilities_for("anthropic--claude-4-sonnet", "claude")


# ---------------------------------------------------------------- stream harness (shared)


def variant_bytes(name: str, variant: str) -> tuple[bytes, str]:
    """(transcript bytes, feed mode) for one variant of a recorded transcript."""
    data = fixture_bytes(name)
    if variant == "trailing-bytes":
        return data + b"\n: keep-alive\n\n\n", "uneven"
    if variant == "no-final-blank-line":
        return data.rstrip(b"\n"), "uneven"
    if variant == "crlf":
        return data.replace(b"\n", b"\r\n"), "bytewise"
    return data, variant


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    """The client's view: ``data:`` frames only, exactly one ``[DONE]``, and it comes last."""
    assert raw.endswith(b"\n\n")
    frames = raw[:-2].split(b"\n\n")
    assert all(f.startswith(b"data: ") for f in frames), frames
    assert [f for f in frames if f == b"data: [DONE]"] == [b"data: [DONE]"] and frames[-1] == b"data: [DONE]"
    return [json.loads(f[6:]) for f in frames[:-1]]


def check_chunks(chunks: list[dict[str, Any]], *, include_usage: bool) -> None:
    assert {c["id"] for c in chunks} == {ID}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sum("role" in c["choices"][0]["delta"] for c in chunks if c["choices"]) == 1
    choice_chunks = [c for c in chunks if c["choices"]]
    finishes = [c for c in choice_chunks if c["choices"][0]["finish_reason"] is not None]
    assert len(finishes) == 1 and finishes[0] is choice_chunks[-1]
    assert [c for c in chunks if "usage" in c] == ([chunks[-1]] if include_usage else [])
    for c in choice_chunks[1:]:
        assert c["choices"][0]["delta"].get("content") != ""


def run_stream(translator_cls: Any, name: str, variant: str, include_usage: bool, decoder: Any) -> list[dict[str, Any]]:
    data, mode = variant_bytes(name, variant)
    relay = ChatRelay(decoder, translator_cls(F, include_usage=include_usage))
    out = bytearray()
    for piece in slices(data, mode):
        out += relay.feed(piece)
    out += relay.finish()
    chunks = parse_sse(bytes(out))
    check_chunks(chunks, include_usage=include_usage)
    return chunks


def run_failing_stream(translator_cls: Any, name: str, variant: str, decoder: Any) -> tuple[Exception, list[Any]]:
    """Feed until the translator raises, then let the relay write the in-band error."""
    data, mode = variant_bytes(name, variant)
    relay = ChatRelay(decoder, translator_cls(F, include_usage=True))
    out = bytearray()
    with pytest.raises((UpstreamStatusError, UpstreamProtocolError)) as info:
        for piece in slices(data, mode):
            out += relay.feed(piece)
        out += relay.finish()
    out += relay.fail(info.value)
    return info.value, parse_sse(bytes(out))


def expected(chunks: list[dict[str, Any]], usage: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    return [*chunks, F.usage(usage)] if include_usage else chunks


def walk(doc: Any) -> Any:
    """Every dict and list inside ``doc``."""
    yield doc
    children = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    for child in children:
        yield from walk(child)


def convert(body: dict[str, Any], default_max_tokens: int = 4096) -> dict[str, Any]:
    before = copy.deepcopy(body)
    out = openai_to_claude_invoke(body, default_max_tokens=default_max_tokens, caps=CLAUDE_4)
    assert body == before, "the converter mutated its input"
    assert set(out) <= INVOKE_KEYS and "model" not in out and "stream" not in out
    return out


# ---------------------------------------------------------------- requests


def test_minimal_request() -> None:
    out = convert({"model": "m", "messages": [{"role": "user", "content": "Hi", "name": "bob"}], "stream": True})
    assert out == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
    }


def test_system_and_developer_messages_anywhere_become_the_system_prompt() -> None:
    body = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "Bye"},
            {"role": "system", "content": "Never swear."},
        ]
    }
    out = convert(body)
    assert out["system"] == "Be brief.\n\nUse French.\n\nNever swear."
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user"]


def test_system_cache_control_is_kept_as_blocks_on_invoke() -> None:
    cached = {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    body = {"messages": [{"role": "system", "content": [cached]}, {"role": "user", "content": [cached]}]}
    out = convert(body)
    assert out["system"] == [cached]
    assert out["messages"][0]["content"] == [cached]


def test_no_system_key_when_there_is_no_system_text() -> None:
    out = convert({"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "Hi"}]})
    assert "system" not in out


def tool_round_trip() -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
            {"role": "system", "content": "Answer in one line."},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "18 C, rain"}]},
            {"role": "user", "content": "Which is warmer?"},
        ],
        "tools": [WEATHER],
    }


def test_parallel_tool_calls_and_results_round_trip() -> None:
    out = convert(tool_round_trip())
    assert out["system"] == "Answer in one line."
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": '{"temp": 21}'},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "18 C, rain"},
                {"type": "text", "text": "Which is warmer?"},
            ],
        },
    ]
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
        }
    ]
    assert "tool_choice" not in out


def test_assistant_text_comes_before_tool_use_and_user_text_after_results() -> None:
    body = tool_round_trip()
    body["messages"][1]["content"] = "Checking."
    body["messages"].insert(2, {"role": "user", "content": "(while you are at it)"})
    out = convert(body)
    assert out["messages"][1]["content"][0] == {"type": "text", "text": "Checking."}
    # tool results lead the merged user turn, as Claude demands
    assert [b["type"] for b in out["messages"][2]["content"]] == ["tool_result", "tool_result", "text", "text"]


def test_empty_tool_result_omits_content_and_ids_are_made_claude_safe() -> None:
    body = tool_round_trip()
    body["messages"][1]["tool_calls"][0]["id"] = "call.1:x"
    body["messages"][2] = {"role": "tool", "tool_call_id": "call.1:x", "content": ""}
    out = convert(body)
    assert out["messages"][1]["content"][0]["id"] == "call_1_x"
    assert out["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "call_1_x"}


def test_tool_schema_defaults() -> None:
    bare = {"type": "function", "function": {"name": "now"}}
    untyped = {"type": "function", "function": {"name": "f", "parameters": {"properties": {}}}}
    out = convert({"messages": [{"role": "user", "content": "x"}], "tools": [bare, untyped]})
    assert out["tools"] == [
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        {"name": "f", "input_schema": {"type": "object", "properties": {}}},
    ]


@pytest.mark.parametrize(
    ("choice", "parallel", "wanted"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice(choice: Any, parallel: Any, wanted: Any) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER]}
    if choice is not None:
        body["tool_choice"] = choice
    if parallel is not None:
        body["parallel_tool_calls"] = parallel
    assert convert(body).get("tool_choice") == wanted


def test_tool_choice_without_tools_is_dropped_and_unknown_function_refused() -> None:
    assert "tool_choice" not in convert({"messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"})
    body = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER]}
    with pytest.raises(InvalidRequest, match="tool_choice"):
        convert({**body, "tool_choice": {"type": "function", "function": {"name": "nope"}}})
    with pytest.raises(InvalidRequest, match="tool_choice"):
        convert({**body, "tool_choice": "sometimes"})


def test_images() -> None:
    parts = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
    ]
    out = convert({"messages": [{"role": "user", "content": parts}]})
    assert out["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG.split(",", 1)[1]},
    }


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}, "messages[0].content[0]"),
        ({"type": "image_url", "image_url": {"url": "data:image/bmp;base64,Qk0="}}, "messages[0].content[0]"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "messages[0].content[0]"),
        ({"type": "file", "file": {"file_id": "f1"}}, "messages[0].content[0]"),
    ],
)
def test_unsupported_content_is_a_400_naming_the_part(part: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        convert({"messages": [{"role": "user", "content": [part]}]})
    assert info.value.status == 400 and field in info.value.message


@pytest.mark.parametrize(("stop", "wanted"), [("END", ["END"]), (["a", "b"], ["a", "b"]), ([], None), (None, None)])
def test_stop(stop: Any, wanted: Any) -> None:
    out = convert({"messages": [{"role": "user", "content": "x"}], "stop": stop})
    assert out.get("stop_sequences") == wanted


def test_max_tokens_precedence_and_default() -> None:
    msgs = [{"role": "user", "content": "x"}]
    assert convert({"messages": msgs}, 333)["max_tokens"] == 333
    assert convert({"messages": msgs, "max_tokens": 100})["max_tokens"] == 100
    assert convert({"messages": msgs, "max_tokens": 100, "max_completion_tokens": 200})["max_tokens"] == 200
    with pytest.raises(InvalidRequest, match="max_tokens"):
        convert({"messages": msgs, "max_tokens": 0})


def test_temperature_and_top_p() -> None:
    msgs = [{"role": "user", "content": "x"}]
    assert convert({"messages": msgs, "temperature": 0.2})["temperature"] == 0.2
    assert convert({"messages": msgs, "top_p": 0.9})["top_p"] == 0.9
    assert convert({"messages": msgs, "temperature": 1.7})["temperature"] == 1.0  # Claude's range is [0, 1]
    both = convert({"messages": msgs, "temperature": 0.5, "top_p": 0.9})
    assert both["temperature"] == 0.5 and "top_p" not in both  # Claude 4.5 refuses both
    with pytest.raises(InvalidRequest, match="temperature"):
        convert({"messages": msgs, "temperature": "hot"})


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 4096), ("high", 16384)])
def test_reasoning_effort_enables_thinking(effort: str, budget: int) -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "reasoning_effort": effort,
        "temperature": 0.3,
        "top_p": 0.5,
    }
    out = convert(body, default_max_tokens=64000)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert out["max_tokens"] == 64000 and "temperature" not in out and "top_p" not in out
    small = convert({**body, "max_completion_tokens": 1000})
    assert small["max_tokens"] == 1000 + budget > budget


def test_reasoning_effort_minimal_and_invalid() -> None:
    msgs = [{"role": "user", "content": "x"}]
    assert "thinking" not in convert({"messages": msgs, "reasoning_effort": "minimal"})
    with pytest.raises(InvalidRequest, match="reasoning_effort"):
        convert({"messages": msgs, "reasoning_effort": "extreme"})


def test_thinking_is_dropped_where_claude_refuses_it() -> None:
    forced = {"messages": [{"role": "user", "content": "x"}], "tools": [WEATHER], "tool_choice": "required"}
    assert "thinking" not in convert({**forced, "reasoning_effort": "high"})
    # inside a tool loop the signed thinking blocks cannot be handed back by OpenAI clients
    assert "thinking" not in convert({**tool_round_trip(), "reasoning_effort": "high"})


def test_response_format_becomes_a_system_instruction() -> None:
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "x"}]
    out = convert({"messages": msgs, "response_format": {"type": "json_object"}})
    assert out["system"].startswith("S\n\n") and "JSON" in out["system"]
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    out = convert(
        {"messages": msgs, "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}}}
    )
    assert '{"type":"object","properties":{"a":{"type":"integer"}}}' in out["system"]
    assert "system" not in convert({"messages": msgs[1:], "response_format": {"type": "text"}})


def test_ignored_and_refused_options() -> None:
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "n": 1, "user": "u", "seed": 1, "logprobs": False, "stream_options": {"include_usage": True}, "store": True,
        "metadata": {"a": "b"}, "service_tier": "auto", "parallel_tool_calls": True, "presence_penalty": 1,
        "frequency_penalty": 1,
    }  # fmt: skip
    assert set(convert(body)) == {"anthropic_version", "max_tokens", "messages"}
    with pytest.raises(InvalidRequest, match="n must be 1"):
        convert({**body, "n": 2})
    with pytest.raises(InvalidRequest, match="logprobs"):
        convert({**body, "logprobs": True})


@pytest.mark.parametrize(
    ("messages", "needle"),
    [
        ([{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "x"}], "first non-system message"),
        ([{"role": "user", "content": "x"}, {"role": "function", "content": "y"}], "messages[1].role"),
        ([{"role": "user", "content": ""}], "at least one user message"),
        ([], "messages must be a non-empty list"),
        (
            [
                {"role": "user", "content": "x"},
                {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]},
                {"role": "tool", "tool_call_id": "c", "content": "r"},
            ],
            "messages[1].tool_calls[0]: function.arguments is not valid JSON",
        ),
        ([{"role": "user", "content": 42}], "messages[0].content"),
        ([{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}], "messages[1].tool_call_id"),
    ],
)
def test_bad_history_is_a_400_naming_the_field(messages: list[Any], needle: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        convert({"messages": messages})
    assert info.value.status == 400 and needle in info.value.message


def test_orphan_tool_calls_and_results_are_repaired_not_refused() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = {
        "messages": [
            {"role": "tool", "tool_call_id": "zzz", "content": "stale"},  # answers nothing
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "user", "content": "never mind"},  # the call was interrupted
            {"role": "assistant", "content": "OK.", "tool_calls": [{**call, "id": "c2"}]},  # last, unanswered
        ]
    }
    out = convert(body)
    no_result = {"type": "tool_result", "content": "No result was given for this tool call.", "is_error": True}
    assert out["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Result of tool call zzz: stale"}, {"type": "text", "text": "x"}],
        },
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "f", "input": {}}]},
        {"role": "user", "content": [{**no_result, "tool_use_id": "c1"}, {"type": "text", "text": "never mind"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "OK."}, {"type": "tool_use", "id": "c2", "name": "f", "input": {}}],
        },
        {"role": "user", "content": [{**no_result, "tool_use_id": "c2"}]},
    ]


def test_empty_turns_vanish_and_same_role_neighbours_merge() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "c  \n"},
        ]
    }
    out = convert(body)
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}]},  # prefill: no trailing whitespace
    ]


@pytest.mark.parametrize("body", [[], {"messages": 5}, {"messages": {"role": "user"}}, {"messages": ["hi"]}])
def test_body_and_messages_must_have_the_right_shape(body: Any) -> None:
    with pytest.raises(InvalidRequest):
        openai_to_claude_invoke(body, default_max_tokens=1, caps=CLAUDE_4)


def test_thinking_is_dropped_for_a_prefill() -> None:
    body = {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "{"}]}
    assert "thinking" not in convert({**body, "reasoning_effort": "low"})


# ---------------------------------------------------------------- non-streaming answers


def answer(name: str) -> dict[str, Any]:
    resp = json.loads(fixture_bytes(name))
    before = copy.deepcopy(resp)
    out = claude_invoke_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)
    assert resp == before
    assert (out["id"], out["object"], out["created"], out["model"]) == (ID, "chat.completion", CREATED, MODEL)
    return out


def test_text_answer() -> None:
    out = answer("claude-invoke-text.json")
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "The capital of France is Paris."},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert out["usage"] == make_usage(14, 10)


def test_tool_use_answer() -> None:
    out = answer("claude-invoke-tool-use.json")
    message = out["choices"][0]["message"]
    assert message["content"] == "I'll check the weather in both cities."
    assert message["tool_calls"] == [
        {
            "id": "toolu_bdrk_01PxKq8nVb3mZ5c7Yt2Lw9Ds",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'},
        },
        {
            "id": "toolu_bdrk_01Rt6Hn2Jk4Lm8Pq1Ws3Xv5Zb",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Rome","unit":"celsius"}'},
        },
    ]
    assert out["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_only_answer_has_null_content() -> None:
    resp = json.loads(fixture_bytes("claude-invoke-tool-use.json"))
    resp["content"] = resp["content"][1:]
    out = claude_invoke_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)
    assert out["choices"][0]["message"]["content"] is None


def test_thinking_answer() -> None:
    message = answer("claude-invoke-thinking.json")["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": "17 × 23 = 391.",
        "reasoning_content": "The user asks for 17 * 23. 17 * 20 = 340, 17 * 3 = 51, so 391.",
    }


def test_max_tokens_and_cache_usage() -> None:
    assert answer("claude-invoke-max-tokens.json")["choices"][0]["finish_reason"] == "length"
    assert answer("claude-invoke-cache-usage.json")["usage"] == {
        "prompt_tokens": 12 + 2048 + 512,
        "completion_tokens": 17,
        "total_tokens": 12 + 2048 + 512 + 17,
        "prompt_tokens_details": {"cached_tokens": 2048},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    ("reason", "wanted"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
     ("refusal", "content_filter"), ("pause_turn", "stop"), ("something_new", "stop"), (None, "stop")],
)  # fmt: skip
def test_finish_reasons(reason: Any, wanted: str) -> None:
    resp = {"content": [{"type": "text", "text": "x"}], "stop_reason": reason}
    assert (
        claude_invoke_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)["choices"][0]["finish_reason"]
        == wanted
    )


@pytest.mark.parametrize("resp", [[], {"content": "text"}, {"content": ["x"]}, {"content": [{"type": "tool_use"}]}])
def test_malformed_answer_is_a_protocol_error(resp: Any) -> None:
    with pytest.raises(UpstreamProtocolError):
        claude_invoke_to_openai(resp, completion_id=ID, created=CREATED, model=MODEL)


def test_error_document_answer() -> None:
    with pytest.raises(UpstreamStatusError) as info:
        claude_invoke_to_openai(
            {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
            completion_id=ID,
            created=CREATED,
            model=MODEL,
        )
    assert info.value.status == 429 and "slow down" in info.value.message


# ---------------------------------------------------------------- streams


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_text_stream(variant: str, include_usage: bool) -> None:
    chunks = run_stream(ClaudeInvokeStream, "claude-invoke-text.sse", variant, include_usage, stream_decoder())
    want = [F.role(), F.text("Grüße aus Paris 👋"), F.text("! How can I help you today?"), F.finish("stop")]
    assert chunks == expected(want, make_usage(21, 15), include_usage)


@pytest.mark.parametrize("include_usage", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_tool_use_stream(variant: str, include_usage: bool) -> None:
    chunks = run_stream(ClaudeInvokeStream, "claude-invoke-tool-use.sse", variant, include_usage, stream_decoder())
    want = [
        F.role(),
        F.text("I'll check the weather in Paris."),
        F.tool_call_start(0, "toolu_bdrk_01PxKq8nVb3mZ5c7Yt2Lw9Ds", "get_weather"),
        F.tool_call_args(0, '{"city": "Pa'),
        F.tool_call_args(0, 'ris", "unit": "c'),
        F.tool_call_args(0, 'elsius"}'),
        F.tool_call_start(1, "toolu_bdrk_01Rt6Hn2Jk4Lm8Pq1Ws3Xv5Zb", "get_time"),
        F.tool_call_args(1, "{}"),  # no input streamed: clients still get valid JSON
        F.finish("tool_calls"),
    ]
    assert chunks == expected(want, make_usage(412 + 1024, 88, cached=1024), include_usage)


@pytest.mark.parametrize("variant", VARIANTS)
def test_thinking_stream(variant: str) -> None:
    chunks = run_stream(ClaudeInvokeStream, "claude-invoke-thinking.sse", variant, True, stream_decoder())
    want = [
        F.role(),
        F.reasoning("17 * 20 = 340, "),
        F.reasoning("17 * 3 = 51, so 391."),
        F.text("17 × 23 = 391."),
        F.finish("stop"),
    ]
    assert chunks == expected(want, make_usage(45, 112), True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_error_event_ends_the_stream_in_band(variant: str) -> None:
    exc, chunks = run_failing_stream(ClaudeInvokeStream, "claude-invoke-error.sse", variant, stream_decoder())
    assert isinstance(exc, UpstreamStatusError) and exc.status == 503 and "Overloaded" in exc.message
    assert chunks[-1]["error"]["message"] == exc.message
    # ChatRelay drops what earlier events of the same feed() produced, so only a prefix is certain.
    assert chunks[:-1] == [F.role(), F.text("Sure, here")][: len(chunks) - 1]
    if variant == "bytewise":
        assert len(chunks) == 3


@pytest.mark.parametrize("variant", FEED_MODES)
def test_truncated_stream_is_not_complete(variant: str) -> None:
    data = fixture_bytes("claude-invoke-text.sse")
    cut = data[: data.index(b"event: message_delta")]
    relay = ChatRelay(stream_decoder(), ClaudeInvokeStream(F, include_usage=True))
    out = bytearray()
    for piece in slices(cut, variant):
        out += relay.feed(piece)
    with pytest.raises(UpstreamProtocolError, match="incomplete"):
        relay.finish()


@pytest.mark.parametrize(
    ("kind", "status"),
    [("overloaded_error", 503), ("rate_limit_error", 429), ("invalid_request_error", 400), ("api_error", 502),
     ("request_too_large", 413)],
)  # fmt: skip
def test_error_event_statuses(kind: str, status: int) -> None:
    stream = ClaudeInvokeStream(F, include_usage=False)
    with pytest.raises(UpstreamStatusError) as info:
        stream.feed({"type": "error", "error": {"type": kind, "message": "m"}})
    assert info.value.status == status


def test_bedrock_exception_frames_in_an_invoke_stream() -> None:
    stream = ClaudeInvokeStream(F, include_usage=False)
    with pytest.raises(UpstreamStatusError) as info:
        stream.feed({"throttlingException": {"message": "Too many tokens"}})
    assert info.value.status == 429


def test_stream_edge_cases() -> None:
    stream = ClaudeInvokeStream(F, include_usage=False)
    assert stream.feed({"type": "ping"}) == [F.role()]
    assert stream.feed({"type": "brand_new_event"}) == []
    assert stream.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ""}}) == []
    with pytest.raises(UpstreamProtocolError):
        stream.feed(
            {"type": "content_block_delta", "index": 5, "delta": {"type": "input_json_delta", "partial_json": "{"}}
        )
    with pytest.raises(UpstreamProtocolError):
        stream.feed(["not", "an", "event"])
    stream.feed({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 3}})
    stream.feed({"type": "message_stop"})
    assert (
        stream.feed({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "late"}}) == []
    )
    assert stream.finish() == [F.finish("length")]
    assert stream.finish() == []
