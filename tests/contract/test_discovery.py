"""Deployment discovery end to end, on both stacks as real processes.

* ``deployment_ids`` and an empty sub-account: ``sim-a`` names two deployments by id (plus
  one unknown id, skipped with a warning); ``sim-b`` configures nothing and gets every
  running deployment of ``rg-b``. An alias points at a discovered model, a filter hides another.
* The original proxies' names (``3.7-sonnet``, ``4-sonnet``, ``sonnet-4.5``): the family comes
  from the deployment listing, or from the name keywords where the listing cannot be read.
* The legacy single-account layout with ``deployment_ids`` starts (it used to be refused).
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


# --- the original proxies' names: the family comes from the deployment --------------------

ORIGINAL_NAMES = {
    # name -> (deployment, what the journal's path ends with)
    "3.7-sonnet": ("da-claude-3-7-sonnet", "/converse"),
    "4-sonnet": ("da-claude-4-sonnet", "/invoke"),
    "big-model": ("da-claude-4-sonnet", "/invoke"),  # no keyword at all: only the listing knows
    "g-pro": ("da-gemini-2-5-pro", "/models/gemini-2.5-pro:generateContent"),  # Gemini URL needs the backend name
    "sonnet-4.5": ("db-claude-4-sonnet", "/invoke"),  # sim-b: listing unreadable, keywords decide
}


@pytest.fixture(scope="module")
def original_names(sim: Sim, proxy_config: Path, run_dir: Path) -> Iterator[dict[str, str]]:
    """Both stacks on a config that names Claude and Gemini deployments as the original proxies' READMEs do.

    sim-a lists its deployments (families from the listing); sim-b's key points its AI_API_URL at
    a closed port, so its listing cannot be read (families from name keywords, one warning).
    Secrets come from the environment: sim-b's service key and the client keys.
    """
    doc = json.loads(proxy_config.read_text())
    subs = doc["subAccounts"]
    base = sim.url
    a_models = {name: [f"{base}/v2/inference/deployments/{dep}"] for name, (dep, _) in ORIGINAL_NAMES.items()}
    subs["sim-a"]["deployment_models"] = {k: v for k, v in a_models.items() if not v[0].endswith("db-claude-4-sonnet")}
    key_b = dict(subs["sim-b"].pop("service_key_json"))
    key_b["serviceurls"] = {"AI_API_URL": f"http://127.0.0.1:{free_port()}"}
    subs["sim-b"]["deployment_models"] = {"sonnet-4.5": a_models["sonnet-4.5"]}
    doc["model_settings"] = {"3.7-sonnet": {"claude_api": "converse"}}
    doc["secret_authentication_tokens"] = []
    doc["fallback_models"] = {"claude": "4-sonnet"}
    doc["discovery"] = {"cache_dir": str(run_dir / "original-names-cache")}
    path = run_dir / "config-original-names.json"
    path.write_text(json.dumps(doc, indent=2))
    env = {
        "PROXY_CONFIG": str(path),
        "AICORE_SERVICE_KEY_SIM_B": json.dumps(key_b),
        "PROXY_API_KEYS": f"{API_KEY},second-key",
    }
    services = []
    urls: dict[str, str] = {}
    try:
        for name, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            services.append(start_service(f"{name}-original-names", argv_for(port), f"{url}/health", run_dir, env))
            urls[name] = url
        yield urls
    finally:
        stop_all(services)


@pytest.mark.parametrize("stack_name", ["flask", "fastapi"])
@pytest.mark.parametrize("model", list(ORIGINAL_NAMES))
def test_original_names_serve_chat_and_streams(
    original_names: dict[str, str], sim: Sim, stack_name: str, model: str
) -> None:
    url = original_names[stack_name]
    deployment, path_end = ORIGINAL_NAMES[model]
    mark = sim.mark()
    resp = _chat(url, model)
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"]
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers={"Authorization": "Bearer second-key"},
        timeout=30,
    ) as stream:
        assert stream.status_code == 200
        text = "".join(stream.iter_text())
    assert text.rstrip().endswith("data: [DONE]") and '"content"' in text
    calls = sim.calls(mark)
    assert {e["deployment"] for e in calls} == {deployment}
    assert calls[0]["path"].endswith(path_end)


@pytest.mark.parametrize("stack_name", ["flask", "fastapi"])
def test_original_names_serve_anthropic_messages(original_names: dict[str, str], stack_name: str) -> None:
    url = original_names[stack_name]
    for model in ("4-sonnet", "claude-sonnet-4-5-20250929"):  # the second through fallback_models
        resp = httpx.post(
            f"{url}/v1/messages",
            json={"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
            timeout=30,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["type"] == "message"


def test_unreadable_listing_is_one_warning_and_no_secret_is_logged(
    original_names: dict[str, str], run_dir: Path
) -> None:
    for name in ("flask", "fastapi"):
        log = (run_dir / f"{name}-original-names.log").read_text(errors="replace")
        warned = [line for line in log.splitlines() if '"level":"warning"' in line]
        warnings = [line for line in warned if "sub-account 'sim-b'" in line]
        assert len(warnings) == 1, warnings
        assert "the deployment listing could not be read" in warnings[0] and "come from their names" in warnings[0]
        assert not [line for line in warned if "sub-account 'sim-a'" in line]
        assert "sim-b-secret" not in log and "second-key" not in log


# --- the legacy single-account layout with deployment_ids (the regression) -----------------


@pytest.mark.parametrize("name", ["flask", "fastapi"])
def test_legacy_layout_with_deployment_ids_starts_and_serves(
    name: str, sim: Sim, proxy_config: Path, tmp_path: Path
) -> None:
    doc = json.loads(proxy_config.read_text())
    sub = doc.pop("subAccounts")["sim-a"]
    doc.pop("fallback_models")
    (tmp_path / "key.json").write_text(json.dumps(sub["service_key_json"]))
    doc.update(
        service_key_json="key.json", deployment_ids={"gpt-4o": ["da-gpt-4o"], "4-sonnet": ["da-claude-4-sonnet"]}
    )
    doc["discovery"] = {"cache_dir": str(tmp_path / "cache")}
    doc["model_settings"] = {}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = {"flask": flask_argv, "fastapi": fastapi_argv}[name](port)
    service = start_service(f"legacy-{name}", argv, f"{url}/health", tmp_path, {"PROXY_CONFIG": str(path)})
    try:
        mark = sim.mark()
        for model in ("gpt-4o", "4-sonnet"):
            resp = _chat(url, model)
            assert resp.status_code == 200, resp.text
        assert [e["deployment"] for e in sim.calls(mark)] == ["da-gpt-4o", "da-claude-4-sonnet"]
    finally:
        stop_all([service])
