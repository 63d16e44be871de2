"""Config emission variants: the original proxies' deployment names, HTTPS everywhere, refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sim_helpers import REPO, Sim

from aicore_sim.config import original_names


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ("anthropic--claude-3.7-sonnet", ["3.7-sonnet"]),
        ("anthropic--claude-4-sonnet", ["4-sonnet"]),
        ("anthropic--claude-4.5-sonnet", ["4.5-sonnet", "sonnet-4.5"]),
        ("anthropic--claude-4.6-opus", ["4.6-opus"]),
        ("o3-mini", ["gpt-o3-mini"]),
        ("gpt-4o", ["gpt-4o"]),
        ("gemini-2.5-pro", ["gemini-2.5-pro"]),
    ],
)
def test_original_names(model: str, names: list[str]) -> None:
    assert original_names(model) == names


def test_config_with_the_original_proxies_names(sim: Sim) -> None:
    plain = sim.control("GET", "config")
    cfg = sim.control("GET", "config", names="original")
    # Only the keys the original proxies' config.json has.
    assert set(cfg) == {"subAccounts", "secret_authentication_tokens", "host", "port"}
    models = cfg["subAccounts"]["sim-a"]["deployment_models"]
    assert {"3.7-sonnet", "4-sonnet", "gpt-4o", "gemini-2.5-pro"} <= set(models)
    assert not any(name.startswith("anthropic--") for name in models)
    before = plain["subAccounts"]["sim-a"]["deployment_models"]
    assert models["3.7-sonnet"] == before["anthropic--claude-3.7-sonnet"]
    assert models["gpt-4o"] == before["gpt-4o"]
    assert cfg["subAccounts"]["sim-b"]["deployment_models"]["4-sonnet"] == [
        f"{sim.base}/v2/inference/deployments/db-claude-4-sonnet"
    ]
    assert sim.client.get("/__sim/config", params={"names": "nicknames"}).status_code == 400
    # HTTPS everywhere needs the HTTPS listener, which this simulator does not have.
    assert sim.client.get("/__sim/config", params={"tls": "true"}).status_code == 400
    assert sim.client.get("/__sim/tls").status_code == 404


def test_print_config_options() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        argv = [sys.executable, "-m", "aicore_sim", "--print-config", "--port", "8911", *args]
        return subprocess.run(argv, cwd=REPO, capture_output=True, timeout=30)

    out = run("--config-names", "original")
    assert out.returncode == 0
    cfg = json.loads(out.stdout)
    assert "3.7-sonnet" in cfg["subAccounts"]["sim-a"]["deployment_models"] and "model_settings" not in cfg
    refused = run("--config-tls")
    assert refused.returncode == 2 and b"--tls-port" in refused.stderr
