"""Discovery reading the deployment listing as SAP AI Core answers it, on both stacks as real processes.

A simulator of its own lists what a real resource group holds (``--listing-extras``:
stopped, pending and dead deployments, running deployments of families the proxy does
not serve, an orchestration deployment) in the specification's camelCase only
(``backendDetails``) and at most two deployments per page, so every listing takes
several ``$top``/``$skip`` pages. Then, with the service's other spelling
(``backend_details`` only), a first pair of stacks fills the disk cache and a second
pair starts while the listing answers 500 (the simulator's ``listing`` fault): it must
start from the cache and serve the same models.

``test_discovery.py`` covers ``deployment_ids`` with an unknown id, aliases and filters,
the original proxies' names with the default listing, and an unreachable listing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from proxyctl.procs import fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all
from tests.contract.conftest import API_KEY, STACKS, Sim

LISTING = "/v2/lm/deployments"
PAGE_SIZE = 2
# sim-b (resource group rg-b) runs these; its listing extras are named sim-b-x-<what>.
SERVED_B = {
    "gpt-4o": "db-gpt-4o",
    "anthropic--claude-4-sonnet": "db-claude-4-sonnet",
    "gemini-2.5-flash": "db-gemini-2-5-flash",
    "gemini-2.5-pro": "db-gemini-2-5-pro",
}
FOREIGN = [
    "amazon--nova-pro",
    "amazon--titan-embed-text",
    "cohere--command-r-plus",
    "mistralai--mistral-large-instruct",
    "meta--llama3.1-70b-instruct",
    "sonar",
    "gemini-embedding",
]
NOT_RUNNING = ["stopped-gpt-4o", "pending-claude-4-sonnet", "dead-gemini-2-5-pro"]


@pytest.fixture(scope="module")
def listing_sim(run_dir: Path) -> Iterator[Sim]:
    port = free_port()
    argv = sim_argv(port, "--listing-extras", "--listing-spelling", "camel", "--listing-page-size", str(PAGE_SIZE))
    service = start_service("aicore-sim-listing", argv, f"http://127.0.0.1:{port}/__sim/health", run_dir)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Sim(f"http://127.0.0.1:{port}", client)
    finally:
        stop_all([service])


def _base_config(sim: Sim) -> dict[str, Any]:
    doc = dict(sim.client.get("/__sim/config").json())
    doc["fallback_models"] = {"claude": "anthropic--claude-4-sonnet"}
    doc["retry"] = {"max_attempts": 2, "backoff_base": 0.05, "backoff_max": 0.1}
    return doc


def _start_pair(config: Path, run_dir: Path, name: str) -> tuple[dict[str, str], list[Any]]:
    env = {"PROXY_CONFIG": str(config), "PROXY_DISCOVERY_REFRESH": "0"}
    services: list[Any] = []
    urls: dict[str, str] = {}
    try:
        for stack, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            services.append(start_service(f"{stack}-{name}", argv_for(port), f"{url}/health", run_dir, env))
            urls[stack] = url
    except BaseException:
        stop_all(services)
        raise
    return urls, services


def _warnings(run_dir: Path, name: str, sub: str) -> list[str]:
    log = (run_dir / f"{name}.log").read_text(errors="replace")
    return [
        json.loads(line)["message"]
        for line in log.splitlines()
        if '"level":"warning"' in line and f"sub-account '{sub}'" in line
    ]


def _models(url: str) -> set[str]:
    return {m.id for m in openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0).models.list().data}


def _chat(url: str, model: str, *, stream: bool = False) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0, timeout=30)
    messages: Any = [{"role": "user", "content": "hello"}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content or ""
    chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


# --- camelCase, paged, with what a real resource group also holds ----------------------------


@pytest.fixture(scope="module")
def paged(listing_sim: Sim, run_dir: Path) -> Iterator[tuple[dict[str, str], int]]:
    """sim-a names ids (one stopped, one pending) and one deployment by a name without a family
    keyword; sim-b configures nothing and discovers its resource group."""
    doc = _base_config(listing_sim)
    subs = doc["subAccounts"]
    api = subs["sim-a"]["service_key_json"]["serviceurls"]["AI_API_URL"]
    subs["sim-a"]["deployment_models"] = {"big-model": [f"{api}/v2/inference/deployments/da-claude-4-sonnet"]}
    subs["sim-a"]["deployment_ids"] = {
        "gpt-4o": ["da-gpt-4o", "sim-a-x-stopped-gpt-4o"],
        "anthropic--claude-4-sonnet": ["sim-a-x-pending-claude-4-sonnet", "da-claude-4-sonnet"],
    }
    del subs["sim-b"]["deployment_models"]
    doc["model_settings"] = {}
    doc["discovery"] = {"cache_dir": str(run_dir / "listing-paged-cache")}
    path = run_dir / "config-listing-paged.json"
    path.write_text(json.dumps(doc, indent=2))
    mark = listing_sim.mark()
    urls, services = _start_pair(path, run_dir, "listing-paged")
    try:
        yield urls, mark
    finally:
        stop_all(services)


def _listed_count(sim: Sim, sub: str) -> tuple[str, int]:
    """The resource group of ``sub`` and how many deployments its listing holds, asked directly."""
    entry = sim.client.get("/__sim/config").json()["subAccounts"][sub]
    key = entry["service_key_json"]
    token = sim.client.post(
        "/oauth/token", params={"grant_type": "client_credentials"}, auth=(key["clientid"], key["clientsecret"])
    ).json()["access_token"]
    group = entry.get("resource_group", "default")
    headers = {"Authorization": f"Bearer {token}", "AI-Resource-Group": group}
    return group, int(sim.client.get(LISTING, headers=headers).json()["count"])


def test_every_page_of_the_listing_is_read(paged: tuple[dict[str, str], int], listing_sim: Sim) -> None:
    _, mark = paged
    skips: dict[str, list[int]] = {}
    for entry in listing_sim.journal(mark):
        if entry["path"] == LISTING:
            assert entry["status"] == 200 and entry["method"] == "GET"
            skips.setdefault(entry["headers"]["ai-resource-group"], []).append(int(entry["query"]["$skip"]))
    for sub in ("sim-a", "sim-b"):
        group, count = _listed_count(listing_sim, sub)
        pages = math.ceil(count / PAGE_SIZE)
        assert pages > 3  # the extras make every listing several pages long
        # Read once, page by page, up to "count": the second stack starts from the (fresh)
        # disk cache the first one wrote, as every worker after the first does.
        assert skips[group] == list(range(0, pages * PAGE_SIZE, PAGE_SIZE)), skips


@pytest.mark.parametrize("stack", STACKS)
def test_discovery_serves_running_models_of_served_families_only(
    paged: tuple[dict[str, str], int], listing_sim: Sim, stack: str
) -> None:
    urls, _ = paged
    models = _models(urls[stack])
    assert set(SERVED_B) <= models and "big-model" in models
    assert not models & set(FOREIGN)
    mark = listing_sim.mark()
    for model, deployment in SERVED_B.items():
        if model == "gpt-4o" or model.startswith("anthropic"):
            continue  # also served by sim-a: checked below
        assert _chat(urls[stack], model)
        assert [e["deployment"] for e in listing_sim.calls(mark)] == [deployment]
        mark = listing_sim.mark()
    # gpt-4o and claude-4-sonnet: sim-a's running ids and sim-b's discovered deployment,
    # never the stopped or pending one (they have no URL; the simulator would answer 404).
    for _ in range(6):
        assert _chat(urls[stack], "gpt-4o")
        assert _chat(urls[stack], "anthropic--claude-4-sonnet", stream=True)
    calls = listing_sim.calls(mark)
    used = {e["deployment"] for e in calls}
    assert used <= {"da-gpt-4o", "db-gpt-4o", "da-claude-4-sonnet", "db-claude-4-sonnet"}, used
    assert all(e["status"] == 200 for e in calls)


@pytest.mark.parametrize("stack", STACKS)
def test_a_name_without_family_keyword_gets_its_family_from_the_camel_case_listing(
    paged: tuple[dict[str, str], int], listing_sim: Sim, stack: str
) -> None:
    url = paged[0][stack]
    mark = listing_sim.mark()
    assert _chat(url, "big-model") and _chat(url, "big-model", stream=True)
    resp = httpx.post(
        f"{url}/v1/messages",
        json={"model": "big-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        timeout=30,
    )
    assert resp.status_code == 200 and resp.json()["type"] == "message", resp.text
    calls = listing_sim.calls(mark)
    assert {e["deployment"] for e in calls} == {"da-claude-4-sonnet"}
    assert all("/invoke" in e["path"] for e in calls)  # Bedrock, not an Azure OpenAI path


@pytest.mark.parametrize("stack", STACKS)
def test_what_discovery_skips_is_named_in_start_up_warnings(
    paged: tuple[dict[str, str], int], run_dir: Path, stack: str
) -> None:
    b_warnings = _warnings(run_dir, f"{stack}-listing-paged", "sim-b")
    foreign = [w for w in b_warnings if "families this proxy does not serve" in w]
    assert len(foreign) == 1, b_warnings
    for model in FOREIGN:
        assert f"({model})" in foreign[0]
    assert "sim-b-x-orchestration (orchestration deployment)" in foreign[0]
    idle = [w for w in b_warnings if "not running" in w]
    assert len(idle) == 1, b_warnings
    for what in NOT_RUNNING:
        assert f"sim-b-x-{what} (" in idle[0]
    assert "STOPPED" in idle[0] and "PENDING" in idle[0] and "DEAD" in idle[0]
    a_warnings = _warnings(run_dir, f"{stack}-listing-paged", "sim-a")
    assert any("'sim-a-x-stopped-gpt-4o' (gpt-4o) is STOPPED (not running)" in w for w in a_warnings), a_warnings
    assert any("'sim-a-x-pending-claude-4-sonnet'" in w and "PENDING" in w for w in a_warnings), a_warnings
    assert not any("big-model" in w for w in a_warnings)  # listed and running: nothing to say


# --- snake_case, then the listing failing at start-up: the disk cache --------------------------


@pytest.fixture(scope="module")
def cached(listing_sim: Sim, run_dir: Path) -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """Two pairs on one config (sim-b discovers, the cache never counts as fresh): the first
    reads the snake_case listing and writes the cache, the second starts while it answers 500."""
    doc = _base_config(listing_sim)
    doc["subAccounts"] = {"sim-b": doc["subAccounts"]["sim-b"]}
    del doc["subAccounts"]["sim-b"]["deployment_models"]
    doc["model_settings"] = {}
    doc["discovery"] = {"cache_dir": str(run_dir / "listing-cached-cache"), "ttl_seconds": 0}
    path = run_dir / "config-listing-cached.json"
    path.write_text(json.dumps(doc, indent=2))
    listing_sim.client.post("/__sim/settings", json={"listing_spelling": "snake", "listing_page_size": None})
    services: list[Any] = []
    try:
        fresh, started = _start_pair(path, run_dir, "listing-snake")
        services += started
        listing_sim.fault(target="listing", status=500)
        try:
            from_cache, started = _start_pair(path, run_dir, "listing-from-cache")
            services += started
        finally:
            listing_sim.clear_faults()
        yield fresh, from_cache
    finally:
        stop_all(services)
        listing_sim.client.post("/__sim/settings", json={"listing_spelling": "camel", "listing_page_size": PAGE_SIZE})


@pytest.mark.parametrize("stack", STACKS)
def test_the_snake_case_listing_is_read_and_cached(
    cached: tuple[dict[str, str], dict[str, str]], run_dir: Path, stack: str
) -> None:
    url = cached[0][stack]
    models = _models(url)
    assert set(SERVED_B) <= models and not models & set(FOREIGN)
    assert _chat(url, "gemini-2.5-flash", stream=True)
    assert not [w for w in _warnings(run_dir, f"{stack}-listing-snake", "sim-b") if "could not be read" in w]
    entries = list((run_dir / "listing-cached-cache").glob("*.json"))
    assert len(entries) == 1
    cached_ids = {d["id"] for d in json.loads(entries[0].read_text())["deployments"]}
    assert set(SERVED_B.values()) <= cached_ids


@pytest.mark.parametrize("stack", STACKS)
def test_a_failing_listing_at_start_up_falls_back_to_the_disk_cache(
    cached: tuple[dict[str, str], dict[str, str]], listing_sim: Sim, run_dir: Path, stack: str
) -> None:
    fresh, from_cache = cached
    assert _models(from_cache[stack]) == _models(fresh[stack])
    mark = listing_sim.mark()
    for model, deployment in SERVED_B.items():
        assert _chat(from_cache[stack], model)
        assert [e["deployment"] for e in listing_sim.calls(mark)] == [deployment]
        mark = listing_sim.mark()
    warned = _warnings(run_dir, f"{stack}-listing-from-cache", "sim-b")
    failed = [w for w in warned if "the deployment listing could not be read" in w]
    assert len(failed) == 1, warned
    assert "answered 500" in failed[0] and "using the cached listing from" in failed[0]
    assert math.isfinite(float(failed[0].rsplit("from ", 1)[1].split("s ago")[0]))
