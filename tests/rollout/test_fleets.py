"""Fronting existing fleets, restarts, sticky mode and the foreground ``up``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from proxyctl.procs import ROOT, fastapi_argv, free_port, port_in_use, start_service, stop_all
from tests.rollout.helpers import Cluster, count_stacks, ctl, ok


def _stack_of(client: httpx.Client, key: str, header: str = "Authorization") -> str:
    value = f"Bearer {key}" if header == "Authorization" else key
    r = client.get("/health", headers={header: value})
    assert r.status_code == 200
    return r.headers["x-proxy-stack"]


def test_weight_survives_an_haproxy_restart(canary: Cluster) -> None:
    ok(canary.run_dir, "rollout", "40")
    state = json.loads((canary.run_dir / "state.json").read_text())
    port, admin = state["ports"]
    ok(canary.run_dir, "down", "--drain", "5")
    assert not (canary.run_dir / "state.json").exists() and not port_in_use(port)
    out = ok(
        canary.run_dir,
        "up",
        "--detach",
        "--flask-servers",
        canary.flask,
        "--fastapi-servers",
        canary.fastapi,
        "--haproxy-port",
        str(port),
        "--admin-port",
        str(admin),
    )
    assert "FastAPI 40% of new requests" in out
    assert canary.percent() == 40


def test_sticky_mode_keeps_a_key_on_one_stack_and_honours_the_weights(cluster: Cluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "sticky"
    port, admin = free_port(), free_port()
    ok(
        run_dir,
        "up",
        "--detach",
        "--sticky",
        "--flask-servers",
        cluster.flask,
        "--fastapi-servers",
        cluster.fastapi,
        "--fastapi-weight",
        "50",
        "--haproxy-port",
        str(port),
        "--admin-port",
        str(admin),
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            keys = [f"key-{i}" for i in range(400)]
            at_50 = {k: _stack_of(client, k) for k in keys}
            share = Counter(at_50.values())["fastapi"] / len(keys)
            assert 0.38 <= share <= 0.62, share  # consistent hashing: statistically, not exactly
            for k in keys[:40]:  # the same key stays on its stack, whichever header carries it
                assert _stack_of(client, k) == at_50[k]
                assert _stack_of(client, f"Bearer {k}", "x-api-key") == at_50[k]
            ok(run_dir, "rollout", "20")
            at_20 = {k: _stack_of(client, k) for k in keys}
            share = Counter(at_20.values())["fastapi"] / len(keys)
            assert 0.10 <= share <= 0.30, share
            # lowering the FastAPI weight only moves keys from FastAPI to Flask
            assert not [k for k in keys if at_50[k] == "flask" and at_20[k] == "fastapi"]
            # no key at all: round robin by the weights
            assert {client.get("/health").headers["x-proxy-stack"] for _ in range(20)} == {"flask", "fastapi"}
    finally:
        ctl(run_dir, "down", "--drain", "5")


def test_foreground_up_serves_until_down(cluster: Cluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "fg"
    port, admin = free_port(), free_port()
    argv = [
        sys.executable,
        "-m",
        "proxyctl",
        "up",
        "--run-dir",
        str(run_dir),
        "--flask-servers",
        cluster.flask,
        "--fastapi-servers",
        cluster.fastapi,
        "--haproxy-port",
        str(port),
        "--admin-port",
        str(admin),
    ]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 20
        while not (run_dir / "state.json").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.1)
        state = json.loads((run_dir / "state.json").read_text())
        assert state["supervisor"]["pid"] == proc.pid
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{admin}/").status_code == 200  # HAProxy's stats page
        out = ok(run_dir, "down")
        assert proc.wait(20) == 0
        assert "ready" in out or "stopped" in out
        assert not (run_dir / "state.json").exists() and not port_in_use(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_dead_fastapi_at_100_falls_back_to_flask(cluster: Cluster, tmp_path: Path) -> None:
    fastapi_port = free_port()
    env = {"PROXY_CONFIG": str(cluster.run_dir.parent / "main.json")}
    url = f"http://127.0.0.1:{fastapi_port}"
    fastapi = start_service("fastapi-doomed", fastapi_argv(fastapi_port), f"{url}/health", tmp_path, env)
    run_dir = tmp_path / "doomed"
    port, admin = free_port(), free_port()
    try:
        ok(
            run_dir,
            "up",
            "--detach",
            "--flask-servers",
            cluster.flask,
            "--fastapi-servers",
            f"127.0.0.1:{fastapi_port}",
            "--fastapi-weight",
            "100",
            "--haproxy-port",
            str(port),
            "--admin-port",
            str(admin),
        )
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            assert {client.get("/health").headers["x-proxy-stack"] for _ in range(10)} == {"fastapi"}
            stop_all([fastapi])
            # refused connections are redispatched at once; after the checks fail, the backup twin serves
            for _ in range(3):
                assert count_stacks(client, 30, path="/health") == {"flask": 30}
                time.sleep(1.2)
        doc = json.loads(ok(run_dir, "status", "--json", "--sample", "0.2"))
        states = {s["name"]: s["haproxy"] for s in doc["servers"]}
        assert states["fastapi_1"].startswith("DOWN") and states["flask_1"] == "UP L7OK"
        # a canary that cannot see a stack would pass anything: refused before the first step
        done = ctl(run_dir, "promote", "--steps", "100", "--hold", "1s", "--min-requests", "0")
        assert done.returncode == 2 and "fastapi_1 is DOWN in HAProxy" in done.stderr, done.stderr
    finally:
        stop_all([fastapi])
        ctl(run_dir, "down", "--drain", "5")
