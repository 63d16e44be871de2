"""Start-up behaviour of both stacks as real processes: bad configs, cold token caches."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from proxyctl.procs import ROOT, fastapi_argv, flask_argv, free_port, start_service, stop_all
from tests.contract.conftest import STACKS, Sim

ARGV = {"flask": flask_argv, "fastapi": fastapi_argv}


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (  # no deployments and discovery off: nothing to serve
            lambda d: (d["subAccounts"]["sim-a"].pop("deployment_models"), d.update(discovery={"enabled": False})),
            "subAccounts.sim-a: no deployments",
        ),
        (lambda d: d.update(secret_authentication_tokens=[]), "secret_authentication_tokens"),
        (lambda d: d["subAccounts"]["sim-b"].update(service_key_json="missing.json"), "sim-b.service_key_json"),
        (lambda d: d.update(acces_log=False), "acces_log: unknown key; did you mean 'access_log'?"),
        (
            lambda d: d["subAccounts"]["sim-a"].update(
                deployment_model=d["subAccounts"]["sim-a"].pop("deployment_models")
            ),
            "subAccounts.sim-a.deployment_model: unknown key; did you mean 'deployment_models'?",
        ),
    ],
    ids=["no-deployments", "no-keys", "missing-key-file", "misspelt-top-level-key", "misspelt-sub-account-key"],
)
def test_invalid_config_stops_start_up_naming_the_field(name, mutate, message, proxy_config: Path, tmp_path: Path):
    doc = json.loads(proxy_config.read_text())
    mutate(doc)
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps(doc))
    proc = subprocess.run(
        ARGV[name](free_port()), cwd=ROOT, env={"PROXY_CONFIG": str(bad), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"proxy: invalid configuration: {message}" in output.replace("\n", " ") or message in output
    assert "Traceback" not in output


@pytest.mark.parametrize("name", STACKS)
def test_cold_burst_fetches_one_token_per_sub_account(name, sim: Sim, proxy_config: Path, tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    service = start_service(
        f"cold-{name}", ARGV[name](port), f"{url}/health", tmp_path, {"PROXY_CONFIG": str(proxy_config)}
    )
    try:
        before = sim.stats()["token_fetches"]
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "burst"}]}
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer sim-key"}, timeout=30, limits=limits) as c:
            with ThreadPoolExecutor(max_workers=200) as pool:
                statuses = list(pool.map(lambda _: c.post("/v1/chat/completions", json=body).status_code, range(200)))
        after = sim.stats()["token_fetches"]
        assert statuses == [200] * 200
        grown = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
        assert sorted(grown.values()) == [1, 1], grown  # gpt-4o lives in two sub-accounts: one fetch each
    finally:
        stop_all([service])
