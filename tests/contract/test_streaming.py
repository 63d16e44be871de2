"""SSE as a client sees it on the wire: framing, real-time delivery, disconnects."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.sse_client import stream_raw

MODELS = ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]


@pytest.fixture
def slow_sim(sim: Sim) -> Iterator[Sim]:
    sim.client.post("/__sim/settings", json={"ttft_ms": 0, "chunk_gap_ms": 150})
    try:
        yield sim
    finally:
        sim.client.post("/__sim/settings", json={"ttft_ms": 0, "chunk_gap_ms": 0})


@pytest.mark.parametrize("model", MODELS)
def test_framing(stack: Stack, model: str):
    body = {"model": model, "messages": [{"role": "user", "content": "frame check"}], "stream": True}
    with stack.client() as c:
        s = stream_raw(c, "/v1/chat/completions", body)
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream")
    assert s.headers["x-proxy-stack"] == stack.name
    assert s.data.count("[DONE]") == 1 and s.data[-1] == "[DONE]"
    chunks = s.json_chunks()
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    first_with_choice = next(c for c in chunks if c["choices"])
    assert first_with_choice["choices"][0]["delta"]["role"] == "assistant"
    assert s.text() == f"{model} says: frame check"
    assert all(e is None for e, _ in s.frames), "chat streams use unnamed data frames"


@pytest.mark.parametrize("model", MODELS)
def test_chunks_are_forwarded_as_they_arrive(stack: Stack, slow_sim: Sim, model: str):
    words = "w1 w2 w3 w4 w5 w6"
    body = {"model": model, "messages": [{"role": "user", "content": words}], "stream": True}
    with stack.client() as c:
        s = stream_raw(c, "/v1/chat/completions", body)
    content_times = [
        t
        for t, (_, d) in zip(s.arrival, s.frames, strict=True)
        if d != "[DONE]" and any((ch["delta"].get("content") or "") for ch in json.loads(d).get("choices", []))
    ]
    # 8 words, 150 ms apart upstream: the first must not wait for the rest, and they must not be coalesced.
    assert len(content_times) == 8
    assert content_times[0] < 0.6
    assert content_times[-1] - content_times[0] > 0.8
    gaps = [b - a for a, b in zip(content_times, content_times[1:], strict=False)]
    assert sum(g > 0.08 for g in gaps) >= 6


@pytest.mark.parametrize("model", ["gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"])
def test_client_disconnect_closes_the_upstream_stream(stack: Stack, slow_sim: Sim, model: str):
    before = slow_sim.stats()
    host, port = stack.url.removeprefix("http://").split(":")
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": " ".join(["word"] * 40)}], "stream": True}
    ).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + stack.key.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert b"200" in sock.recv(65536).split(b"\r\n", 1)[0]
    deadline = time.monotonic() + 5
    while slow_sim.stats()["open_streams"] <= before["open_streams"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slow_sim.stats()["open_streams"] > before["open_streams"], "upstream stream should be open"
    sock.close()
    closed_at = time.monotonic()
    while slow_sim.stats()["open_streams"] > before["open_streams"] and time.monotonic() - closed_at < 5:
        time.sleep(0.05)
    assert slow_sim.stats()["open_streams"] == before["open_streams"]
    assert time.monotonic() - closed_at < 2.0, "upstream stream must close within 2 s of the client leaving"
    assert slow_sim.stats()["streams_aborted_by_client"] > before["streams_aborted_by_client"]
