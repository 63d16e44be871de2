"""Anthropic Messages streams: OpenAI chunks -> Anthropic events, Bedrock events relayed, SSE framing.

Event sequences are asserted exactly (types, indices, deltas), every event is checked
against the anthropic SDK's own types, and the SDK's accumulator must rebuild the same
message the non-streaming converter makes. Recorded transcripts go through the real
decoder whole, byte by byte and in uneven slices, and through a TranslatingRelay into the
anthropic SDK itself (over an in-memory HTTP transport) to prove the framing.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import anthropic
import httpx2
import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent

from shared.convert.anthropic_messages import openai_chat_to_anthropic
from shared.convert.anthropic_stream import (
    BedrockEventsPassthrough,
    OpenAIToAnthropicStream,
    anthropic_error_frame,
    anthropic_sse,
)
from shared.errors import UpstreamError, UpstreamProtocolError, UpstreamStatusError
from shared.jsonutil import loads
from shared.openai_chunks import ChunkFactory, chat_completion, make_usage
from shared.streams import SSEJsonDecoder, TranslatingRelay
from tests.unit.feeding import FEED_MODES, feed_all, fixture_bytes, slices

MSG_ID, MODEL = "msg_proxy_0123456789", "gpt-4.1"
F = ChunkFactory("chatcmpl-x", 1_700_000_000, MODEL)
EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def translate(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stream = OpenAIToAnthropicStream(message_id=MSG_ID, model=MODEL)
    out = [e for c in chunks for e in stream.feed(c)] + stream.finish()
    assert stream.finish() == []  # finishing twice adds nothing
    return out


def shape(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """A compact, exact view of a sequence: (type, index, block or delta type, payload)."""
    rows: list[tuple[Any, ...]] = []
    for e in events:
        if e["type"] == "content_block_start":
            block = e["content_block"]
            rows.append(("start", e["index"], block["type"], block.get("id"), block.get("name")))
        elif e["type"] == "content_block_delta":
            d = e["delta"]
            value = d.get("text", d.get("thinking", d.get("partial_json", d.get("signature"))))
            rows.append(("delta", e["index"], d["type"], value))
        elif e["type"] == "content_block_stop":
            rows.append(("stop", e["index"]))
        elif e["type"] == "message_delta":
            rows.append(("message_delta", e["delta"]["stop_reason"], e["usage"]))
        else:
            rows.append((e["type"],))
    return rows


def sdk_message(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Validate every event with the SDK's types, then let the SDK rebuild the message."""
    snapshot, bufs = None, {}
    for e in events:
        if e["type"] == "ping":
            continue
        EVENT.validate_python(e)
        snapshot = accumulate_event(event=copy.deepcopy(e), current_snapshot=snapshot, json_bufs=bufs)  # type: ignore[arg-type]
    assert snapshot is not None
    return dict(snapshot.model_dump(exclude_none=True, exclude={"container", "context_management"}))


START = [("message_start",), ("ping",)]
USAGE_0 = {"input_tokens": 0, "output_tokens": 0, "cache_read_input_tokens": 0}


def test_text_stream_exact_sequence() -> None:
    chunks = [F.role(), F.text("Hel"), F.text("lo"), F.finish("stop"), F.usage(make_usage(12, 3, cached=4))]
    events = translate(chunks)
    assert shape(events) == [
        *START,
        ("start", 0, "text", None, None),
        ("delta", 0, "text_delta", "Hel"),
        ("delta", 0, "text_delta", "lo"),
        ("stop", 0),
        ("message_delta", "end_turn", {"input_tokens": 8, "output_tokens": 3, "cache_read_input_tokens": 4}),
        ("message_stop",),
    ]
    assert events[0]["message"] == {
        "id": MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }
    assert events[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


def test_thinking_then_text() -> None:
    chunks = [F.role(), F.reasoning("Think "), F.reasoning("hard."), F.text("Answer."), F.finish("stop")]
    assert shape(translate(chunks)) == [
        *START,
        ("start", 0, "thinking", None, None),
        ("delta", 0, "thinking_delta", "Think "),
        ("delta", 0, "thinking_delta", "hard."),
        ("delta", 0, "signature_delta", ""),
        ("stop", 0),
        ("start", 1, "text", None, None),
        ("delta", 1, "text_delta", "Answer."),
        ("stop", 1),
        ("message_delta", "end_turn", USAGE_0),
        ("message_stop",),
    ]


def test_tool_call_fragments_stream_as_they_arrive() -> None:
    chunks = [
        F.role(),
        F.text("Checking."),
        F.tool_call_start(0, "call_1", "get_weather"),
        F.tool_call_args(0, '{"ci'),
        F.tool_call_args(0, 'ty": "Paris"}'),
        F.finish("tool_calls"),
    ]
    events = translate(chunks)
    assert shape(events) == [
        *START,
        ("start", 0, "text", None, None),
        ("delta", 0, "text_delta", "Checking."),
        ("stop", 0),
        ("start", 1, "tool_use", "call_1", "get_weather"),
        ("delta", 1, "input_json_delta", '{"ci'),
        ("delta", 1, "input_json_delta", 'ty": "Paris"}'),
        ("stop", 1),
        ("message_delta", "tool_use", USAGE_0),
        ("message_stop",),
    ]
    assert events[5]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}


def test_two_parallel_tool_calls_and_whole_arguments_in_the_start_chunk() -> None:
    chunks = [
        F.role(),
        F.tool_call_start(0, "call_a", "get_weather", '{"city": "Oslo"}'),  # Gemini: arguments arrive whole
        F.tool_call_start(1, "call_b", "get_time"),
        F.tool_call_args(1, "{}"),
        F.finish("tool_calls"),
        F.usage(make_usage(50, 20)),
    ]
    assert shape(translate(chunks)) == [
        *START,
        ("start", 0, "tool_use", "call_a", "get_weather"),
        ("delta", 0, "input_json_delta", '{"city": "Oslo"}'),
        ("stop", 0),
        ("start", 1, "tool_use", "call_b", "get_time"),
        ("delta", 1, "input_json_delta", "{}"),
        ("stop", 1),
        ("message_delta", "tool_use", {"input_tokens": 50, "output_tokens": 20, "cache_read_input_tokens": 0}),
        ("message_stop",),
    ]


def test_text_after_a_tool_call_opens_a_new_block_and_a_repeated_id_continues() -> None:
    repeat = F.chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"arguments": "{}"}}]})
    chunks = [F.tool_call_start(0, "call_1", "f"), repeat, F.text("done"), F.finish("stop")]
    assert shape(translate(chunks))[2:-2] == [
        ("start", 0, "tool_use", "call_1", "f"),
        ("delta", 0, "input_json_delta", "{}"),
        ("stop", 0),
        ("start", 1, "text", None, None),
        ("delta", 1, "text_delta", "done"),
        ("stop", 1),
    ]
    assert translate(chunks)[-2]["delta"]["stop_reason"] == "tool_use"  # calls were made: the agent must run them


@pytest.mark.parametrize(
    ("finish", "reason"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), ("weird", "end_turn")],
)
def test_stop_reasons(finish: str, reason: str) -> None:
    assert translate([F.text("x"), F.finish(finish)])[-2]["delta"]["stop_reason"] == reason


def test_empty_answer_still_has_the_full_frame() -> None:
    assert shape(translate([F.role(), F.finish("stop")])) == [
        *START,
        ("message_delta", "end_turn", USAGE_0),
        ("message_stop",),
    ]


def test_nothing_after_the_finish_chunk_but_usage_is_read() -> None:
    late = [F.text("late"), F.usage(make_usage(5, 1))]
    events = translate([F.text("a"), F.finish("stop"), *late])
    assert [e for e in events if e["type"] == "content_block_delta"][-1]["delta"]["text"] == "a"
    assert events[-2]["usage"]["input_tokens"] == 5


def test_streamed_and_whole_answers_agree_through_the_sdk() -> None:
    chunks = [
        F.role(),
        F.reasoning("Let me think."),
        F.text("Two calls."),
        F.tool_call_start(0, "call_a", "get_weather", ""),
        F.tool_call_args(0, '{"city": "Rome"}'),
        F.tool_call_start(1, "call_b", "get_time", '{"tz": "CET"}'),
        F.finish("tool_calls"),
        F.usage(make_usage(100, 30, cached=40)),
    ]
    streamed = sdk_message(translate(chunks))
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
        {"id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": '{"tz": "CET"}'}},
    ]
    message = {"role": "assistant", "content": "Two calls.", "reasoning_content": "Let me think.", "tool_calls": calls}
    whole = chat_completion(
        completion_id="c",
        created=0,
        model=MODEL,
        message=message,
        finish_reason="tool_calls",
        usage=make_usage(100, 30, cached=40),
    )
    expected = openai_chat_to_anthropic(whole, message_id=MSG_ID, model=MODEL)
    assert streamed["content"] == expected["content"]
    assert streamed["stop_reason"] == expected["stop_reason"] == "tool_use"
    assert streamed["usage"]["output_tokens"] == expected["usage"]["output_tokens"] == 30


@pytest.mark.parametrize("mode", FEED_MODES)
def test_azure_transcript_through_the_decoder(mode: str) -> None:
    """Azure's prompt-filter preamble (``choices: []``) and the trailing usage chunk are handled."""
    chunks = feed_all(*_decoder(), fixture_bytes("anthropic-azure-tools.sse"), mode)
    events = translate(chunks)
    assert shape(events) == [
        *START,
        ("start", 0, "text", None, None),
        ("delta", 0, "text_delta", "Let me check "),
        ("delta", 0, "text_delta", "both."),
        ("stop", 0),
        ("start", 1, "tool_use", "call_W1eAtHeR0pQ2", "get_weather"),
        ("delta", 1, "input_json_delta", '{"city":'),
        ("delta", 1, "input_json_delta", ' "Paris"}'),
        ("stop", 1),
        ("start", 2, "tool_use", "call_T1mE9xY3", "get_time"),
        ("delta", 2, "input_json_delta", '{"tz":"Europe/Paris"}'),
        ("stop", 2),
        ("message_delta", "tool_use", {"input_tokens": 236, "output_tokens": 40, "cache_read_input_tokens": 64}),
        ("message_stop",),
    ]
    assert sdk_message(events)["content"][2]["input"] == {"tz": "Europe/Paris"}


def _decoder() -> tuple[Any, Any]:
    decoder = SSEJsonDecoder(loads)
    return decoder.feed, decoder.flush


def _relay_bytes(stage: Any, name: str, mode: str) -> bytes:
    relay = TranslatingRelay(
        SSEJsonDecoder(loads), [stage], encode=anthropic_sse, error_frame=anthropic_error_frame, terminator=b""
    )
    out = bytearray()
    for piece in slices(fixture_bytes(name), mode):
        out += relay.feed(piece)
    return bytes(out + relay.finish())


def _sdk_final_message(sse: bytes) -> anthropic.types.Message:
    """The anthropic SDK reading our bytes as if they came from api.anthropic.com."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    client = anthropic.Anthropic(api_key="k", http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with client.messages.stream(model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as s:
        return s.get_final_message()


@pytest.mark.parametrize("mode", FEED_MODES)
def test_relayed_azure_stream_reads_in_the_anthropic_sdk(mode: str) -> None:
    sse = _relay_bytes(OpenAIToAnthropicStream(message_id=MSG_ID, model=MODEL), "anthropic-azure-tools.sse", mode)
    assert sse.startswith(b"event: message_start\ndata: {") and sse.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    message = _sdk_final_message(sse)
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.stop_reason == "tool_use" and message.usage.cache_read_input_tokens == 64


def test_stream_errors() -> None:
    stream = OpenAIToAnthropicStream(message_id=MSG_ID, model=MODEL)
    stream.feed(F.text("partial"))
    with pytest.raises(UpstreamProtocolError, match="finish reason"):
        stream.finish()  # cut off: must not look complete
    with pytest.raises(UpstreamStatusError) as rate:
        stream.feed({"error": {"message": "slow down", "type": "rate_limit_error", "code": "429"}})
    assert rate.value.status == 429 and "slow down" in rate.value.message
    with pytest.raises(UpstreamError) as other:
        stream.feed({"error": {"message": "boom", "type": "server_error"}})
    assert other.value.status == 502
    for bad in ("text", {"choices": {}}, {"choices": ["x"]}, {"choices": [{"delta": "x"}]}):
        with pytest.raises(UpstreamProtocolError):
            OpenAIToAnthropicStream(message_id=MSG_ID, model=MODEL).feed(bad)


@pytest.mark.parametrize(
    "calls",
    [
        [F.tool_call_args(0, "{}")],  # arguments for a call that never started
        [F.chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"arguments": ""}}]})],  # no name
        [F.tool_call_start(0, "a", "f"), F.tool_call_start(1, "b", "g"), F.tool_call_args(0, "{}")],  # interleaved
        [F.chunk({"tool_calls": {"index": 0}})],
        [F.chunk({"tool_calls": ["x"]})],
    ],
)
def test_malformed_tool_call_chunks(calls: list[dict[str, Any]]) -> None:
    stream = OpenAIToAnthropicStream(message_id=MSG_ID, model=MODEL)
    with pytest.raises(UpstreamProtocolError):
        for chunk in calls:
            stream.feed(chunk)


def test_input_chunks_are_not_mutated() -> None:
    chunks = [F.role(), F.reasoning("r"), F.text("t"), F.tool_call_start(0, "c", "f", "{}"), F.finish("tool_calls")]
    before = copy.deepcopy(chunks)
    translate(chunks)
    assert chunks == before


# ---------------------------------------------------------------- Bedrock invoke events


def _recorded(name: str) -> list[dict[str, Any]]:
    """The transcript's events read naively (an oracle independent of the SSE decoder)."""
    frames = fixture_bytes(name).decode().split("\n\n")
    return [json.loads(line[6:]) for f in frames for line in f.split("\n") if line.startswith("data: ")]


def _passthrough(events: list[Any], model: str | None = None) -> list[dict[str, Any]]:
    stage = BedrockEventsPassthrough(model=model)
    return [o for e in events for o in stage.feed(e)] + stage.finish()


@pytest.mark.parametrize("mode", FEED_MODES)
def test_bedrock_events_pass_through_unchanged_but_for_the_metrics(mode: str) -> None:
    recorded = _recorded("anthropic-bedrock-thinking-tools.sse")
    before = copy.deepcopy(recorded)
    events = _passthrough(feed_all(*_decoder(), fixture_bytes("anthropic-bedrock-thinking-tools.sse"), mode))
    assert recorded[-1] == {"type": "ping"} and recorded[-2]["type"] == "message_stop"
    assert events[:-1] == recorded[:-2]  # the ping after message_stop is dropped
    assert events[-1] == {"type": "message_stop"}
    assert _passthrough(recorded) == events and recorded == before
    message = sdk_message(events)
    assert [b["type"] for b in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][2]["input"] == {"file_path": "/repo/setup.py"}


@pytest.mark.parametrize("name", ["claude-invoke-text.sse", "claude-invoke-thinking.sse", "claude-invoke-tool-use.sse"])
@pytest.mark.parametrize("mode", FEED_MODES)
def test_the_chat_suites_bedrock_transcripts_pass_through_too(name: str, mode: str) -> None:
    recorded = _recorded(name)
    stop = next(i for i, e in enumerate(recorded) if e["type"] == "message_stop")
    expected = [*recorded[:stop], {k: v for k, v in recorded[stop].items() if k != "amazon-bedrock-invocationMetrics"}]
    events = _passthrough(feed_all(*_decoder(), fixture_bytes(name), mode))
    assert events == expected
    sdk_message(events)


def test_bedrock_model_is_renamed_to_the_clients_when_asked() -> None:
    recorded = _recorded("anthropic-bedrock-thinking-tools.sse")
    events = _passthrough(recorded, model="anthropic--claude-4.5-sonnet")
    assert events[0]["message"]["model"] == "anthropic--claude-4.5-sonnet"
    assert recorded[0]["message"]["model"] == "claude-sonnet-4-5-20250929"
    assert events[0]["message"]["usage"] == recorded[0]["message"]["usage"]


@pytest.mark.parametrize("mode", FEED_MODES)
def test_relayed_bedrock_stream_reads_in_the_anthropic_sdk(mode: str) -> None:
    sse = _relay_bytes(BedrockEventsPassthrough(), "anthropic-bedrock-thinking-tools.sse", mode)
    assert b"invocationMetrics" not in sse and sse.count(b"event: message_stop\n") == 1
    message = _sdk_final_message(sse)
    assert message.content[0].type == "thinking" and message.content[0].signature.startswith("ErUB")
    assert message.stop_reason == "tool_use" and message.usage.output_tokens == 97


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("overloaded_error", 503),
        ("rate_limit_error", 429),
        ("invalid_request_error", 400),
        ("api_error", 502),
        ("something_new", 502),
    ],
)
def test_bedrock_error_events(kind: str, status: int) -> None:
    stage = BedrockEventsPassthrough()
    stage.feed(_recorded("anthropic-bedrock-thinking-tools.sse")[0])
    with pytest.raises(UpstreamError) as exc:
        stage.feed({"type": "error", "error": {"type": kind, "message": "Overloaded"}})
    assert exc.value.status == status and "Overloaded" in exc.value.message


def test_bedrock_exception_frames_and_broken_streams() -> None:
    with pytest.raises(UpstreamStatusError) as exc:
        BedrockEventsPassthrough().feed({"throttlingException": {"message": "Too many tokens"}})
    assert exc.value.status == 429
    with pytest.raises(UpstreamProtocolError, match="message_stop"):
        _passthrough(_recorded("anthropic-bedrock-thinking-tools.sse")[:5])
    for bad in (["not an event"], [{"no": "type"}], [{"type": "message_start", "message": "x"}]):
        with pytest.raises(UpstreamProtocolError):
            _passthrough(bad, model="m")


def test_sse_framing_and_error_frame() -> None:
    assert anthropic_sse({"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'
    frame = anthropic_error_frame(UpstreamStatusError("Claude upstream error", upstream_status=529, status=503))
    assert frame == (
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Claude upstream error"}}\n\n'
    )
    doc = json.loads(frame.split(b"data: ")[1])
    assert anthropic.types.ErrorResponse.model_validate(doc).error.type == "overloaded_error"


def test_an_error_event_mid_stream_reaches_the_sdk_as_an_exception() -> None:
    relay = TranslatingRelay(
        SSEJsonDecoder(loads), [BedrockEventsPassthrough()], encode=anthropic_sse,
        error_frame=anthropic_error_frame, terminator=b"",
    )  # fmt: skip
    data = fixture_bytes("claude-invoke-error.sse")
    out = b""
    try:
        out += relay.feed(data)
    except UpstreamError as exc:
        out += relay.fail(exc)
    assert out.endswith(
        b'"type":"overloaded_error","message":"Claude upstream error (overloaded_error): Overloaded"}}\n\n'
    )
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        _sdk_final_message(out)
