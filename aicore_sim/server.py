"""A small, fast HTTP/1.1 server on asyncio + httptools.

No web framework: the simulator must never be the bottleneck of a load test, so the
hot path is one parser callback chain and one ``transport.write`` per response.
Requests on a keep-alive connection are handled strictly in order; while a slow
(delayed or streaming) response is in flight, later pipelined requests wait in a queue.

Responses can be gzip-compressed (``Connection.gzip``, set per request by the handler):
whole bodies at once, streams frame by frame with a sync flush after each frame so the
client can decode every frame as soon as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools
import orjson

__all__ = [
    "JSON",
    "LAST_CHUNK",
    "Connection",
    "Handler",
    "Request",
    "accepts_gzip",
    "encode_chunk",
    "reason_line",
]

JSON = b"application/json"
LAST_CHUNK = b"0\r\n\r\n"
_STATUS: dict[int, bytes] = {}
_GZIP_HEADERS = b"content-encoding: gzip\r\nvary: accept-encoding\r\n"


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` value allows a gzip-coded response.

    RFC 9110 section 12.5.3: codings are listed with optional ``;q=`` weights; ``q=0`` means
    "not acceptable"; ``x-gzip`` is an alias of ``gzip``; ``*`` matches any coding not listed.
    No header (or an empty one) means the client asked for no coding: we send identity.
    """
    if not accept_encoding:
        return False
    star: bool | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding in ("gzip", "x-gzip"):
            return weight > 0
        if coding == "*":
            star = weight > 0
    return bool(star)


def _gzip_stream() -> Any:
    # wbits 16 + 15: a gzip header and trailer around the deflate data (zlib documentation).
    return zlib.compressobj(6, zlib.DEFLATED, 31)


def reason_line(status: int) -> bytes:
    """``b"200 OK"`` for a status code (cached)."""
    line = _STATUS.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        line = _STATUS[status] = f"{status} {phrase}".encode()
    return line


class Request:
    """One parsed HTTP request. Headers are a dict of lower-cased names."""

    __slots__ = (
        "method",
        "path",
        "query_string",
        "headers",
        "body",
        "keep_alive",
        "gzip",
        "_json",
        "json_ok",
        "_query",
    )

    def __init__(self, method: str, url: bytes, headers: dict[str, str], body: bytes, keep_alive: bool):
        self.method = method
        if url[:1] != b"/" and b"://" in url[:8]:
            # Absolute form ("GET http://host:port/path"), as an HTTP forward proxy may pass it
            # on: "a server MUST accept the absolute-form in requests" (RFC 9112, section 3.2.2).
            authority, _, rest = url.partition(b"://")[2].partition(b"/")
            url = b"/" + rest
            headers.setdefault("host", authority.decode("latin-1"))
        path, _, query = url.partition(b"?")
        self.path = path.decode("latin-1")
        if "%" in self.path:
            self.path = unquote(self.path)
        self.query_string = query.decode("latin-1")
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive
        self.gzip = False  # the response is gzip-coded (set by the handler, read by the journal)
        self._json: Any = None
        self.json_ok: bool | None = None
        self._query: dict[str, str] | None = None

    @property
    def query(self) -> dict[str, str]:
        if self._query is None:
            self._query = dict(parse_qsl(self.query_string, keep_blank_values=True)) if self.query_string else {}
        return self._query

    def json(self) -> Any:
        """The parsed body, or None when empty or not JSON (``json_ok`` tells which)."""
        if self.json_ok is None:
            try:
                self._json = orjson.loads(self.body) if self.body else None
                self.json_ok = bool(self.body)
            except orjson.JSONDecodeError:
                self._json, self.json_ok = None, False
        return self._json


Handler = Callable[[Request, "Connection"], Awaitable[None] | None]


class Connection(asyncio.Protocol):
    """One client connection: parses requests and writes responses (plain or chunked).

    ``gzip`` tells whether the response being written is gzip-coded; the handler sets it
    for every request before answering. ``tls`` marks connections of the HTTPS listener.
    """

    def __init__(self, handler: Handler, registry: set[Connection], tls: bool = False) -> None:
        self.handler = handler
        self.registry = registry
        self.tls = tls
        self.gzip = False
        self._zstream: Any = None
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.queue: deque[Request] = deque()
        self.task: asyncio.Task[None] | None = None
        self.keep_alive = True
        self.closed = False
        self._paused = False
        self._drain: asyncio.Future[None] | None = None

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.registry.discard(self)
        self.queue.clear()
        if self.task is not None:
            self.task.cancel()
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        self._drain = None

    async def drain(self) -> None:
        """Wait until the transport's write buffer drains (client reading slowly)."""
        if self._paused and not self.closed:
            self._drain = asyncio.get_running_loop().create_future()
            await self._drain

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.send(400, b'{"error":"upgrade not supported"}')
            self.close()
        except httptools.HttpParserError:
            if not self.closed:
                self.keep_alive = False
                self.send(400, b'{"error":"malformed HTTP request"}')
                self.close()

    # -- httptools callbacks ----------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = {}
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self.headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        req = Request(
            self.parser.get_method().decode("latin-1"),
            self.url,
            self.headers,
            b"".join(self.body) if len(self.body) != 1 else self.body[0],
            self.parser.should_keep_alive(),
        )
        if self.task is not None or self.queue:
            self.queue.append(req)
        else:
            self._dispatch(req)

    # -- request dispatch -------------------------------------------------------------
    def _dispatch(self, req: Request) -> None:
        self.keep_alive = req.keep_alive
        try:
            pending = self.handler(req, self)
        except Exception as exc:  # a simulator bug must not look like a malformed request
            print(f"aicore_sim: handler failed: {exc!r}", file=sys.stderr)
            self.keep_alive = False
            self.send(500, b'{"error":"simulator internal error"}')
            self.close()
            return
        if pending is not None:
            self.task = asyncio.ensure_future(pending)
            self.task.add_done_callback(self._task_done)
        elif not self.keep_alive:
            self.close()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.task = None
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            print(f"aicore_sim: handler failed: {exc!r}", file=sys.stderr)
            self.close()
            return
        if self.closed:
            return
        if not self.keep_alive:
            self.close()
            return
        while self.queue and self.task is None and not self.closed:
            self._dispatch(self.queue.popleft())

    # -- writing ----------------------------------------------------------------------
    def _head(self, status: int, content_type: bytes, extra: bytes, length: int | None) -> bytes:
        conn = b"" if self.keep_alive else b"connection: close\r\n"
        if self.gzip:
            conn += _GZIP_HEADERS
        if length is None:
            framing = b"transfer-encoding: chunked\r\ncache-control: no-cache\r\n"
        else:
            framing = b"content-length: %d\r\n" % length
        return b"HTTP/1.1 %s\r\ncontent-type: %s\r\n%s%s%s\r\n" % (
            reason_line(status),
            content_type,
            framing,
            conn,
            extra,
        )

    def coded(self, body: bytes) -> bytes:
        """A whole response body in the response's content coding."""
        if not self.gzip:
            return body
        z = _gzip_stream()
        coded: bytes = z.compress(body) + z.flush()
        return coded

    def send(self, status: int, body: bytes, content_type: bytes = JSON, extra: bytes = b"") -> None:
        """A complete response with Content-Length. ``extra`` holds ready header lines."""
        if self.transport is not None and not self.closed:
            if self.gzip:
                body = self.coded(body)
            self.transport.write(self._head(status, content_type, extra, len(body)) + body)

    def send_head(self, status: int, length: int, content_type: bytes = JSON, extra: bytes = b"") -> None:
        """Only the head of a Content-Length response (the body, already ``coded``, follows via ``write``)."""
        self.write(self._head(status, content_type, extra, length))

    def start_stream(self, status: int, content_type: bytes, extra: bytes = b"", first: bytes = b"") -> None:
        """The head of a chunked response, optionally with already-encoded chunks (identity coding only).

        With gzip, the frames must then go through :meth:`chunk` and end with :meth:`last_chunk`.
        """
        self._zstream = _gzip_stream() if self.gzip else None
        self.write(self._head(status, content_type, extra, None) + first)

    def chunk(self, frame: bytes) -> bytes:
        """One stream frame as a chunk, gzip-coded and sync-flushed when the stream is compressed.

        The sync flush ends each frame on a byte boundary, so a client's decoder yields the
        whole frame from this chunk alone: the stream stays incremental.
        """
        z = self._zstream
        if z is None:
            return encode_chunk(frame)
        return encode_chunk(z.compress(frame) + z.flush(zlib.Z_SYNC_FLUSH))

    def last_chunk(self) -> bytes:
        """The end of a chunked body (with the gzip trailer first when compressed)."""
        z, self._zstream = self._zstream, None
        if z is None:
            return LAST_CHUNK
        return encode_chunk(z.flush()) + LAST_CHUNK

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed and data:
            self.transport.write(data)

    def peer_certificate(self) -> bytes | None:
        """The client certificate (DER) presented in the TLS handshake, None without TLS or certificate."""
        if not self.tls or self.transport is None:
            return None
        ssl_object = self.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        return der or None

    def close(self) -> None:
        """Close after flushing what was written (mid-stream: no terminating chunk)."""
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Drop the socket at once, discarding anything not yet sent."""
        if self.transport is not None and not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                self.transport.abort()


def encode_chunk(frame: bytes) -> bytes:
    """One ``Transfer-Encoding: chunked`` chunk."""
    return b"%x\r\n%s\r\n" % (len(frame), frame)
