"""The streaming pipeline: upstream bytes -> decoded events -> OpenAI chunks -> SSE bytes.

Three pure stages, as in the design notes: a *decoder* (``feed(bytes) -> list``,
``flush() -> list``) turns upstream framing into events, a *translator*
(``feed(event) -> list[dict]``, ``finish() -> list[dict]``) keeps per-stream state and
turns events into OpenAI chunks, and the relay encodes them. Transports only pump
bytes into a :class:`StreamRelay` and write out what it returns; they never look
inside. Whatever goes wrong mid-stream is written in-band by :meth:`fail`, because
the HTTP status has already been sent.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any, Protocol

from shared.errors import ProxyError, UpstreamProtocolError
from shared.jsonutil import loads
from shared.sse import DONE, SSEDecoder, encode_data

__all__ = [
    "ChatStream",
    "Decoder",
    "SSEJsonDecoder",
    "StreamRelay",
    "Translator",
    "openai_error_frame",
    "parse_json_or_literal",
]


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[Any]: ...
    def flush(self) -> list[Any]: ...


class Translator(Protocol):
    def feed(self, event: Any) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...


class StreamRelay(Protocol):
    """What a transport drives: bytes in, bytes for the client out."""

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, exc: ProxyError) -> bytes: ...


def parse_json_or_literal(data: bytes) -> Any:
    """Parse one frame payload: JSON, or the Python-literal dicts some Converse deployments emit."""
    try:
        return loads(data)
    except ValueError:
        pass
    try:
        return ast.literal_eval(data.decode("utf-8"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise UpstreamProtocolError(f"upstream sent a malformed stream frame: {data[:200]!r}") from exc


class SSEJsonDecoder:
    """SSE frames whose data is one JSON (or Python-literal) object each; ``[DONE]`` ends nothing here."""

    __slots__ = ("_sse", "_parse")

    def __init__(self, parse: Callable[[bytes], Any] = parse_json_or_literal) -> None:
        self._sse = SSEDecoder()
        self._parse = parse

    def feed(self, chunk: bytes) -> list[Any]:
        return [self._parse(e.data) for e in self._sse.feed(chunk) if e.data != b"[DONE]"]

    def flush(self) -> list[Any]:
        return [self._parse(e.data) for e in self._sse.flush() if e.data != b"[DONE]"]


def openai_error_frame(exc: ProxyError) -> bytes:
    """The in-band error chunk the OpenAI SDKs raise on (``{"error": {...}}``)."""
    return encode_data({"error": {"message": exc.message, "type": exc.openai_type, "code": exc.code}})


class ChatStream:
    """Relay for Claude/Gemini streams: decode, translate to OpenAI chunks, encode, one ``[DONE]``."""

    __slots__ = ("_decoder", "_translator", "_closed", "_pending")

    def __init__(self, decoder: Decoder, translator: Translator) -> None:
        self._decoder = decoder
        self._translator = translator
        self._closed = False
        # Output made before an error in the same read; fail() sends it first so no text is lost.
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        out = bytearray()
        translate = self._translator.feed
        try:
            for event in self._decoder.feed(chunk):
                for doc in translate(event):
                    out += encode_data(doc)
        except ProxyError:
            self._pending = bytes(out)
            raise
        return bytes(out)

    def finish(self) -> bytes:
        out = bytearray()
        try:
            for event in self._decoder.flush():
                for doc in self._translator.feed(event):
                    out += encode_data(doc)
            for doc in self._translator.finish():
                out += encode_data(doc)
        except ProxyError:
            self._pending = bytes(out)
            raise
        out += self._done()
        return bytes(out)

    def fail(self, exc: ProxyError) -> bytes:
        if self._closed:  # the answer already ended with [DONE]; nothing may follow it
            return b""
        pending, self._pending = self._pending, b""
        return pending + openai_error_frame(exc) + self._done()

    def _done(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        return DONE
