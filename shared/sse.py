"""Server-sent events: an incremental decoder and the encoders the proxy writes with.

The decoder follows the WHATWG event-stream rules that matter for LLM streams: lines
end in ``\\n``, ``\\r\\n`` or a lone ``\\r``; ``data:`` lines of one event are joined
with ``\\n``; a blank line dispatches; ``:`` lines are comments. Chunks may split
anywhere (inside a line, between ``\\r`` and ``\\n``), so state is kept between calls,
as in httpx's ``LineDecoder``. ``flush()`` dispatches an event left open at EOF,
because some upstreams end the stream without the final blank line.

One deliberate leniency: some gateways, and Gemini's own SSE, send one ``data:`` line per
JSON document with no blank line between them, and the reference clients read event
streams line by line (python-genai yields every ``data:`` line as a document). So a
``data:`` line that starts a JSON document (``{`` or ``[``) while the event so far is
exactly one line holding a complete document (or ``[DONE]``) dispatches that event first.
Spec-compliant multi-line data is untouched: its first line is not a complete document
(``{`` alone), or its next lines do not start one, or it already has several lines. An
``event:`` line that follows data is held until it is clear which event it names: the
next one after such a split, otherwise (as the spec says) the one being built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.jsonutil import dumps, loads

__all__ = ["DONE", "SSEDecoder", "SSEEvent", "encode_comment", "encode_data", "encode_event", "is_json_document"]

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its ``event:`` name (or None) and its data bytes."""

    data: bytes
    event: str | None = None


def is_json_document(data: bytes) -> bool:
    """Whether ``data`` is one complete JSON document, or the ``[DONE]`` marker."""
    if data == b"[DONE]":
        return True
    try:
        loads(data)
    except ValueError:
        return False
    return True


class SSEDecoder:
    """``feed(bytes) -> list[SSEEvent]``; ``flush() -> list[SSEEvent]`` at EOF.

    ``is_document`` decides whether a one-line event is complete when another ``data:``
    line follows without a blank line (see the module docstring); it runs only then.
    """

    __slots__ = ("_tail", "_cr", "_data", "_event", "_next_event", "_is_document")

    def __init__(self, is_document: Callable[[bytes], bool] = is_json_document) -> None:
        self._tail = b""
        self._cr = False
        self._data: list[bytes] = []
        self._event: str | None = None
        self._next_event: str | None = None  # an ``event:`` line seen after data (see _line)
        self._is_document = is_document

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._cr:
            chunk = b"\r" + chunk
            self._cr = False
        if chunk.endswith(b"\r"):
            # Could be half of "\r\n": decide when the next byte arrives.
            chunk = chunk[:-1]
            self._cr = True
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if self._tail:
            chunk = self._tail + chunk
        lines = chunk.split(b"\n")
        self._tail = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def flush(self) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        if self._tail or self._cr:
            self._line(self._tail, events)
            self._tail = b""
            self._cr = False
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                event = self._next_event if self._next_event is not None else self._event
                events.append(SSEEvent(b"\n".join(self._data), event))
            self._data = []
            self._event = self._next_event = None
            return
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data = self._data
            if len(data) == 1 and value.lstrip()[:1] in (b"{", b"[") and self._is_document(data[0]):
                # Back-to-back documents without a blank line: the first one is an event of its own.
                events.append(SSEEvent(data[0], self._event))
                self._data = [value]
                self._event, self._next_event = self._next_event, None
            else:
                data.append(value)
        elif field == b"event":
            name = value.decode("utf-8", "replace")
            if self._data:
                self._next_event = name
            else:
                self._event = name
        # "id" and "retry" carry nothing the proxy uses.


def encode_data(payload: Any) -> bytes:
    """``data: <json>`` frame; ``payload`` may be a dict or already-encoded JSON bytes."""
    body = payload if isinstance(payload, bytes | bytearray) else dumps(payload)
    return b"data: " + bytes(body) + b"\n\n"


def encode_event(name: str, payload: Any) -> bytes:
    """Named frame, as the Anthropic and Responses APIs stream them."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


def encode_comment(text: str = "keep-alive") -> bytes:
    """A comment frame: ignored by clients, keeps idle connections open."""
    return b": " + text.encode() + b"\n\n"
