"""The fault matrix: what clients of either stack see when SAP AI Core misbehaves.

Faults are injected in the simulator (``/__sim/faults``). gpt-4o has two deployments
(``da-gpt-4o`` in sub-account sim-a, ``db-gpt-4o`` in sim-b), so "one deployment
fails" must be invisible to clients and "all fail" must give the real status.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.contract.conftest import Sim, Stack
from tests.contract.sse_client import stream_raw

MODES = ["json", "sse"]
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "fault test"}]}


def call(stack: Stack, mode: str, body: dict | None = None):
    body = dict(body or BODY, stream=mode == "sse")
    with stack.client() as c:
        if mode == "sse":
            return stream_raw(c, "/v1/chat/completions", body)
        return c.post("/v1/chat/completions", json=body)


def status_of(result) -> int:
    return result.status if hasattr(result, "status") else result.status_code


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_one_failing_deployment_is_invisible(stack: Stack, sim: Sim, mode: str, status: int):
    sim.fault(target="da-gpt-4o", status=status, retry_after=1, stream=mode == "sse")
    for _ in range(4):  # round robin reaches the failing deployment at least once
        r = call(stack, mode)
        assert status_of(r) == 200
        if mode == "sse":
            assert r.text() == "gpt-4o says: fault test" and r.data[-1] == "[DONE]"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("status", "expected"), [(429, 429), (500, 502), (502, 502), (503, 503)])
def test_all_deployments_failing_gives_the_real_status(stack: Stack, sim: Sim, mode, status, expected):
    sim.fault(target="*", status=status, retry_after=30)
    r = call(stack, mode)
    assert status_of(r) == expected
    assert r.headers["content-type"].startswith("application/json"), "errors before the first byte are not streams"
    err = r.json()["error"]
    assert err["type"] == ("rate_limit_error" if expected == 429 else "server_error")
    assert "gpt-4o" in err["message"] or "deployment" in err["message"]
    if expected == 429:
        assert r.headers["retry-after"] == "30"
    assert "sim-a-secret" not in err["message"] and "Bearer" not in err["message"]


@pytest.mark.parametrize("mode", MODES)
def test_refused_connection_fails_over_and_all_refused_is_503(stack: Stack, sim: Sim, mode: str):
    sim.fault(target="da-gpt-4o", drop_connection=True)
    assert all(status_of(call(stack, mode)) == 200 for _ in range(3))
    sim.clear_faults()
    sim.fault(target="*", drop_connection=True)
    r = call(stack, mode)
    assert status_of(r) == 503


@pytest.mark.parametrize("mode", MODES)
def test_revoked_token_is_refreshed_and_retried(stack: Stack, sim: Sim, mode: str):
    call(stack, mode)  # warm
    before = sim.stats()["token_fetches_total"]
    sim.fault(target="*", revoke_token=True, times=1)
    r = call(stack, mode)
    assert status_of(r) == 200
    assert sim.stats()["token_fetches_total"] == before + 1


def test_failing_token_endpoint_is_503_naming_the_sub_account(stack: Stack, sim: Sim):
    sim.client.post("/__sim/revoke-tokens", json={})
    sim.fault(target="token", status=500)
    with stack.client() as c:
        r = c.post("/v1/chat/completions", json={**BODY, "model": "gpt-5"})  # only in sim-a
    assert r.status_code == 503
    assert "sim-a" in r.json()["error"]["message"] and r.json()["error"]["code"] == "token_fetch_failed"


@pytest.mark.parametrize("mode", MODES)
def test_slow_headers_time_out_then_fail_over(stack: Stack, sim: Sim, mode: str):
    sim.fault(target="da-gpt-4o", delay_headers_ms=3000, times=1)
    sim.fault(target="db-gpt-4o", delay_headers_ms=3000, times=1)
    started = time.monotonic()
    r = call(stack, mode)
    assert status_of(r) == 200  # two timeouts (2 s each), then a healthy retry
    assert time.monotonic() - started < 8


def test_slow_body_after_the_head_times_out_and_is_retried(stack: Stack, sim: Sim):
    sim.fault(target="*", delay_first_chunk_ms=3000, stream=False, times=1)
    r = call(stack, "json")
    assert status_of(r) == 200 and r.json()["choices"][0]["message"]["content"] == "gpt-4o says: fault test"


@pytest.mark.parametrize("mode", MODES)
def test_everything_slow_is_504(stack: Stack, sim: Sim, mode: str):
    sim.fault(target="*", delay_headers_ms=2500)
    r = call(stack, mode)
    assert status_of(r) == 504


def test_slow_first_token_gets_keepalives(stack: Stack, sim: Sim):
    sim.fault(target="*", delay_first_chunk_ms=1500, stream=True, times=1)
    with stack.client() as c:
        with c.stream("POST", "/v1/chat/completions", json=dict(BODY, stream=True)) as resp:
            lines = list(resp.iter_lines())
    comments = [line for line in lines if line.startswith(":")]
    assert len(comments) >= 2
    assert lines.index(comments[0]) < next(i for i, line in enumerate(lines) if line.startswith("data:"))
    assert "data: [DONE]" in lines


@pytest.mark.parametrize(
    "model", ["gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
)
@pytest.mark.parametrize("fault", ["cut_after_chunks", "malformed_after_chunks", "first_chunk_timeout"])
def test_mid_stream_failures_are_reported_in_band(stack: Stack, sim: Sim, model: str, fault: str):
    if fault == "first_chunk_timeout":
        sim.fault(target="*", delay_first_chunk_ms=3000, stream=True)
    else:
        sim.fault(target="*", stream=True, **{fault: 2}, malformed_then="stop")
    r = call(stack, "sse", dict(BODY, model=model, messages=[{"role": "user", "content": "a b c d e f g h"}]))
    assert r.status == 200
    assert r.data[-1] == "[DONE]" and r.data.count("[DONE]") == 1
    import json

    errors = [json.loads(d)["error"] for d in r.data[:-1] if '"error"' in d]
    assert len(errors) == 1 and errors[0]["message"]
    assert r.data[-2].startswith('{"error"')


def test_rate_limited_deployment_under_load(stack: Stack, sim: Sim):
    """One of two deployments answers 429: 200 client requests all succeed."""
    sim.fault(target="db-gpt-4o", status=429, retry_after=1)

    with stack.client() as c, ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: c.post("/v1/chat/completions", json=BODY).status_code, range(200)))
    assert statuses == [200] * 200


def test_circuit_breaker_stops_hammering_a_broken_deployment(stack: Stack, sim: Sim):
    time.sleep(1.1)  # let earlier breakers cool down
    sim.fault(target="da-gpt-4o", status=500)
    mark = sim.mark()
    for _ in range(10):
        assert status_of(call(stack, "json")) == 200
    hits = [e for e in sim.journal(mark) if e.get("deployment") == "da-gpt-4o"]
    assert len(hits) == 3  # breaker_failures: then skipped for the cooldown
