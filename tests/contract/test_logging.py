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
    assert '"request_id"' in log and '"status":502' in log, "access lines are written"
    forbidden = {API_KEY, "wrong-key-XYZ", "sim-a-secret", "sim-b-secret", "SECRET-PROMPT-TEXT", *tokens}
    assert [s for s in forbidden if s in log] == []
    assert not re.search(r"Bearer [A-Za-z0-9._-]{8,}", log)
