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
    from shared.streams import ChatStream, SSEJsonDecoder

    class Translator:
        def feed(self, event):
            if event.get("boom"):
                raise UpstreamError("upstream died")
            return [{"n": event["n"]}]

        def finish(self):
            return []

    stream = ChatStream(SSEJsonDecoder(), Translator())
    try:
        stream.feed(b'data: {"n": 1}\n\ndata: {"boom": true}\n\n')
    except UpstreamError as exc:
        out = stream.fail(exc)
    assert out.startswith(b'data: {"n":1}\n\ndata: {"error":')
    assert out.endswith(b"data: [DONE]\n\n") and out.count(b"[DONE]") == 1
    assert stream.fail(UpstreamError("again")) == b""
