"""Request ids and access logs, and that no secret ever reaches a log."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests.contract.conftest import API_KEY, Sim, Stack


def test_request_id_is_honoured_returned_and_forwarded(stack: Stack, sim: Sim):
    mark = sim.mark()
    with stack.client() as c:
        r = c.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "id"}]},
            headers={"X-Request-Id": "trace-abc-123"},
        )
        generated = c.get("/v1/models").headers["x-request-id"]
    assert r.headers["x-request-id"] == "trace-abc-123"
    assert sim.calls(mark)[0]["headers"]["x-request-id"] == "trace-abc-123"
    assert generated.startswith("req-") and len(generated) > 10


def test_logs_never_contain_secrets(stack: Stack, sim: Sim, run_dir: Path):
    mark = sim.mark()
    with stack.client() as c:
        c.post(
            "/v1/chat/completions",
            json={
                "model": "anthropic--claude-4-sonnet",
                "messages": [{"role": "user", "content": "SECRET-PROMPT-TEXT"}],
            },
        )
        c.post(
            "/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "bad": 1}
        )
    httpx.post(f"{stack.url}/v1/chat/completions", headers={"Authorization": "Bearer wrong-key-XYZ"}, json={})
    sim.fault(target="*", status=500, times=8)
    with stack.client() as c:
        c.post("/v1/chat/completions", json={"model": "gpt-4o", "messages": [{"role": "user", "content": "y"}]})
    time.sleep(0.3)  # let the log lines land
    tokens = {
        e["headers"]["authorization"].split(" ", 1)[1] for e in sim.journal(mark) if "authorization" in e["headers"]
    }
    log = (run_dir / f"{stack.name}.log").read_text()
    assert '"request_id"' in log and '"code":502' in log, "access lines are written"
    forbidden = {API_KEY, "wrong-key-XYZ", "sim-a-secret", "sim-b-secret", "SECRET-PROMPT-TEXT", *tokens}
    assert [s for s in forbidden if s in log] == []
    assert not re.search(r"Bearer [A-Za-z0-9._-]{8,}", log)


def access_line(run_dir: Path, stack: Stack, request_id: str) -> dict[str, object]:
    """The stack's JSON access line of one request (written when the request ended)."""
    import json

    for _ in range(50):
        for line in (run_dir / f"{stack.name}.log").read_text().splitlines():
            if line.startswith("{") and f'"request_id":"{request_id}"' in line:
                doc: dict[str, object] = json.loads(line)
                return doc
        time.sleep(0.1)
    raise AssertionError(f"no access line for {request_id}")


def test_a_stream_cut_mid_way_logs_its_failure_outcome(stack: Stack, sim: Sim, run_dir: Path):
    from tests.contract.sse_client import stream_raw

    sim.fault(target="*", stream=True, cut_after_chunks=2, malformed_then="stop")
    body = {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "a b c d e f g h"}]}
    request_id = f"cut-{stack.name}-{time.monotonic_ns()}"
    with stack.client() as c:
        assert stream_raw(c, "/v1/chat/completions", body, headers={"X-Request-Id": request_id}).status == 200
    line = access_line(run_dir, stack, request_id)
    assert line["outcome"] == "stream_failed" and line["code"] == 200 and line["error"]
    assert line["level"] == "info" and line["stack"] == stack.name and str(line["ts"]).endswith("Z")
    assert line["route"] == "/v1/chat/completions" and line["model"] == "gpt-4o" and line["deployment"]


def test_a_completed_request_logs_times_and_tokens(stack: Stack, run_dir: Path):
    request_id = f"ok-{stack.name}-{time.monotonic_ns()}"
    with stack.client() as c:
        c.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]},
            headers={"X-Request-Id": request_id},
        )
    line = access_line(run_dir, stack, request_id)
    assert line["outcome"] == "completed" and line["error"] is None
    tokens = line["tokens"]
    assert isinstance(tokens, dict) and tokens["input"] > 0 and tokens["output"] > 0
    assert isinstance(line["duration_ms"], float) and isinstance(line["upstream_ttfb_ms"], float)


def test_health_checks_write_no_access_line(stack: Stack, run_dir: Path):
    for _ in range(3):
        httpx.get(f"{stack.url}/health", headers={"X-Request-Id": f"hc-{stack.name}"})
    time.sleep(0.3)
    assert f'"request_id":"hc-{stack.name}"' not in (run_dir / f"{stack.name}.log").read_text()
