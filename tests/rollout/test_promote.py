"""``proxyctl promote``: promotes a healthy FastAPI to 100 %, rolls a failing one back by itself."""

from __future__ import annotations

import json
import time

from tests.contract.conftest import Sim
from tests.rollout.conftest import BROKEN_DEPLOYMENT
from tests.rollout.helpers import Cluster, Load, count_stacks, ctl


def test_promote_reaches_100_when_fastapi_is_healthy(cluster: Cluster) -> None:
    cluster.rollout(0)
    with Load(cluster.client, workers=3, words=4, pause=0.01) as load:
        # Generous latency limits: the gate's arithmetic is unit-tested; a shared 2-core box is noisy.
        done = ctl(
            cluster.run_dir,
            "promote",
            "--steps",
            "10,50,100",
            "--hold",
            "2.5s",
            "--interval",
            "1s",
            "--min-requests",
            "5",
            "--max-error-rate",
            "1%",
            "--latency-floor",
            "250ms",
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert load.failures == []
    for step in ("step 10%: passed", "step 50%: passed", "step 100%: passed", "promoted"):
        assert step in done.stdout, done.stdout
    assert cluster.percent() == 100
    assert json.loads((cluster.run_dir / "rollout.json").read_text())["fastapi_percent"] == 100
    assert count_stacks(cluster.client, 50) == {"fastapi": 50}


def test_promote_rolls_back_by_itself_when_fastapi_fails(canary: Cluster, sim: Sim) -> None:
    sim.fault(target=BROKEN_DEPLOYMENT, status=500)  # only the canary's FastAPI fleet uses this deployment
    ctl(canary.run_dir, "rollout", "0")
    with Load(canary.client, workers=3, words=4, pause=0.01) as load:
        done = ctl(
            canary.run_dir,
            "promote",
            "--steps",
            "10,50,100",
            "--hold",
            "3s",
            "--interval",
            "0.5s",
            "--min-requests",
            "5",
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BREACH at 10%" in done.stdout and "FastAPI failure rate" in done.stdout, done.stdout
    assert "step 50%" not in done.stdout
    assert canary.percent() == 0
    assert json.loads((canary.run_dir / "rollout.json").read_text())["fastapi_percent"] == 0
    assert load.failures and all("via fastapi" in f for f in load.failures)  # Flask never failed
    assert count_stacks(canary.client, 50) == {"flask": 50}


def test_promote_fails_without_enough_traffic(canary: Cluster) -> None:
    ctl(canary.run_dir, "rollout", "0")
    done = ctl(canary.run_dir, "promote", "--steps", "10", "--hold", "0.5s", "--min-requests", "5")
    assert done.returncode == 1
    assert "only 0 FastAPI requests" in done.stdout and canary.percent() == 0


def test_promote_rolls_back_when_fastapi_streams_break_mid_way(canary: Cluster, sim: Sim) -> None:
    """Every answer is HTTP 200 — only the stacks' outcomes show FastAPI's streams breaking."""
    sim.fault(target=BROKEN_DEPLOYMENT, stream=True, cut_after_chunks=2)  # the FastAPI fleet's streams only
    ctl(canary.run_dir, "rollout", "0")
    hold = 3.0
    with Load(canary.client, workers=3, words=4, pause=0.01) as load:
        started = time.monotonic()
        done = ctl(canary.run_dir, "promote", "--steps", "10,50,100", "--hold", f"{hold}s", "--interval", "0.5s",
                   "--min-requests", "5")  # fmt: skip
        took = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BREACH at 10%" in done.stdout and "mid-stream" in done.stdout, done.stdout
    assert "step 50%" not in done.stdout and canary.percent() == 0
    assert took < hold + 5  # within the first hold (plus the pre-flight and the CLI's start)
    # what HAProxy and a 5xx gate saw: nothing but HTTP 200 (the cut is an in-band error event)
    assert any(s.stack == "fastapi" for s in load.streams) and all(s.status == 200 for s in load.streams)
