"""JsonObjectDecoder: every Vertex stream framing, sliced every way."""

import json

import pytest

from shared.errors import UpstreamProtocolError
from shared.json_stream import JsonObjectDecoder
from tests.unit.feeding import FEED_MODES, feed_all, fixture_bytes

OBJECTS = [
    {"text": "plain"},
    {"text": "braces } { inside ]] [ a string", "n": 1},
    {"text": 'escaped \\" quote }', "nested": {"a": [{"b": "}"}, {}], "c": None}},
    {"text": "ends with a backslash \\", "after": "{"},
    {"text": "unicode ✓ — ü 漢字 🎉"},
]


def _sse(objs, sep=b"\n\n"):
    return b"".join(b"data: " + json.dumps(o, ensure_ascii=False).encode() + sep for o in objs)


def _lines(objs):
    return b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objs)


def _array(objs):
    return ("[" + "\n,\r\n".join(json.dumps(o, ensure_ascii=False, indent=2) for o in objs) + "]").encode()


FRAMINGS = {
    "sse": _sse(OBJECTS),
    "sse-crlf": _sse(OBJECTS, b"\r\n\r\n") + b": keep-alive\r\n\r\n",
    "json-lines": _lines(OBJECTS),
    "array": _array(OBJECTS),
    "array-compact": json.dumps(OBJECTS).encode(),
}


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize("framing", sorted(FRAMINGS))
def test_every_framing_in_any_slicing(framing, mode):
    d = JsonObjectDecoder()
    assert feed_all(d.feed, d.flush, FRAMINGS[framing], mode) == OBJECTS


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize(
    "name", ["gemini-stream-text.sse", "gemini-stream-text.jsonl", "gemini-stream-text-array.json"]
)
def test_recorded_framings_decode_to_the_same_objects(name, mode):
    d = JsonObjectDecoder()
    got = feed_all(d.feed, d.flush, fixture_bytes(name), mode)
    assert got == json.loads(fixture_bytes("gemini-stream-text-array.json"))


def test_objects_come_out_as_soon_as_they_are_complete():
    d = JsonObjectDecoder()
    assert d.feed(b'data: {"a": "}') == []
    assert d.feed(b'"}\n\ndata: {"b"') == [{"a": "}"}]
    assert d.feed(b": 2}") == [{"b": 2}]
    assert d.flush() == []


def test_escape_split_across_chunks():
    d = JsonObjectDecoder()
    assert d.feed(b'{"a": "x\\') == []
    assert d.feed(b'"}"}') == [{"a": 'x"}'}]


def test_trailing_bytes_between_and_after_objects_are_ignored():
    d = JsonObjectDecoder()
    data = b'\r\n[ \n{"a": 1}\n,\r\n{"b": 2}\n]\n\ndata: [DONE]\n\n'
    assert feed_all(d.feed, d.flush, data, "bytewise") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize("data", [b'data: {"a": 1}\n\ndata: {"b": "tr', b'[{"a": 1},\n{"b": {"c": 2}', b'{"x": "}"'])
def test_truncated_object_makes_flush_raise(data, mode):
    d = JsonObjectDecoder()
    with pytest.raises(UpstreamProtocolError):
        feed_all(d.feed, d.flush, data, mode)


def test_malformed_object_raises_protocol_error():
    d = JsonObjectDecoder()
    with pytest.raises(UpstreamProtocolError, match="malformed JSON"):
        d.feed(b'data: {"a": }\n\n')


def test_buffer_does_not_grow_with_the_stream():
    d = JsonObjectDecoder()
    frame = _sse([{"text": "x" * 100}])
    for _ in range(1000):
        assert d.feed(frame) == [{"text": "x" * 100}]
    assert len(d._buf) == 0
    d.feed(frame[:50])
    assert len(d._buf) <= 50
