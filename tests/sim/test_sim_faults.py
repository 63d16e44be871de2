"""Fault injection: statuses, ordering, filters, delays, cut/malformed streams, drops, revocation."""

from __future__ import annotations

import time

import httpx
import pytest
from sim_helpers import Sim, sse_payloads, user

CHAT = {"messages": [user("one two three four five")]}
STREAM = {**CHAT, "stream": True}


def chat(sim: Sim, body: dict = CHAT, dep: str = "da-gpt-4o"):
    return sim.post(dep, "chat/completions", body)


def test_status_with_retry_after_and_default_bodies(sim: Sim) -> None:
    sim.control("POST", "faults", {"target": "da-gpt-4o", "status": 429, "retry_after": 2, "times": 1})
    resp = chat(sim)
    assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
    assert resp.json()["error"]["code"] == "429"
    assert chat(sim).status_code == 200
    sim.control("POST", "faults", [{"target": "*", "status": 503, "times": 1}])
    invoke = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [user("x")]}
    assert sim.post("da-claude-4-sonnet", "invoke", invoke).json() == {
        "message": "Bedrock is unable to process your request."
    }
    sim.control("POST", "faults", {"target": "da-gemini-2-5-pro", "status": 429, "times": 1})
    err = sim.post(
        "da-gemini-2-5-pro",
        "models/gemini-2.5-pro:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
    ).json()["error"]
    assert err["status"] == "RESOURCE_EXHAUSTED" and err["code"] == 429


def test_faults_apply_in_order_and_are_consumed(sim: Sim) -> None:
    sim.control("POST", "faults", [{"status": 429, "times": 1}, {"status": 500, "times": 1}])
    assert [chat(sim).status_code for _ in range(3)] == [429, 500, 200]
    listed = sim.control("GET", "faults")["faults"]
    assert [(f["remaining"], f["hits"]) for f in listed] == [(0, 1), (0, 1)]
    sim.control("DELETE", "faults")
    assert sim.control("GET", "faults")["faults"] == []


def test_custom_body_headers_and_until_cleared(sim: Sim) -> None:
    sim.control(
        "POST", "faults", {"status": 502, "body": "<html>bad gateway</html>", "headers": {"x-retry-after": "1"}}
    )
    for _ in range(2):
        resp = chat(sim)
        assert resp.status_code == 502 and resp.text == "<html>bad gateway</html>"
        assert resp.headers["x-retry-after"] == "1"
    sim.control("POST", "reset")
    sim.control("POST", "faults", {"status": 400, "body": {"custom": True}, "times": 1})
    assert chat(sim).json() == {"custom": True}


def test_stream_filter(sim: Sim) -> None:
    sim.control("POST", "faults", {"status": 500, "stream": True})
    assert chat(sim).status_code == 200
    assert chat(sim, STREAM).status_code == 500
    sim.control("DELETE", "faults")
    sim.control("POST", "faults", {"status": 500, "stream": False})
    assert chat(sim, STREAM).status_code == 200
    assert chat(sim).status_code == 500


def test_token_target(sim: Sim) -> None:
    sim.token("sim-a")
    sim.control("POST", "faults", {"target": "token", "status": 503, "times": 1})
    assert chat(sim).status_code == 200  # deployments are not affected
    assert sim.fetch_token().status_code == 503
    assert sim.fetch_token().status_code == 200


def test_listing_target(sim: Sim) -> None:
    headers = {"Authorization": f"Bearer {sim.token('sim-a')}"}
    sim.control("POST", "faults", {"target": "listing", "status": 500, "times": 1})
    assert chat(sim).status_code == 200  # deployments are not affected
    assert sim.fetch_token().status_code == 200  # nor is the token endpoint
    failed = sim.client.get("/v2/lm/deployments", headers=headers)
    assert failed.status_code == 500
    assert failed.json() == {"error": {"code": "500", "message": "Simulated AI API failure (500)"}}
    listed = sim.client.get("/v2/lm/deployments", headers=headers)
    assert listed.status_code == 200 and listed.json()["count"] > 0
    sim.control("POST", "faults", {"target": "listing", "drop_connection": True, "times": 1})
    with pytest.raises(httpx.HTTPError):
        sim.client.get("/v2/lm/deployments", headers=headers)


def test_delay_headers(sim: Sim) -> None:
    sim.control("POST", "faults", {"delay_headers_ms": 300, "times": 1})
    start = time.monotonic()
    assert chat(sim).status_code == 200
    assert time.monotonic() - start >= 0.3


def test_delay_first_chunk(sim: Sim) -> None:
    sim.control("POST", "faults", {"delay_first_chunk_ms": 300, "times": 1, "stream": True})
    start = time.monotonic()
    with sim.client.stream(
        "POST", sim.url("da-gpt-4o", "chat/completions"), json=STREAM, headers=sim.headers("da-gpt-4o")
    ) as resp:
        assert resp.status_code == 200
        assert time.monotonic() - start < 0.25
        raw = resp.iter_raw()  # keep a reference: a dropped iterator closes the stream
        next(raw)
        assert time.monotonic() - start >= 0.3


def read_stream(sim: Sim, body: dict, dep: str = "da-gpt-4o", suffix: str = "chat/completions") -> bytes:
    data = b""
    with sim.client.stream("POST", sim.url(dep, suffix), json=body, headers=sim.headers(dep)) as resp:
        for chunk in resp.iter_raw():
            data += chunk
    return data


def test_cut_after_chunks(sim: Sim) -> None:
    sim.control("POST", "faults", {"cut_after_chunks": 3, "times": 1})
    assert chat(sim).status_code == 200  # a cut fault only matches streaming calls
    data = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with sim.client.stream(
            "POST", sim.url("da-gpt-4o", "chat/completions"), json=STREAM, headers=sim.headers("da-gpt-4o")
        ) as resp:
            for chunk in resp.iter_raw():
                data += chunk
    assert len(sse_payloads(data)) == 3
    stats = sim.control("GET", "stats")
    assert stats["streams_cut_by_fault"] == 1 and stats["open_streams"] == 0


@pytest.mark.parametrize("then", ["continue", "stop"])
def test_malformed_frame(sim: Sim, then: str) -> None:
    sim.control("POST", "faults", {"malformed_after_chunks": 2, "malformed_then": then, "times": 1})
    payloads = sse_payloads(read_stream(sim, STREAM))
    assert payloads[2] == '{"malformed": '
    assert (payloads[-1] == "[DONE]") == (then == "continue")
    assert len(payloads) == (3 if then == "stop" else 12)


def test_malformed_python_literal_frame(sim: Sim) -> None:
    sim.control("POST", "faults", {"target": "da-claude-3-7-sonnet", "malformed_after_chunks": 1, "times": 1})
    payloads = sse_payloads(
        read_stream(
            sim, {"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "da-claude-3-7-sonnet", "converse-stream"
        )
    )
    assert payloads[1] == "{'malformed': "


def test_drop_connection(sim: Sim) -> None:
    sim.control("POST", "faults", {"drop_connection": True, "times": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        chat(sim)
    assert sim.journal_last()["status"] is None
    assert chat(sim).status_code == 200


def test_revoke_token(sim: Sim) -> None:
    sim.control("POST", "faults", {"revoke_token": True, "times": 1})
    assert chat(sim).status_code == 401
    assert chat(sim).status_code == 401  # the token stays revoked
    sim.token("sim-a", fresh=True)
    assert chat(sim).status_code == 200


def test_invalid_faults_are_refused(sim: Sim) -> None:
    for bad in ({"target": "nope", "status": 500}, {"status": "500"}, {"statuss": 500}, {"times": -1}):
        assert sim.client.post("/__sim/faults", json=bad).status_code == 400
