"""Contract-suite fixtures: the simulator and both stacks as real processes.

Session-scoped: one simulator, one gunicorn+gevent Flask stack and one uvicorn
FastAPI stack serve the whole run (three small processes fit the 2-core CI box).
Every contract test takes the ``stack`` fixture, parametrized over both stacks, so
the suite proves they behave the same. ``PROXY_TEST_FLASK_URL`` /
``PROXY_TEST_FASTAPI_URL`` point the suite at already-running stacks instead (the
simulator URL then comes from ``PROXY_TEST_SIM_URL``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxyctl.procs import ROOT, fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all

STACKS = ["flask", "fastapi"]
API_KEY = "sim-key"
BODY_LIMIT = 1_000_000  # small, so the 413 tests stay cheap


@dataclass
class Sim:
    url: str
    client: httpx.Client

    def mark(self) -> int:
        """Journal position now; pass to :meth:`journal` to see only later entries."""
        return int(self.client.get("/__sim/journal", params={"tail": 0}).json()["next"])

    def journal(self, since: int, deployment: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"since": since, "limit": 10000}
        if deployment:
            params["deployment"] = deployment
        return list(self.client.get("/__sim/journal", params=params).json()["entries"])

    def calls(self, since: int) -> list[dict[str, Any]]:
        """Journal entries for deployment calls (not token fetches)."""
        return [e for e in self.journal(since) if e.get("deployment")]

    def refusals(self, entries: list[dict[str, Any]]) -> list[str]:
        """The journaled calls the simulator refused (or dropped), each with its answer.

        The journal keeps requests, not answers, so each refused call is sent again as the
        proxy sent it to read the simulator's own error text.
        """
        out = []
        for entry in entries:
            if entry.get("status") is not None and entry["status"] < 400:
                continue
            headers = {
                k: v for k, v in (entry.get("headers") or {}).items() if k in ("authorization", "ai-resource-group")
            }
            try:
                resp = self.client.post(
                    entry["path"], params=entry.get("query") or {}, headers=headers, json=entry.get("json")
                )
                answer = f"{resp.status_code} {resp.text[:600]}"
            except httpx.HTTPError as exc:
                answer = f"(sending it again failed: {exc})"
            out.append(f"{entry['method']} {entry['path']} -> {entry['status']}; the simulator answers {answer}")
        return out

    def stats(self) -> dict[str, Any]:
        return dict(self.client.get("/__sim/stats").json())

    def fault(self, **fault: Any) -> None:
        r = self.client.post("/__sim/faults", json=fault)
        assert r.status_code == 200, r.text

    def clear_faults(self) -> None:
        self.client.delete("/__sim/faults")


@dataclass
class Stack:
    name: str
    url: str
    key: str = API_KEY

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30, **kw)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="session")
def sim(run_dir: Path) -> Iterator[Sim]:
    external = os.environ.get("PROXY_TEST_SIM_URL")
    if external:
        with httpx.Client(base_url=external, timeout=10) as client:
            yield Sim(external, client)
        return
    port = free_port()
    service = start_service("aicore-sim", sim_argv(port), f"http://127.0.0.1:{port}/__sim/health", run_dir)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Sim(f"http://127.0.0.1:{port}", client)
    finally:
        stop_all([service])


@pytest.fixture(scope="session")
def proxy_config(sim: Sim, run_dir: Path) -> Path:
    port = sim.url.rsplit(":", 1)[1]
    doc = json.loads(subprocess.check_output(sim_argv(int(port), "--print-config"), cwd=ROOT))
    doc["max_body_bytes"] = BODY_LIMIT
    # Start-up reads each sub-account's deployment listing (families); keep its cache in the run.
    doc["discovery"] = {"cache_dir": str(run_dir / "startup-cache")}
    doc["fallback_models"] = {"claude": "anthropic--claude-4-sonnet"}
    # Short limits so the fault tests stay fast; breakers cool down quickly so one test's
    # injected failures never reorder another test's deployments.
    doc["timeouts"] = {"first_byte": 2, "idle": 2, "keepalive": 0.5}
    doc["retry"] = {
        "deadline": 8,
        "backoff_base": 0.05,
        "backoff_max": 0.2,
        "max_retry_after": 2,
        "breaker_cooldown": 1,
    }
    path = run_dir / "config.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.fixture(scope="session")
def stack_urls(proxy_config: Path, run_dir: Path) -> Iterator[dict[str, str]]:
    given = {name: os.environ.get(f"PROXY_TEST_{name.upper()}_URL") for name in STACKS}
    if all(given.values()):
        yield {k: str(v) for k, v in given.items()}
        return
    env = {"PROXY_CONFIG": str(proxy_config)}
    services = []
    urls: dict[str, str] = {}
    try:
        for name, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            services.append(start_service(name, argv_for(port), f"{url}/health", run_dir, env))
            urls[name] = url
        yield urls
    finally:
        stop_all(services)


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest, stack_urls: dict[str, str]) -> Stack:
    return Stack(request.param, stack_urls[request.param])


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults injected by a test never leak into the next one."""
    yield
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").clear_faults()


@pytest.fixture
def both(stack_urls: dict[str, str]) -> list[Stack]:
    return [Stack(name, stack_urls[name]) for name in STACKS]
