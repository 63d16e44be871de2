"""Moving traffic while it flows: nothing fails, open streams finish where they started."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from tests.contract.conftest import Sim
from tests.rollout.helpers import Cluster, Load, StreamResult, count_stacks, ok, run_stream


def test_shifting_10_50_100_0_under_load_fails_nothing(cluster: Cluster, sim: Sim) -> None:
    sim.client.post("/__sim/settings", json={"chunk_gap_ms": 100})  # ~1 s streams, open across every change
    cluster.rollout(10)
    changes = []
    with Load(cluster.client, workers=6, words=8) as load:
        time.sleep(1.5)
        for percent in (50, 100, 0):
            changes.append(time.monotonic())
            cluster.rollout(percent)
            time.sleep(1.5)
    assert load.failures == []
    streams = load.streams
    assert len(streams) >= 20 and all(s.done and s.status == 200 for s in streams)
    assert {s.stack for s in streams} == {"flask", "fastapi"}
    for t in changes:  # streams were open across each weight change, and completed
        assert any(s.started < t < s.ended for s in streams), t
    assert sum(load.answers.values()) >= 20 and set(load.answers) <= {"flask", "fastapi"}


def test_streams_are_relayed_unbuffered(cluster: Cluster, sim: Sim) -> None:
    sim.client.post("/__sim/settings", json={"chunk_gap_ms": 100})
    for stack in ("flask", "fastapi"):
        first = threading.Event()
        with ThreadPoolExecutor(1) as pool:
            started = time.monotonic()
            future = pool.submit(run_stream, cluster.client, 12, {"X-Proxy-Stack": stack}, first)
            assert first.wait(5)
            first_at = time.monotonic() - started
            result = future.result(30)
        assert result.done and result.stack == stack
        assert first_at < 0.5 < result.ended - result.started  # the first chunk did not wait for the last


def test_rollback_drains_open_fastapi_streams(cluster: Cluster, sim: Sim) -> None:
    sim.client.post("/__sim/settings", json={"chunk_gap_ms": 100})
    cluster.rollout(100)
    opened = [threading.Event() for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(run_stream, cluster.client, 30, None, ev) for ev in opened]  # ~3 s streams
        assert all(ev.wait(5) for ev in opened)
        t_rollback = time.monotonic()
        cluster.rollout(0)  # the same Runtime API change `proxyctl rollback` makes
        after = count_stacks(cluster.client, 100)
        results: list[StreamResult] = [f.result(30) for f in futures]
    assert after == {"flask": 100}
    assert all(r.stack == "fastapi" and r.done and r.status == 200 for r in results)
    assert all(r.ended > t_rollback + 0.5 for r in results)  # they were still streaming after the rollback


def test_rollback_command(cluster: Cluster) -> None:
    cluster.rollout(50)
    out = ok(cluster.run_dir, "rollback")
    assert "50% -> 0%" in out and cluster.percent() == 0
    assert count_stacks(cluster.client, 50) == {"flask": 50}
