"""Deployment discovery end to end: both stacks start from ``deployment_ids`` and an empty sub-account.

``sim-a`` names two deployments by id (plus one unknown id, skipped with a warning);
``sim-b`` configures nothing and gets every running deployment of ``rg-b``. An alias
points at a discovered model and a filter hides another one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from proxyctl.procs import fastapi_argv, flask_argv, free_port, start_service, stop_all
from tests.contract.conftest import API_KEY, Sim

LISTING = "/v2/lm/deployments"


@pytest.fixture(scope="module")
def discovered(sim: Sim, proxy_config: Path, run_dir: Path) -> Iterator[tuple[dict[str, str], int, Path]]:
    doc = json.loads(proxy_config.read_text())
    subs = doc["subAccounts"]
    del subs["sim-a"]["deployment_models"]
    subs["sim-a"]["deployment_ids"] = {
        "gpt-4o": ["da-gpt-4o"],
        "anthropic--claude-3.7-sonnet": ["da-claude-3-7-sonnet"],
        "text-embedding-3-small": ["da-embed-3-small"],
        "gpt-5": ["da-no-such-deployment"],
    }
    del subs["sim-b"]["deployment_models"]
    doc["model_aliases"] = {"flash-2.5": "gemini-2.5-flash"}
    doc["model_filters"] = {"exclude_filters": ["^gemini-2\\.5-pro$"]}
    doc["discovery"] = {"cache_dir": str(run_dir / "discovery-cache"), "ttl_seconds": 3600}
    path = run_dir / "config-discovery.json"
    path.write_text(json.dumps(doc, indent=2))
    mark = sim.mark()
    services = []
    urls: dict[str, str] = {}
    try:
        # The second stack refreshes, so each start makes its own listing calls.
        for name, argv_for, refresh in (("flask", flask_argv, "0"), ("fastapi", fastapi_argv, "1")):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            env = {"PROXY_CONFIG": str(path), "PROXY_DISCOVERY_REFRESH": refresh}
            services.append(start_service(f"{name}-discovery", argv_for(port), f"{url}/health", run_dir, env))
            urls[name] = url
        yield urls, mark, run_dir
    finally:
        stop_all(services)


def _chat(url: str, model: str) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
    return httpx.post(
        f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )


@pytest.mark.parametrize("stack_name", ["flask", "fastapi"])
def test_discovered_models_alias_and_filter(
    discovered: tuple[dict[str, str], int, Path], sim: Sim, stack_name: str
) -> None:
    urls, _, _ = discovered
    url = urls[stack_name]
    mark = sim.mark()
    for model in ("gpt-4o", "gpt-4o", "anthropic--claude-4-sonnet", "anthropic--claude-3.7-sonnet", "flash-2.5"):
        resp = _chat(url, model)
        assert resp.status_code == 200, (model, resp.text)
    used = {e["deployment"] for e in sim.calls(mark)}
    assert {"da-gpt-4o", "db-gpt-4o", "db-claude-4-sonnet", "da-claude-3-7-sonnet", "db-gemini-2-5-flash"} <= used
    emb = httpx.post(
        f"{url}/v1/embeddings",
        json={"model": "text-embedding-3-small", "input": "hi"},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    assert emb.status_code == 200, emb.text
    assert _chat(url, "gemini-2.5-pro").status_code == 404
    assert _chat(url, "gpt-5").status_code == 404  # its only id is unknown to the listing
    listed = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}).json()
    ids = {m["id"] for m in listed["data"]}
    assert {
        "gpt-4o",
        "anthropic--claude-4-sonnet",
        "gemini-2.5-flash",
        "flash-2.5",
        "text-embedding-3-small",
    } - ids == set()
    assert "gemini-2.5-pro" not in ids and "gpt-5" not in ids


def test_listing_calls_carry_token_and_resource_group(discovered: tuple[dict[str, str], int, Path], sim: Sim) -> None:
    _, mark, run_dir = discovered
    calls = [e for e in sim.journal(mark) if e["path"] == LISTING]
    groups = sorted(e["headers"].get("ai-resource-group") for e in calls)
    assert groups == ["default", "default", "rg-b", "rg-b"]  # two starts, the second with a refresh
    assert all(e["method"] == "GET" and e["headers"]["authorization"].startswith("Bearer ") for e in calls)
    assert all(e["status"] == 200 for e in calls)
    log = (run_dir / "flask-discovery.log").read_text(errors="replace")
    assert "da-no-such-deployment" in log and "sub-account 'sim-a'" in log
    cache = list((run_dir / "discovery-cache").glob("*.json"))
    assert len(cache) == 2 and not any("secret" in p.read_text() for p in cache)
