"""Server-sent events: an incremental decoder and the encoders the proxy writes with.

The decoder follows the WHATWG event-stream rules that matter for LLM streams: lines
end in ``\\n``, ``\\r\\n`` or a lone ``\\r``; ``data:`` lines of one event are joined
with ``\\n``; a blank line dispatches; ``:`` lines are comments. Chunks may split
anywhere (inside a line, between ``\\r`` and ``\\n``), so state is kept between calls,
as in httpx's ``LineDecoder``. ``flush()`` dispatches an event left open at EOF,
because some upstreams end the stream without the final blank line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.jsonutil import dumps

__all__ = ["DONE", "SSEDecoder", "SSEEvent", "encode_comment", "encode_data", "encode_event"]

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: its ``event:`` name (or None) and its data bytes."""

    data: bytes
    event: str | None = None


class SSEDecoder:
    """``feed(bytes) -> list[SSEEvent]``; ``flush() -> list[SSEEvent]`` at EOF."""

    __slots__ = ("_tail", "_cr", "_data", "_event")

    def __init__(self) -> None:
        self._tail = b""
        self._cr = False
        self._data: list[bytes] = []
        self._event: str | None = None

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
                events.append(SSEEvent(b"\n".join(self._data), self._event))
            self._data = []
            self._event = None
            return
        if line[0] == 0x3A:  # ":" comment / keep-alive
            return
        field, sep, value = line.partition(b":")
        if sep and value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            self._data.append(value)
        elif field == b"event":
            self._event = value.decode("utf-8", "replace")
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
