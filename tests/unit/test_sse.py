import pytest

from shared.sse import DONE, SSEDecoder, SSEEvent, encode_comment, encode_data, encode_event
from tests.unit.feeding import FEED_MODES, feed_all

TRANSCRIPT = (
    b": keep-alive\n\n"
    b'event: message_start\ndata: {"a":1}\n\n'
    b"data: line one\r\ndata: line two\r\n\r\n"
    b'id: 7\nretry: 10\ndata:{"no":"space"}\r\r'
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent(b'{"a":1}', "message_start"),
    SSEEvent(b"line one\nline two"),
    SSEEvent(b'{"no":"space"}'),
    SSEEvent(b"[DONE]"),
]


@pytest.mark.parametrize("mode", FEED_MODES)
def test_transcript_in_any_slicing(mode):
    d = SSEDecoder()
    assert feed_all(d.feed, d.flush, TRANSCRIPT, mode) == EXPECTED


@pytest.mark.parametrize("mode", FEED_MODES)
def test_event_left_open_at_eof_is_flushed(mode):
    d = SSEDecoder()
    assert feed_all(d.feed, d.flush, b'data: {"x":1}\ndata: tail', mode) == [SSEEvent(b'{"x":1}\ntail')]


def test_trailing_bytes_after_last_event_do_not_invent_events():
    d = SSEDecoder()
    assert d.feed(b"data: a\n\n\n\n: comment\n") == [SSEEvent(b"a")]
    assert d.flush() == []


def test_cr_split_across_chunks_is_one_line_break():
    d = SSEDecoder()
    assert d.feed(b"data: a\r") == []
    assert d.feed(b"\n\r") == []
    assert d.feed(b"\n") == [SSEEvent(b"a")]


def test_encoders():
    assert encode_data({"a": 1}) == b'data: {"a":1}\n\n'
    assert encode_data(b"[DONE]") == DONE
    assert encode_event("ping", {"type": "ping"}) == b'event: ping\ndata: {"type":"ping"}\n\n'
    assert encode_comment() == b": keep-alive\n\n"


def test_chat_stream_keeps_output_made_before_an_error():
    from shared.errors import UpstreamError
    from shared.streams import ChatRelay, SSEJsonDecoder

    class Translator:
        def feed(self, event):
            if event.get("boom"):
                raise UpstreamError("upstream died")
            return [{"n": event["n"]}]

        def finish(self):
            return []

    stream = ChatRelay(SSEJsonDecoder(), Translator())
    try:
        stream.feed(b'data: {"n": 1}\n\ndata: {"boom": true}\n\n')
    except UpstreamError as exc:
        out = stream.fail(exc)
    assert out.startswith(b'data: {"n":1}\n\ndata: {"error":')
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    assert stream.fail(UpstreamError("again")) == b""


# Back-to-back data lines: some gateways, and Gemini's SSE, put one JSON document per
# ``data:`` line with no blank line between them (python-genai reads each line as a document).
BACK_TO_BACK = (
    b'data: {"n": 1}\n'
    b'data: {"n": 2}\r\n'
    b": keep-alive\n"
    b'data:[{"n": 3}]\r'
    b"data: [DONE]\n"
    b'data: {"n": 4}\n'  # trailing: ended by EOF, no line break after the last event
    b'data: {"n": 5}'
)


@pytest.mark.parametrize("mode", FEED_MODES)
def test_back_to_back_json_data_lines_are_separate_events(mode):
    d = SSEDecoder()
    got = feed_all(d.feed, d.flush, BACK_TO_BACK, mode)
    assert got == [
        SSEEvent(b'{"n": 1}'),
        SSEEvent(b'{"n": 2}'),
        SSEEvent(b'[{"n": 3}]'),
        SSEEvent(b"[DONE]"),
        SSEEvent(b'{"n": 4}'),
        SSEEvent(b'{"n": 5}'),
    ]


@pytest.mark.parametrize("mode", FEED_MODES)
def test_named_events_without_blank_lines_keep_their_names(mode):
    data = b'event: a\ndata: {"x": 1}\nevent: b\ndata: {"x": 2}\n\nevent: c\ndata: {"x": 3}\n\n\n'
    d = SSEDecoder()
    assert feed_all(d.feed, d.flush, data, mode) == [
        SSEEvent(b'{"x": 1}', "a"),
        SSEEvent(b'{"x": 2}', "b"),
        SSEEvent(b'{"x": 3}', "c"),
    ]


SPEC_MULTILINE = (
    b'data: {\ndata: "a": 1\ndata: }\n\n'  # one JSON document over three lines
    b"data: [1,\ndata: [2]]\n\n"  # the second line starts like a document, the first is not one
    b"data: first line\ndata: {not json}\n\n"  # plain text lines are joined as the spec says
    b'data: {"x": 1}\nevent: late\n\n'  # the event field may follow the data
    b'data: {"y": 1}\ndata: tail\ndata: {"z": 1}\n\n'  # a third line never splits a multi-line event
)


@pytest.mark.parametrize("mode", FEED_MODES)
def test_spec_compliant_multi_line_events_are_unchanged(mode):
    d = SSEDecoder()
    assert feed_all(d.feed, d.flush, SPEC_MULTILINE + b"\n: trailing comment\n", mode) == [
        SSEEvent(b'{\n"a": 1\n}'),
        SSEEvent(b"[1,\n[2]]"),
        SSEEvent(b"first line\n{not json}"),
        SSEEvent(b'{"x": 1}', "late"),
        SSEEvent(b'{"y": 1}\ntail\n{"z": 1}'),
    ]


@pytest.mark.parametrize("mode", FEED_MODES)
def test_json_decoder_reads_back_to_back_documents_and_python_literal_frames(mode):
    from shared.streams import SSEJsonDecoder

    data = b"data: {'a': 1}\ndata: {'b': 2}\ndata: {\"c\": 3}\ndata: [DONE]\n"
    d = SSEJsonDecoder()
    assert feed_all(d.feed, d.flush, data, mode) == [{"a": 1}, {"b": 2}, {"c": 3}]
