"""OpenAI-family passthrough: the few request edits Azure needs, and SSE re-framing."""

import copy
import json

import pytest

from shared.capabilities import capabilities_for
from shared.convert.azure_openai import AzurePassthroughRelay, openai_to_azure_chat
from shared.errors import UpstreamProtocolError, UpstreamTimeout
from shared.sse import DONE, SSEDecoder
from tests.unit.feeding import FEED_MODES, feed_relay, fixture_bytes, slices


def convert(body, reasoning_model, api_version="preview"):
    before = copy.deepcopy(body)
    caps = capabilities_for("gpt-5" if reasoning_model else "gpt-4o", "openai", api_version=api_version)
    out = openai_to_azure_chat(body, caps=caps)
    assert body == before, "the converter mutated its input"
    return out


# ------------------------------------------------------------------ request


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("o1", True),
        ("o1-mini", True),
        ("o3", True),
        ("O3-Mini", True),
        ("o4-mini", True),
        ("gpt-5", True),
        ("gpt-5-mini", True),
        ("GPT-5-nano", True),
        ("azure/gpt-5", True),
        ("azure/o4-mini", True),
        ("gpt-4o", False),
        ("gpt-4.1-mini", False),
        ("gpt-35-turbo", False),
        ("text-embedding-3-small", False),
        ("azure/gpt-4o", False),
    ],
)
def test_is_reasoning_model(name, expected):
    assert capabilities_for(name, "openai").reasoning is expected


def test_plain_body_is_forwarded_with_model_and_everything_else():
    body = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "user": "u",
    }
    out = convert(body, reasoning_model=False)
    assert out == body and out is not body
    assert out["messages"] is body["messages"]  # nothing to strip: no copy of the conversation


def test_reasoning_model_edits():
    body = {
        "model": "gpt-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 500,
        "temperature": 0.2,
        "top_p": 1,
        "reasoning_effort": "low",
    }
    assert convert(body, reasoning_model=True) == {
        "model": "gpt-5",
        "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 500,
        "reasoning_effort": "low",
    }


def test_reasoning_model_keeps_an_explicit_max_completion_tokens():
    body = {"model": "o3", "messages": [], "max_tokens": 10, "max_completion_tokens": 99}
    assert convert(body, reasoning_model=True) == {"model": "o3", "messages": [], "max_completion_tokens": 99}
    body = {"model": "o3", "messages": [], "max_tokens": 10, "max_completion_tokens": None}
    assert convert(body, reasoning_model=True)["max_completion_tokens"] == 10


def test_non_reasoning_model_drops_reasoning_effort_only():
    body = {"model": "gpt-4o", "messages": [], "reasoning_effort": "high", "max_tokens": 5, "temperature": 0}
    assert convert(body, reasoning_model=False) == {
        "model": "gpt-4o",
        "messages": [],
        "max_tokens": 5,
        "temperature": 0,
    }


@pytest.mark.parametrize("stream", [None, False, "yes"])
def test_stream_options_dropped_unless_streaming(stream):
    body = {"model": "gpt-4o", "messages": [], "stream_options": {"include_usage": True}}
    if stream is not None:
        body["stream"] = stream
    assert "stream_options" not in convert(body, reasoning_model=False)


def test_cache_control_is_stripped_from_content_parts_and_messages():
    body = {
        "model": "gpt-4o",
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "You are Cline.", "cache_control": {"type": "ephemeral"}}],
            },
            {"role": "user", "content": "plain"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                ],
                "cache_control": {"type": "ephemeral"},
            },
        ],
    }
    out = convert(body, reasoning_model=False)
    assert out["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "You are Cline."}]},
        {"role": "user", "content": "plain"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
    ]
    assert out["messages"][1] is body["messages"][1]
    assert "cache_control" not in json.dumps(out)


# ------------------------------------------------------------------ stream re-framing


def upstream_events(raw):
    """What Azure sent, as data payloads (comments dropped)."""
    d = SSEDecoder()
    return [e.data for e in d.feed(raw) + d.flush()]


def is_preamble(data):
    doc = json.loads(data)
    return doc["choices"] == [] and "prompt_filter_results" in doc


def expected_output(raw):
    """Every upstream data event but Azure's prompt-filter preamble and [DONE], then one [DONE]."""
    events = upstream_events(raw)
    assert is_preamble(events[0]), "the recorded Azure streams start with the preamble"
    return b"".join(b"data: " + x + b"\n\n" for x in events[1:] if x != b"[DONE]") + DONE


@pytest.mark.parametrize("trailing", [b"", b"\n\n: keep-alive\n\n"])
@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize("name", ["azure-stream.sse", "azure-stream-usage.sse"])
def test_stream_is_reframed_without_changes_and_ends_in_one_done(name, mode, trailing):
    raw = fixture_bytes(name)
    out = feed_relay(AzurePassthroughRelay(), raw + trailing, mode)
    assert out == expected_output(raw)
    assert out.count(b"[DONE]") == 1 and out.endswith(DONE)
    assert b"keep-alive" not in out
    chunks = [json.loads(x) for x in upstream_events(out)[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert ("usage" in chunks[-1]) is (name == "azure-stream-usage.sse")


@pytest.mark.parametrize("mode", FEED_MODES)
def test_missing_upstream_done_raises_at_finish_and_fail_keeps_the_tail(mode):
    raw = fixture_bytes("azure-stream-no-done.sse")
    relay = AzurePassthroughRelay()
    out = bytearray()
    for piece in slices(raw[:-2], mode):  # also lose the last blank line: the flush must still deliver it
        out += relay.feed(piece)
    with pytest.raises(UpstreamProtocolError) as err:
        relay.finish()
    out += relay.fail(err.value)
    events = upstream_events(bytes(out))
    assert events[:-2] == upstream_events(raw)[1:]
    assert json.loads(events[-2])["error"]["code"] == "upstream_protocol_error"
    assert events[-1] == b"[DONE]" and bytes(out).count(b"[DONE]") == 1


def test_fail_mid_stream_writes_error_then_one_done_and_nothing_after():
    relay = AzurePassthroughRelay()
    first = relay.feed(b'data: {"a":1}\n\ndata: {"b"')
    assert first == b'data: {"a":1}\n\n'
    tail = relay.fail(UpstreamTimeout("went silent"))
    assert tail.endswith(DONE) and b"went silent" in tail
    assert relay.fail(UpstreamTimeout("again")) == b""
    assert relay.feed(b":2}\n\n") == b"" and relay.finish() == b""


def test_fail_after_finish_writes_nothing():
    relay = AzurePassthroughRelay()
    assert relay.feed(b"data: {}\n\ndata: [DONE]\n\n") == b"data: {}\n\n"
    assert relay.finish() == DONE
    assert relay.fail(UpstreamTimeout("late")) == b""
    assert relay.finish() == b""


def test_events_after_done_and_empty_events_are_dropped():
    relay = AzurePassthroughRelay()
    out = relay.feed(b'data:\n\ndata: {"x":1}\r\n\r\ndata: [DONE]\n\ndata: {"late":1}\n\n')
    assert out == b'data: {"x":1}\n\n'
    assert relay.finish() == DONE


def test_multi_line_data_stays_valid_sse():
    relay = AzurePassthroughRelay()
    out = relay.feed(b'data: {"a":\ndata: 1}\n\n') + relay.feed(b"data: [DONE]\n\n") + relay.finish()
    assert upstream_events(out) == [b'{"a":\n1}', b"[DONE]"]


def test_message_fields_echoed_back_from_earlier_answers_are_dropped():
    """The OpenAI SDK's message.model_dump() carries ``annotations``; our Gemini/Claude answers
    carry ``reasoning_content``. Azure refuses both ("'annotations' was unexpected")."""
    assistant = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "annotations": [],
        "reasoning_content": "thinking...",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    }
    body = {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "hi", "name": "ann"},
            assistant,
            {"role": "tool", "tool_call_id": "c1", "content": "ok", "parsed": None},
        ],
    }
    out = convert(body, reasoning_model=False)
    assert out["messages"] == [
        {"role": "user", "content": "hi", "name": "ann"},
        {"role": "assistant", "content": None, "refusal": None, "tool_calls": assistant["tool_calls"]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
    ]
    assert out["messages"][0] is body["messages"][0]


def test_only_a_leading_prompt_filter_preamble_is_dropped():
    preamble = b'{"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}'
    talk = b'{"choices":[{"delta":{"content":"\\"prompt_filter_results\\""},"index":0}],"id":"c1"}'
    usage = b'{"choices":[],"id":"c1","usage":{"total_tokens":3},"prompt_filter_results":[]}'
    relay = AzurePassthroughRelay()
    raw = b"".join(b"data: " + x + b"\n\n" for x in (preamble, talk, preamble, usage, b"[DONE]"))
    out = feed_relay(relay, raw, "uneven")
    assert upstream_events(out) == [talk, preamble, usage, b"[DONE]"]


def test_a_stream_whose_first_event_merely_mentions_prompt_filters_is_kept():
    relay = AzurePassthroughRelay()
    first = b'{"choices":[{"delta":{"role":"assistant"}}],"prompt_filter_results":[]}'
    assert relay.feed(b"data: " + first + b"\n\n") == b"data: " + first + b"\n\n"
    odd = b'data: {"prompt_filter_results": [], "choices": [\n\n'  # not JSON: forwarded, not guessed at
    assert AzurePassthroughRelay().feed(odd) == odd


@pytest.mark.parametrize("spaced", [False, True])
def test_usage_null_that_the_proxy_asked_for_is_not_passed_to_a_client_that_did_not(spaced):
    """The proxy always asks for the usage chunk; with it Azure writes ``"usage": null`` in every chunk."""
    choice = {"index": 0, "delta": {"content": ',"usage":null'}}
    doc = {"id": "c1", "object": "chat.completion.chunk", "choices": [choice], "usage": None}
    data = json.dumps(doc) if spaced else json.dumps(doc, separators=(",", ":"))
    raw = f"data: {data}\n\ndata: [DONE]\n\n".encode()
    quiet = [json.loads(x) for x in upstream_events(AzurePassthroughRelay(client_usage=False).feed(raw))]
    assert quiet == [{k: v for k, v in doc.items() if k != "usage"}]  # content that merely mentions it stays
    asked = [json.loads(x) for x in upstream_events(AzurePassthroughRelay(client_usage=True).feed(raw))]
    assert asked == [doc]
