"""Latency profile (ttft, chunk gap, chunk count, non-streaming latency, overrides) and client disconnects."""

from __future__ import annotations

import time

from sim_helpers import Sim, sse_json, user

STREAM = {"messages": [user("one two three four five")], "stream": True}


def open_stream(sim: Sim, dep: str = "da-gpt-4o", body: dict = STREAM):
    return sim.client.stream("POST", sim.url(dep, "chat/completions"), json=body, headers=sim.headers(dep))


def test_ttft_headers_at_once_first_chunk_later(sim: Sim) -> None:
    sim.control("POST", "settings", {"ttft_ms": 300})
    start = time.monotonic()
    with open_stream(sim) as resp:
        headers_at = time.monotonic() - start
        raw = resp.iter_raw()  # keep a reference: a dropped iterator closes the stream
        first = next(raw)
        first_at = time.monotonic() - start
    assert resp.status_code == 200
    assert headers_at < 0.2
    assert first_at >= 0.3
    assert first.startswith(b"data: ") or b"data: " in first


def test_chunk_gap_and_fixed_chunk_count(sim: Sim) -> None:
    sim.control("POST", "settings", {"chunk_gap_ms": 40, "chunks": 3})
    start = time.monotonic()
    chunks = sse_json(sim.post("da-gpt-4o", "chat/completions", STREAM).content)
    elapsed = time.monotonic() - start
    content = [c["choices"][0]["delta"]["content"] for c in chunks[2:] if c["choices"][0]["delta"].get("content")]
    assert len(content) == 3 and "".join(content) == "gpt-4o says: one two three four five"
    assert elapsed >= 0.08  # two gaps between three content chunks


def test_non_streaming_latency_and_per_deployment_overrides(sim: Sim) -> None:
    sim.control("POST", "settings", {"overrides": {"da-gpt-4o": {"latency_ms": 250}}})
    body = {"messages": [user("x")]}
    start = time.monotonic()
    assert sim.post("da-gpt-4o", "chat/completions", body).status_code == 200
    assert time.monotonic() - start >= 0.25
    start = time.monotonic()
    assert sim.post("db-gpt-4o", "chat/completions", body).status_code == 200
    assert time.monotonic() - start < 0.2
    settings = sim.control("POST", "settings", {"overrides": {"da-gpt-4o": None}})
    assert settings["overrides"] == {}
    assert sim.client.post("/__sim/settings", json={"ttft_ms": -1}).status_code == 400
    assert sim.client.post("/__sim/settings", json={"overrides": {"nope": {"ttft_ms": 1}}}).status_code == 400


def test_client_disconnect_stops_the_stream_and_is_counted(sim: Sim) -> None:
    sim.control("POST", "settings", {"chunk_gap_ms": 200})
    with open_stream(sim) as resp:
        raw = resp.iter_raw()  # keep a reference: a dropped iterator closes the stream
        next(raw)
        assert sim.control("GET", "stats")["open_streams"] == 1
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        stats = sim.control("GET", "stats")
        if stats["streams_aborted_by_client"]:
            break
        time.sleep(0.02)
    assert stats["streams_aborted_by_client"] == 1
    assert stats["open_streams"] == 0
    assert stats["streams_completed"] == 0 and stats["streams_started"] == 1
