"""Weights through the real HAProxy: the split, the header override, reloads, ``status``."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.rollout.helpers import Cluster, band, count_stacks, ok

N = 1000


@pytest.mark.parametrize("percent", [10, 50, 100])
def test_fastapi_share_is_within_the_binomial_band(cluster: Cluster, percent: int) -> None:
    cluster.rollout(percent)
    counts = count_stacks(cluster.client, N)
    low, high = band(N, percent / 100)
    assert counts["flask"] + counts["fastapi"] == N
    assert low <= counts["fastapi"] <= high, (percent, counts)


def test_header_override_wins_over_the_weights(cluster: Cluster) -> None:
    cluster.rollout(0)
    assert count_stacks(cluster.client, 50, headers={"X-Proxy-Stack": "fastapi"}) == {"fastapi": 50}
    assert count_stacks(cluster.client, 50, headers={"X-Proxy-Stack": "FastAPI"}) == {"fastapi": 50}
    cluster.rollout(100)
    assert count_stacks(cluster.client, 50, headers={"X-Proxy-Stack": "flask"}) == {"flask": 50}
    # anything else is no override: the weights decide
    assert count_stacks(cluster.client, 50, headers={"X-Proxy-Stack": "nginx"}) == {"fastapi": 50}


def test_weights_survive_reloads(cluster: Cluster) -> None:
    cluster.rollout(30)
    out = ok(cluster.run_dir, "reload")
    assert "30% -> 30%" in out
    assert cluster.percent() == 30
    # a reload by hand (SIGUSR2 to the master) loads the server-state file the rollout saved
    state = json.loads((cluster.run_dir / "state.json").read_text())
    worker = cluster.runtime.command("show info")
    os.kill(state["pids"]["haproxy"]["pid"], signal.SIGUSR2)
    deadline = time.monotonic() + 10
    while cluster.runtime.command("show info") == worker and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    assert cluster.percent() == 30
    low, high = band(400, 0.3)
    counts = count_stacks(cluster.client, 400)
    assert low <= counts["fastapi"] <= high, counts
    assert json.loads((cluster.run_dir / "rollout.json").read_text())["fastapi_percent"] == 30


def test_status_reports_weights_health_and_per_stack_numbers(cluster: Cluster) -> None:
    cluster.rollout(50)
    ok(cluster.run_dir, "status", "--json", "--sample", "0.2")  # stores a snapshot to measure from
    for _ in range(3):
        cluster.client.post(
            "/v1/chat/completions",
            json={"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
        ).read()
    count_stacks(cluster.client, 200)
    time.sleep(1.0)
    doc = json.loads(ok(cluster.run_dir, "status", "--json", "--window", "60"))
    assert doc["fastapi_percent"] == 50 and doc["persisted_percent"] == 50
    assert {s["stack"] for s in doc["servers"]} == {"flask", "fastapi"}
    assert all(s["haproxy"] == "UP L7OK" and s["health"] == "200" and s["ready"] == "200" for s in doc["servers"])
    flask, fastapi = doc["stacks"]["flask"], doc["stacks"]["fastapi"]
    assert flask["requests"] + fastapi["requests"] == 203
    assert abs(flask["requests"] - fastapi["requests"]) <= 3
    assert flask["failure_rate"] == 0 and fastapi["failure_rate"] == 0
    assert fastapi["avg_s"] is not None
    # both stacks serve aicore_proxy_* metrics: outcomes and histograms, not HAProxy's counters
    assert doc["latency_source"] == "metrics" and fastapi["source"] == flask["source"] == "metrics"
    assert fastapi["p50_s"] is not None and fastapi["p95_s"] >= fastapi["p50_s"]
    assert fastapi["mid_stream_failures"] == 0 and fastapi["overhead_p50_s"] is not None
    assert doc["ratios"]["p95_s"] is not None
    text = ok(cluster.run_dir, "status", "--window", "60")
    assert "FastAPI 50% of new requests" in text and "flask_1" in text and "TTFT" in text and "FastAPI/Flask: " in text
