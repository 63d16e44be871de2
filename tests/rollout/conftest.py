"""Rollout fixtures: the real HAProxy in front of real stacks, driven through the ``proxyctl`` CLI.

Session-scoped, to fit the 2-core CI box:

* ``sim``: one simulator whose topology adds a sub-account ``sim-x`` (deployment
  ``x-gpt-4o``) to the default one; only the "broken" FastAPI stack is configured with
  it, so a fault on ``x-gpt-4o`` fails that stack's traffic and nothing else.
* ``cluster``: ``proxyctl up --detach --config main.json`` (Flask, FastAPI, HAProxy).
* ``broken_fastapi``: a second FastAPI stack whose config knows only ``sim-x``.
* ``canary``: a second HAProxy from ``proxyctl up --flask-servers <cluster's Flask>
  --fastapi-servers <broken FastAPI>`` (fleet fronting: no local stacks started).

Tests skip when HAProxy is not installed (``make test`` installs it).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from aicore_sim.topology import DEFAULT_TOPOLOGY
from proxyctl.procs import fastapi_argv, free_port, sim_argv, start_service, stop_all
from tests.contract.conftest import Sim
from tests.rollout.helpers import API_KEY, Cluster, ctl, ok

HAPROXY = shutil.which("haproxy", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin")
BROKEN_DEPLOYMENT = "x-gpt-4o"


def _client(url: str) -> httpx.Client:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30, limits=limits)


@pytest.fixture(scope="session")
def haproxy_bin() -> str:
    if not HAPROXY:
        pytest.skip("haproxy is not installed (`make test` installs the Debian package; or set HAPROXY_BIN)")
    return HAPROXY


@pytest.fixture(scope="session")
def rollout_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rollout")


@pytest.fixture(scope="session")
def sim(rollout_dir: Path) -> Iterator[Sim]:
    topology = copy.deepcopy(DEFAULT_TOPOLOGY)
    topology["subaccounts"].append(
        {
            "name": "sim-x",
            "clientid": "sb-sim-x!b1003|aicore!b540",
            "clientsecret": "sim-x-secret",
            "identityzoneid": "sim-x-zone",
            "resource_group": "default",
            "deployments": [{"id": BROKEN_DEPLOYMENT, "model": "gpt-4o", "family": "openai", "kind": "chat"}],
        }
    )
    path = rollout_dir / "topology.json"
    path.write_text(json.dumps(topology))
    port = free_port()
    argv = sim_argv(port, "--topology", str(path), "--journal-size", "200")
    service = start_service("aicore-sim", argv, f"http://127.0.0.1:{port}/__sim/health", rollout_dir)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            client.post("/__sim/settings", json={"journal": False})
            yield Sim(f"http://127.0.0.1:{port}", client)
    finally:
        stop_all([service])


@pytest.fixture(scope="session")
def configs(sim: Sim, rollout_dir: Path) -> dict[str, Path]:
    doc = sim.client.get("/__sim/config").json()  # the running topology, sim-x included
    doc["retry"] = {"deadline": 4, "backoff_base": 0.02, "backoff_max": 0.1, "breaker_cooldown": 1}
    out = {}
    for name, subs in (("main", ("sim-a", "sim-b")), ("broken", ("sim-x",))):
        part = dict(doc, subAccounts={k: v for k, v in doc["subAccounts"].items() if k in subs})
        out[name] = rollout_dir / f"{name}.json"
        out[name].write_text(json.dumps(part, indent=2))
    return out


@pytest.fixture(scope="session")
def cluster(haproxy_bin: str, configs: dict[str, Path], rollout_dir: Path) -> Iterator[Cluster]:
    run_dir = rollout_dir / "main"
    port, admin, flask, fastapi = (free_port() for _ in range(4))
    ok(
        run_dir,
        "up",
        "--detach",
        "--config",
        str(configs["main"]),
        "--fastapi-weight",
        "10",
        "--haproxy-port",
        str(port),
        "--admin-port",
        str(admin),
        "--flask-port",
        str(flask),
        "--fastapi-port",
        str(fastapi),
    )
    try:
        with _client(f"http://127.0.0.1:{port}") as client:
            yield Cluster(run_dir, f"http://127.0.0.1:{port}", f"127.0.0.1:{flask}", f"127.0.0.1:{fastapi}", client)
    finally:
        ctl(run_dir, "down", "--drain", "5")


@pytest.fixture(scope="session")
def broken_fastapi(configs: dict[str, Path], rollout_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {"PROXY_CONFIG": str(configs["broken"])}
    log_dir = rollout_dir / "broken-logs"
    service = start_service("fastapi-broken", fastapi_argv(port), f"http://127.0.0.1:{port}/health", log_dir, env)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        stop_all([service])


@pytest.fixture(scope="session")
def canary(cluster: Cluster, broken_fastapi: str, rollout_dir: Path) -> Iterator[Cluster]:
    run_dir = rollout_dir / "canary"
    port, admin = free_port(), free_port()
    ok(
        run_dir,
        "up",
        "--detach",
        "--flask-servers",
        cluster.flask,
        "--fastapi-servers",
        broken_fastapi,
        "--fastapi-weight",
        "0",
        "--haproxy-port",
        str(port),
        "--admin-port",
        str(admin),
    )
    try:
        with _client(f"http://127.0.0.1:{port}") as client:
            yield Cluster(run_dir, f"http://127.0.0.1:{port}", cluster.flask, broken_fastapi, client)
    finally:
        ctl(run_dir, "down", "--drain", "5")


@pytest.fixture(autouse=True)
def _sim_clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults and slow-downs of one test never leak into the next."""
    yield
    if "sim" in request.fixturenames:
        sim: Sim = request.getfixturevalue("sim")
        sim.clear_faults()
        sim.client.post("/__sim/settings", json={"chunk_gap_ms": 0, "latency_ms": 0, "ttft_ms": 0})
