"""Incremental decoder for streams of JSON objects in any of three framings.

Vertex's ``streamGenerateContent`` reaches the proxy as SSE ``data: {...}`` frames,
as bare JSON lines, or as one JSON array streamed piece by piece
(``[{...}\\n,\\r\\n{...}]``) depending on the deployment. Rather than guess, this
decoder pulls out every complete top-level ``{...}`` object and skips whatever lies
between objects (``data:``, commas, brackets, blank lines). It tracks strings and
escapes, so braces inside text never confuse it.
"""

from __future__ import annotations

from typing import Any

from shared.errors import UpstreamProtocolError
from shared.jsonutil import loads

__all__ = ["JsonObjectDecoder"]

_OPEN, _CLOSE, _QUOTE, _BACKSLASH = 0x7B, 0x7D, 0x22, 0x5C


class JsonObjectDecoder:
    """``feed(bytes) -> list[dict]``; ``flush()`` raises if an object was left open."""

    __slots__ = ("_buf", "_pos", "_depth", "_in_str", "_escape", "_start")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._depth = 0
        self._in_str = False
        self._escape = False
        self._start = -1

    def feed(self, chunk: bytes) -> list[Any]:
        self._buf += chunk
        out: list[Any] = []
        buf, i, n = self._buf, self._pos, len(self._buf)
        depth, in_str, escape, start = self._depth, self._in_str, self._escape, self._start
        while i < n:
            if depth == 0:
                j = buf.find(b"{", i)
                if j < 0:
                    i = n
                    break
                i, start, depth = j + 1, j, 1
                continue
            c = buf[i]
            if in_str:
                if escape:
                    escape = False
                elif c == _BACKSLASH:
                    escape = True
                elif c == _QUOTE:
                    in_str = False
            elif c == _QUOTE:
                in_str = True
            elif c == _OPEN:
                depth += 1
            elif c == _CLOSE:
                depth -= 1
                if depth == 0:
                    out.append(self._parse(bytes(buf[start : i + 1])))
                    start = -1
            i += 1
        # Drop consumed bytes so the buffer never grows with the stream.
        keep_from = start if depth else i
        del buf[:keep_from]
        self._pos = i - keep_from
        self._start = 0 if depth else -1
        self._depth, self._in_str, self._escape = depth, in_str, escape
        return out

    def flush(self) -> list[Any]:
        if self._depth:
            raise UpstreamProtocolError("upstream stream ended inside a JSON object")
        return []

    @staticmethod
    def _parse(raw: bytes) -> Any:
        try:
            return loads(raw)
        except ValueError as exc:
            raise UpstreamProtocolError(f"upstream sent malformed JSON in a stream: {raw[:200]!r}") from exc
