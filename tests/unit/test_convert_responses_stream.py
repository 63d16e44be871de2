"""Chat chunks -> Responses stream events.

Every event is validated with the SDK's ``ResponseStreamEvent`` type adapter (no unknown
keys), and every stream is checked for the invariants clients rely on: sequence
numbers 0, 1, 2 ...; created and in_progress first; one added and one done per item
with the same id and output index; deltas that add up to the final text; a final
``response.completed`` equal to the non-streaming conversion of the same content.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx2
import openai
import pytest
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from shared.convert import claude_converse, claude_invoke, gemini
from shared.convert.claude_converse import ClaudeConverseStream
from shared.convert.claude_invoke import ClaudeInvokeStream
from shared.convert.gemini import GeminiStream
from shared.convert.responses_api import chat_to_responses
from shared.convert.responses_stream import ChatToResponsesStream
from shared.errors import ProxyError, UpstreamError, UpstreamProtocolError
from shared.openai_chunks import ChunkFactory, chat_completion, make_usage
from shared.sse import SSEDecoder, encode_event
from shared.streams import SSEJsonDecoder, TranslatingRelay
from tests.unit.feeding import FEED_MODES, feed_all, feed_relay, fixture_bytes
from tests.unit.test_convert_responses_api import check_extras, unknown_keys, valid_response

EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)
RID = "resp_0123"
REQUEST: dict[str, Any] = {
    "model": "gpt-4o",
    "input": "hi",
    "stream": True,
    "tools": [
        {"type": "function", "name": "shell"},
        {"type": "function", "name": "read"},
        {"type": "custom", "name": "apply_patch"},
    ],
}


def run(chunks: list[dict[str, Any]], request: dict[str, Any] = REQUEST) -> list[dict[str, Any]]:
    before = copy.deepcopy(chunks)
    stream = ChatToResponsesStream(response_id=RID, created_at=1700000000, request=request)
    events = [e for chunk in chunks for e in stream.feed(chunk)] + stream.finish()
    assert chunks == before, "the translator mutated a chunk"
    check(events)
    return events


def check(events: list[dict[str, Any]]) -> None:
    """The invariants every Responses stream must keep, and SDK validation of each event."""
    for event in events:
        check_extras(EVENTS.validate_python(event))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events[:2]] == ["response.created", "response.in_progress"]
    assert all(e["response"]["status"] == "in_progress" and e["response"]["output"] == [] for e in events[:2])
    final = events[-1]["response"]
    assert events[-1]["type"] == f"response.{final['status']}"
    assert sum(e["type"] in ("response.completed", "response.incomplete") for e in events) == 1
    added = [e for e in events if e["type"] == "response.output_item.added"]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["output_index"] for e in added] == list(range(len(final["output"])))
    assert [e["output_index"] for e in done] == list(range(len(final["output"])))
    assert [e["item"] for e in done] == final["output"]
    for index, (start, end) in enumerate(zip(added, done, strict=True)):
        assert start["item"]["id"] == end["item"]["id"] == final["output"][index]["id"]
        assert start["item"]["type"] == end["item"]["type"]
        assert events.index(start) < events.index(end)
        inside = [e for e in events if e.get("output_index") == index and "item_id" in e]
        assert all(e["item_id"] == start["item"]["id"] for e in inside)
        assert all(events.index(start) < events.index(e) < events.index(end) for e in inside)
        item = final["output"][index]
        deltas = "".join(e["delta"] for e in inside if e["type"].endswith(".delta"))
        wanted = {
            "message": lambda i: "".join(p["text"] for p in i["content"]),
            "reasoning": lambda i: "".join(p["text"] for p in i["summary"]),
            "function_call": lambda i: i["arguments"],
            "custom_tool_call": lambda i: i["input"],
        }[item["type"]](item)
        assert deltas == wanted
    assert final["output_text"] == "".join(
        p["text"] for i in final["output"] if i["type"] == "message" for p in i["content"]
    )
    valid_response(final)


def same_as_non_streaming(
    events: list[dict[str, Any]], message: dict[str, Any], finish: str, usage: Any, request: dict[str, Any] = REQUEST
) -> None:
    doc = chat_completion(completion_id="x", created=0, model="m", message=message, finish_reason=finish, usage=usage)
    assert events[-1]["response"] == chat_to_responses(doc, response_id=RID, created_at=1700000000, request=request)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("response.") for e in events]


F = ChunkFactory("chatcmpl-1", 1, "gpt-4o")
USAGE = make_usage(20, 7, cached=4)


def test_text_stream() -> None:
    chunks = [
        {"choices": [], "prompt_filter_results": []},
        F.role(),
        F.text("Hel"),
        F.text("lo"),
        F.finish("stop"),
        F.usage(USAGE),
    ]
    events = run(chunks)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
        "output_text.delta",
        "output_text.delta",
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ]
    assert events[2]["item"] == {
        "id": "msg_0123",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    assert events[4] == {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        "item_id": "msg_0123",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hel",
        "logprobs": [],
    }
    assert events[6]["text"] == "Hello"
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["input_tokens_details"]["cached_tokens"] == 4
    same_as_non_streaming(events, {"role": "assistant", "content": "Hello"}, "stop", USAGE)


def test_tool_call_with_fragments() -> None:
    chunks = [
        F.role(),
        F.tool_call_start(0, "call_1", "shell"),
        F.tool_call_args(0, '{"cmd"'),
        F.tool_call_args(0, ': "ls"}'),
        F.finish("tool_calls"),
        F.usage(USAGE),
    ]
    events = run(chunks)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "function_call_arguments.delta",
        "function_call_arguments.delta",
        "function_call_arguments.done",
        "output_item.done",
        "completed",
    ]
    assert events[2]["item"] == {
        "id": "fc_call_1",
        "type": "function_call",
        "status": "in_progress",
        "call_id": "call_1",
        "name": "shell",
        "arguments": "",
    }
    assert [e["delta"] for e in events[3:5]] == ['{"cmd"', ': "ls"}']
    assert events[5]["arguments"] == '{"cmd": "ls"}'
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": '{"cmd": "ls"}'}}
        ],
    }
    same_as_non_streaming(events, message, "tool_calls", USAGE)


def test_two_parallel_calls_interleaved() -> None:
    chunks = [
        F.tool_call_start(0, "a", "shell", '{"x":'),
        F.tool_call_start(1, "b", "read"),
        F.tool_call_args(1, '{"p": 1}'),
        F.tool_call_args(0, " 1}"),
        F.finish("tool_calls"),
    ]
    events = run(chunks)
    deltas = [(e["output_index"], e["delta"]) for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == [(0, '{"x":'), (1, '{"p": 1}'), (0, " 1}")]
    final = events[-1]["response"]
    assert [(i["call_id"], i["arguments"]) for i in final["output"]] == [("a", '{"x": 1}'), ("b", '{"p": 1}')]
    assert final["usage"] is None  # no usage chunk came
    calls = [
        {"id": "a", "type": "function", "function": {"name": "shell", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "read", "arguments": '{"p": 1}'}},
    ]
    same_as_non_streaming(events, {"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls", None)


def test_text_then_call() -> None:
    chunks = [
        F.role(),
        F.text("Listing."),
        F.tool_call_start(0, "c", "shell", "{}"),
        F.finish("tool_calls"),
        F.usage(USAGE),
    ]
    events = run(chunks)
    assert [(e["type"], e.get("output_index")) for e in events if "output_item" in e["type"]] == [
        ("response.output_item.added", 0),
        ("response.output_item.added", 1),
        ("response.output_item.done", 0),
        ("response.output_item.done", 1),
    ]
    message = {
        "role": "assistant",
        "content": "Listing.",
        "tool_calls": [{"id": "c", "type": "function", "function": {"name": "shell", "arguments": "{}"}}],
    }
    same_as_non_streaming(events, message, "tool_calls", USAGE)


def test_text_after_a_call_keeps_the_indices_already_sent() -> None:
    events = run([F.tool_call_start(0, "c", "shell", "{}"), F.text("Done."), F.finish("tool_calls")])
    assert [i["type"] for i in events[-1]["response"]["output"]] == ["function_call", "message"]


def test_reasoning_then_text() -> None:
    chunks = [
        F.role(),
        F.reasoning("Think"),
        F.reasoning(" more."),
        F.text("Answer."),
        F.finish("stop"),
        F.usage(make_usage(3, 9, reasoning=5)),
    ]
    events = run(chunks)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "reasoning_summary_part.added",
        "reasoning_summary_text.delta",
        "reasoning_summary_text.delta",
        "output_item.added",
        "content_part.added",
        "output_text.delta",
        "reasoning_summary_text.done",
        "reasoning_summary_part.done",
        "output_item.done",
        "output_text.done",
        "content_part.done",
        "output_item.done",
        "completed",
    ]
    assert events[2]["item"] == {"id": "rs_0123", "type": "reasoning", "summary": []}
    assert events[9]["text"] == "Think more." and events[9]["summary_index"] == 0
    assert events[-1]["response"]["usage"]["output_tokens_details"] == {"reasoning_tokens": 5}
    message = {"role": "assistant", "content": "Answer.", "reasoning_content": "Think more."}
    same_as_non_streaming(events, message, "stop", make_usage(3, 9, reasoning=5))


def test_custom_tool_call_stream() -> None:
    patch = "*** Begin Patch\n*** End Patch\n"
    arguments = json.dumps({"input": patch})
    chunks = [
        F.tool_call_start(0, "p", "apply_patch"),
        F.tool_call_args(0, arguments[:9]),
        F.tool_call_args(0, arguments[9:]),
        F.finish("tool_calls"),
    ]
    events = run(chunks)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "custom_tool_call_input.delta",
        "custom_tool_call_input.done",
        "output_item.done",
        "completed",
    ]
    assert events[2]["item"] == {
        "id": "ctc_p",
        "type": "custom_tool_call",
        "call_id": "p",
        "name": "apply_patch",
        "input": "",
    }
    assert events[3]["delta"] == events[4]["input"] == patch
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "p", "type": "function", "function": {"name": "apply_patch", "arguments": arguments}}],
    }
    same_as_non_streaming(events, message, "tool_calls", None)


def test_length_ends_with_response_incomplete() -> None:
    events = run([F.role(), F.text("Cut sh"), F.finish("length"), F.usage(USAGE)])
    assert events[-1]["type"] == "response.incomplete"
    final = events[-1]["response"]
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    same_as_non_streaming(events, {"role": "assistant", "content": "Cut sh"}, "length", USAGE)


def test_refusal_deltas_are_text() -> None:
    events = run([F.chunk({"refusal": "No."}), F.finish("stop")])
    assert events[-1]["response"]["output_text"] == "No."


def test_empty_answer() -> None:
    events = run([F.role(), F.finish("stop")])
    assert types(events) == ["created", "in_progress", "completed"]


def test_no_finish_reason_is_a_protocol_error() -> None:
    stream = ChatToResponsesStream(response_id=RID, created_at=1, request=REQUEST)
    stream.feed(F.text("partial"))
    with pytest.raises(UpstreamProtocolError):
        stream.finish()
    with pytest.raises(UpstreamProtocolError):
        ChatToResponsesStream(response_id=RID, created_at=1, request=REQUEST).finish()


@pytest.mark.parametrize(
    ("chunk", "error"),
    [
        ({"error": {"message": "rate limited", "type": "server_error"}}, UpstreamError),
        ("text", UpstreamProtocolError),
        ({"choices": "x"}, UpstreamProtocolError),
        ({"choices": [{"index": 0, "delta": "x"}]}, UpstreamProtocolError),
        ({"choices": ["x", {"index": 0, "delta": {"tool_calls": {"index": 0}}}]}, UpstreamProtocolError),
        (
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "c", "function": {"name": "f"}}]}}]},
            UpstreamProtocolError,
        ),
        (
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}]},
            UpstreamProtocolError,
        ),
    ],
)
def test_bad_chunks(chunk: Any, error: type[Exception]) -> None:
    stream = ChatToResponsesStream(response_id=RID, created_at=1, request=REQUEST)
    stream.feed(F.role())
    with pytest.raises(error) as info:
        stream.feed(chunk)
    if error is UpstreamError:
        assert "rate limited" in str(info.value)


@pytest.mark.parametrize(
    ("exc", "code"),
    [(UpstreamProtocolError("broken"), "server_error"), (ProxyError("slow", status=429), "rate_limit_exceeded")],
)
def test_fail_ends_with_response_failed(exc: ProxyError, code: str) -> None:
    stream = ChatToResponsesStream(response_id=RID, created_at=1, request=REQUEST)
    events = stream.feed(F.text("partial")) + stream.fail(exc)
    for event in events:
        check_extras(EVENTS.validate_python(event))
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert events[-1]["response"]["error"] == {"code": code, "message": exc.message}
    early = ChatToResponsesStream(response_id=RID, created_at=1, request=REQUEST).fail(exc)
    assert types(early) == ["created", "in_progress", "failed"]


def test_unknown_key_check_catches_a_misspelt_field() -> None:
    event = {
        "type": "response.output_text.delta",
        "sequence_number": 0,
        "item_id": "m",
        "output_index": 0,
        "content_index": 0,
        "delta": "x",
        "logprobs": [],
        "detla": "x",
    }
    assert unknown_keys(EVENTS.validate_python(event)) == [".detla"]


# ------------------------------------------------------------------ SSE transcripts, fed three ways


def decode_and_translate(name: str, mode: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    decoder = SSEJsonDecoder()
    stream = ChatToResponsesStream(response_id=RID, created_at=1700000000, request=request)
    chunks = feed_all(decoder.feed, decoder.flush, fixture_bytes(name), mode)
    events = [e for chunk in chunks for e in stream.feed(chunk)] + stream.finish()
    check(events)
    return events


@pytest.mark.parametrize("mode", FEED_MODES)
def test_text_transcript(mode: str) -> None:
    events = decode_and_translate("responses-chat-text.sse", mode, REQUEST)
    assert events == decode_and_translate("responses-chat-text.sse", "whole", REQUEST)
    final = events[-1]["response"]
    assert final["output_text"] == 'Héllo {braces} and "quotes"\nnew line ✓'
    assert final["usage"]["input_tokens"] == 19 and final["usage"]["input_tokens_details"]["cached_tokens"] == 16
    usage = make_usage(19, 9, cached=16)
    same_as_non_streaming(events, {"role": "assistant", "content": final["output_text"]}, "stop", usage)


@pytest.mark.parametrize("mode", FEED_MODES)
def test_tools_transcript(mode: str) -> None:
    request = json.loads(fixture_bytes("responses-codex-request.json"))
    events = decode_and_translate("responses-chat-tools.sse", mode, request)
    assert events == decode_and_translate("responses-chat-tools.sse", "whole", request)
    final = events[-1]["response"]
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call", "custom_tool_call"]
    assert json.loads(final["output"][2]["arguments"]) == {"command": ["git", "status"]}
    assert final["output"][3]["input"].startswith("*** Begin Patch\n*** Update File: a.py\n")
    assert final["usage"]["total_tokens"] == 1280 and final["usage"]["output_tokens_details"]["reasoning_tokens"] == 12
    arg_deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert arg_deltas == ['{"command": ["git", ', '"status"]}']  # streamed as they came, the custom call's held back


# ------------------------------------------------------------------ the whole pipeline, read by the openai SDK


def responses_sse(event: dict[str, Any]) -> bytes:
    return encode_event(event["type"], event)


FAMILIES = {
    "azure": ("responses-chat-tools.sse", lambda: SSEJsonDecoder(), lambda: []),
    "claude-invoke": (
        "claude-invoke-tool-use.sse",
        claude_invoke.stream_decoder,
        lambda: [ClaudeInvokeStream(F, include_usage=True)],
    ),
    "claude-converse": (
        "claude-converse-tool-use.sse",
        claude_converse.stream_decoder,
        lambda: [ClaudeConverseStream(F, include_usage=True)],
    ),
    "gemini": ("gemini-stream-tools.sse", gemini.stream_decoder, lambda: [GeminiStream(F, include_usage=True)]),
}


def sdk_stream(sse: bytes) -> tuple[list[Any], Any]:
    """The openai SDK's own stream helper reading our bytes as if they came from api.openai.com."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=sse)

    client = openai.OpenAI(
        api_key="k", base_url="http://proxy/v1", http_client=httpx2.Client(transport=httpx2.MockTransport(handler))
    )
    with client.responses.stream(model="m", input="hi") as stream:
        return list(stream), stream.get_final_response()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", FEED_MODES)
def test_every_family_streams_through_the_relay_into_the_sdk(family: str, mode: str) -> None:
    name, decoder, stages = FAMILIES[family]
    request = json.loads(fixture_bytes("responses-codex-request.json"))
    translator = ChatToResponsesStream(response_id=RID, created_at=1700000000, request=request)
    relay = TranslatingRelay(decoder(), [*stages(), translator], encode=responses_sse, terminator=b"")
    sse = feed_relay(relay, fixture_bytes(name), mode)
    assert b"[DONE]" not in sse
    events = [json.loads(e.data) for e in SSEDecoder().feed(sse)]
    assert [e.event for e in SSEDecoder().feed(sse)] == [e["type"] for e in events]
    check(events)
    final = events[-1]["response"]
    assert any(item["type"] in ("function_call", "custom_tool_call") for item in final["output"])
    sdk_events, sdk_final = sdk_stream(sse)
    assert [e.type for e in sdk_events if not e.type.startswith("response.output_text.")] == [
        e["type"] for e in events if not e["type"].startswith("response.output_text.")
    ]
    assert sdk_final.id == RID and sdk_final.status == "completed"
    assert [(i.type, i.id) for i in sdk_final.output] == [(i["type"], i["id"]) for i in final["output"]]
    assert sdk_final.output_text == final["output_text"]
    assert sdk_final.usage is not None and sdk_final.usage.model_dump(exclude_none=True) == final["usage"]
