"""The ``gzip`` setting: responses (streams frame by frame) gzip-coded when the request accepts gzip."""

from __future__ import annotations

import socket
import zlib
from urllib.parse import urlsplit

import orjson
import pytest
from sim_helpers import Sim, sse_json, user

from aicore_sim.server import accepts_gzip

CHAT = {"messages": [user("compress me please")], "max_tokens": 50}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate", True),
        ("GZIP;q=0.5, br", True),
        ("x-gzip", True),
        ("*", True),
        ("br;q=1.0, *;q=0.1", True),
        (None, False),
        ("", False),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),
    ],
)
def test_accept_encoding_decides(header: str | None, expected: bool) -> None:
    assert accepts_gzip(header) is expected


def _raw_post(sim: Sim, path: str, body: bytes, headers: dict[str, str]) -> tuple[bytes, list[bytes]]:
    """POST over a plain socket; returns the response head and its body chunks as sent."""
    url = urlsplit(sim.base)
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    chunks = []
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        chunks.append(rest[:size])
        rest = rest[size + 2 :]
    return head.lower(), chunks


def test_gzip_is_off_by_default(sim: Sim) -> None:
    resp = sim.post("da-gpt-4o", "chat/completions", CHAT, sim.headers("da-gpt-4o", **{"Accept-Encoding": "gzip"}))
    assert resp.status_code == 200 and "content-encoding" not in resp.headers
    entry = sim.journal_last()
    assert entry["accept_encoding"] == "gzip" and entry["content_encoding"] is None


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "deflate"])
def test_identity_when_the_request_does_not_accept_gzip(sim: Sim, accept: str | None) -> None:
    sim.control("POST", "settings", {"gzip": True})
    headers = sim.headers("da-gpt-4o")
    headers["Accept-Encoding"] = accept or ""  # httpx would advertise gzip on its own
    with sim.client.stream("POST", sim.url("da-gpt-4o", "chat/completions"), json=CHAT, headers=headers) as resp:
        raw = b"".join(resp.iter_raw())
    assert resp.status_code == 200 and "content-encoding" not in resp.headers
    assert orjson.loads(raw)["object"] == "chat.completion"
    assert sim.journal_last()["content_encoding"] is None


def test_gzip_answers_errors_tokens_and_listings_but_not_the_control_api(sim: Sim) -> None:
    sim.control("POST", "settings", {"gzip": True})
    gz = {"Accept-Encoding": "gzip"}
    answer = sim.post("da-gpt-4o", "chat/completions", CHAT, sim.headers("da-gpt-4o", **gz))
    assert answer.headers["content-encoding"] == "gzip" and answer.json()["object"] == "chat.completion"
    with sim.client.stream(
        "POST", sim.url("da-gpt-4o", "chat/completions"), json=CHAT, headers=sim.headers("da-gpt-4o", **gz)
    ) as resp:
        raw = b"".join(resp.iter_raw())
    assert raw[:2] == b"\x1f\x8b" and orjson.loads(zlib.decompress(raw, 31))["object"] == "chat.completion"
    refused = sim.post("da-gpt-4o", "chat/completions", {"messages": []}, sim.headers("da-gpt-4o", **gz))
    assert refused.status_code == 400 and refused.headers["content-encoding"] == "gzip"
    assert "messages" in refused.json()["error"]["message"]
    listing = sim.client.get("/v2/lm/deployments", headers={"Authorization": f"Bearer {sim.token()}", **gz})
    assert listing.headers["content-encoding"] == "gzip" and listing.json()["count"] >= 1
    assert sim.fetch_token().headers["content-encoding"] == "gzip"  # httpx advertises gzip itself
    entry = sim.journal_last()
    assert entry["path"] == "/oauth/token" and entry["content_encoding"] == "gzip"
    assert "gzip" in entry["accept_encoding"]
    assert "content-encoding" not in sim.client.get("/__sim/stats", headers=gz).headers


@pytest.mark.parametrize("paced", [False, True])
def test_streams_are_gzipped_frame_by_frame(sim: Sim, paced: bool) -> None:
    sim.control("POST", "settings", {"gzip": True, "chunk_gap_ms": 1.0 if paced else 0.0})
    body = orjson.dumps({**CHAT, "stream": True, "stream_options": {"include_usage": True}})
    path = sim.url("da-gpt-4o", "chat/completions")
    head, chunks = _raw_post(sim, path, body, sim.headers("da-gpt-4o", **{"Accept-Encoding": "gzip"}))
    assert b"content-encoding: gzip" in head and b"transfer-encoding: chunked" in head
    # Each HTTP chunk decodes on its own into whole SSE frames: a client can hand every
    # frame on as it arrives, nothing waits for the end of the gzip stream.
    inflate = zlib.decompressobj(31)
    text = b""
    for chunk in chunks[:-1]:
        piece = inflate.decompress(chunk)
        assert piece.startswith(b"data: ") and piece.endswith(b"\n\n"), piece
        text += piece
    text += inflate.decompress(chunks[-1]) + inflate.flush()
    assert inflate.eof  # the gzip trailer came last
    events = sse_json(text)
    assert len(chunks) >= len(events) and text.endswith(b"data: [DONE]\n\n")
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"]) == (
        "gpt-4o says: compress me please"
    )
    assert events[-1]["usage"]["completion_tokens"] == 5
    entry = sim.journal_last()
    assert (entry["accept_encoding"], entry["content_encoding"], entry["status"]) == ("gzip", "gzip", 200)


def test_gzipped_stream_cut_by_a_fault_stays_decodable_up_to_the_cut(sim: Sim) -> None:
    sim.control("POST", "settings", {"gzip": True})
    sim.control("POST", "faults", {"target": "da-claude-4-sonnet", "cut_after_chunks": 3})
    body = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [user("hi")]})
    path = "/v2/inference/deployments/da-claude-4-sonnet/invoke-with-response-stream"
    _, chunks = _raw_post(sim, path, body, sim.headers("da-claude-4-sonnet", **{"Accept-Encoding": "gzip"}))
    inflate = zlib.decompressobj(31)
    text = b"".join(inflate.decompress(c) for c in chunks)
    assert len(sse_json(text)) == 3 and not inflate.eof
