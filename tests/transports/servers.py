"""Small real-socket servers for the transport tests: an upstream that can compress, and a TLS variant.

``Upstream`` plays SAP AI Core just enough for one sub-account: the XSUAA token endpoint
and one Azure OpenAI chat deployment, answering JSON or an event stream in a chosen
content coding, compressed event by event (``Z_SYNC_FLUSH``) the way a gzipping gateway
sends it. Every request's method, path and headers are recorded.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

CHAT_PATH = "/v2/inference/deployments/d1/chat/completions"
TOKEN_PATH = "/oauth/token"
WORDS = ["Hel", "lo", ", ", "wor", "ld"]


def chunk_event(text: str) -> bytes:
    doc = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return b"data: " + json.dumps(doc).encode() + b"\n\n"


def final_event() -> bytes:
    doc = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    }
    return b"data: " + json.dumps(doc).encode() + b"\n\ndata: [DONE]\n\n"


CHAT_ANSWER = {
    "id": "c1",
    "object": "chat.completion",
    "created": 0,
    "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, world"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}


class Encoder:
    """One content coding, applied incrementally: ``piece(data)`` is flushed so it can be decoded on arrival."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}.get(coding)
        self._z = zlib.compressobj(6, zlib.DEFLATED, wbits) if wbits is not None else None

    @property
    def header(self) -> str | None:
        return {"identity": None, "raw-deflate": "deflate"}.get(self.coding, self.coding)

    def piece(self, data: bytes) -> bytes:
        if self._z is None:
            return data
        return self._z.compress(data) + self._z.flush(zlib.Z_SYNC_FLUSH)

    def end(self) -> bytes:
        return self._z.flush() if self._z is not None else b""


@dataclass
class Upstream:
    """What the fake upstream does; tests change it between calls."""

    coding: str = "identity"  # identity, gzip, deflate (zlib-wrapped) or raw-deflate
    seen: list[dict[str, Any]] = field(default_factory=list)
    # Set by the test once the transport has handed it the first event: the server waits for
    # it before sending the rest, so a transport that buffered the stream never sets it.
    first_event_delivered: threading.Event = field(default_factory=threading.Event)
    waited_for_client: bool | None = None
    url: str = ""
    connections: int = 0  # TCP connections accepted (TLS ones: handshakes completed)
    client_certs: list[Any] = field(default_factory=list)  # subjects of client certificates presented
    # When set, the token endpoint answers 401 unless its form body holds these fields
    # (what an X.509 token call must send besides the certificate).
    token_form: dict[str, str] | None = None


def _has_form(body: bytes, headers: dict[str, str], expected: dict[str, str]) -> bool:
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return False
    form = dict(parse_qsl(body.decode("latin-1")))
    return all(form.get(k) == v for k, v in expected.items())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        pass

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.partition("?")[0]
        headers = {k.lower(): v for k, v in self.headers.items()}
        state.seen.append({"method": "POST", "path": path, "headers": headers, "body": body})
        if path == TOKEN_PATH and state.token_form is not None and not _has_form(body, headers, state.token_form):
            # XSUAA's answer to a certificate token call without its form (SAP's curl example:
            # -d 'grant_type=client_credentials&client_id=<client id>').
            self._json({"error": "unauthorized", "error_description": "Bad credentials"}, Encoder("identity"), 401)
        elif path == TOKEN_PATH:
            self._json({"access_token": "tok", "expires_in": 3600, "token_type": "bearer"}, Encoder(state.coding))
        elif path == CHAT_PATH:
            doc = json.loads(body or b"{}")
            if doc.get("stream"):
                self._stream(state, Encoder(state.coding))
            else:
                self._json(CHAT_ANSWER, Encoder(state.coding))
        else:
            self.send_error(404)

    def _json(self, doc: dict[str, Any], enc: Encoder, status: int = 200) -> None:
        data = enc.piece(json.dumps(doc).encode()) + enc.end()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if enc.header:
            self.send_header("Content-Encoding", enc.header)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, state: Upstream, enc: Encoder) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        if enc.header:
            self.send_header("Content-Encoding", enc.header)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._chunk(enc.piece(chunk_event(WORDS[0])))
        state.waited_for_client = state.first_event_delivered.wait(10)
        for word in WORDS[1:]:
            self._chunk(enc.piece(chunk_event(word)))
        self._chunk(enc.piece(final_event()) + enc.end())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: Upstream, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.tls = tls

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:
            sock.settimeout(10)
            sock = self.tls.wrap_socket(sock, server_side=True)  # a failed handshake is an OSError: dropped
            peer = sock.getpeercert()
            if peer:
                self.state.client_certs.append(peer.get("subject"))
        self.state.connections += 1
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away (or fail TLS) are part of the tests


@contextmanager
def serve(
    state: Upstream | None = None, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> Iterator[Upstream]:
    """Run the fake upstream on a free port; ``state.url`` is its base URL."""
    state = state or Upstream()
    server = _Server(state, tls)
    port = server.server_address[1]
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
