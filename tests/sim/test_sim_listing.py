"""The deployment listing as the service answers it: spellings, paging, filters and the listing extras."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import Sim


def _list(sim: Sim, sub: str = "sim-a", group: str = "default", **params: Any) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {sim.token(sub)}", "AI-Resource-Group": group}
    resp = sim.client.get("/v2/lm/deployments", headers=headers, params=params or None)
    return resp.status_code, resp.json()


def _by_id(doc: dict) -> dict[str, dict]:
    return {r["id"]: r for r in doc["resources"]}


@pytest.mark.parametrize(
    ("spelling", "keys"),
    [("both", {"backendDetails", "backend_details"}), ("camel", {"backendDetails"}), ("snake", {"backend_details"})],
)
def test_listing_spells_backend_details_as_configured(sim: Sim, spelling: str, keys: set[str]) -> None:
    if spelling != "both":  # "both" is the default: the service currently sends both spellings
        sim.control("POST", "settings", {"listing_spelling": spelling})
    status, doc = _list(sim)
    assert status == 200
    gpt = _by_id(doc)["da-gpt-4o"]
    assert set(gpt["details"]["resources"]) == keys and set(gpt["details"]["scaling"]) == keys
    for key in keys:
        assert gpt["details"]["resources"][key] == {"model": {"name": "gpt-4o", "version": "latest"}}
    assert {"createdAt", "modifiedAt", "configurationId", "status"} <= set(gpt)


def test_listing_spelling_setting_is_validated_and_reset(sim: Sim) -> None:
    assert sim.client.post("/__sim/settings", json={"listing_spelling": "kebab"}).status_code == 400
    assert sim.client.post("/__sim/settings", json={"listing_page_size": 0}).status_code == 400
    assert sim.control("POST", "settings", {"listing_spelling": "camel"})["listing_spelling"] == "camel"
    sim.control("POST", "reset", {"settings": True})
    assert sim.control("GET", "settings")["listing_spelling"] == "both"


def test_listing_pages_with_top_and_skip_and_a_server_page_limit(sim: Sim) -> None:
    _, everything = _list(sim)
    ids = [r["id"] for r in everything["resources"]]
    assert len(ids) >= 4 and everything["count"] == len(ids)
    # The client pages with $top/$skip; count always tells the total.
    status, page = _list(sim, **{"$top": 2, "$skip": 1})
    assert status == 200 and page["count"] == len(ids)
    assert [r["id"] for r in page["resources"]] == ids[1:3]
    # The server hands out at most listing_page_size, even when the client asks for more,
    # so a client that reads only the first page misses deployments.
    half = (len(ids) + 1) // 2
    sim.control("POST", "settings", {"listing_page_size": half})
    _, first = _list(sim)
    assert [r["id"] for r in first["resources"]] == ids[:half] and first["count"] == len(ids)
    _, second = _list(sim, **{"$skip": half})
    assert [r["id"] for r in second["resources"]] == ids[half:]
    _, past = _list(sim, **{"$skip": len(ids)})
    assert past == {"count": len(ids), "resources": []}


@pytest.mark.parametrize("params", [{"$top": "ten"}, {"$skip": "-1"}, {"$top": "100001"}, {"status": "SLEEPING"}])
def test_listing_refuses_bad_query_parameters(sim: Sim, params: dict[str, str]) -> None:
    status, doc = _list(sim, **params)
    assert status == 400
    assert set(doc["error"]) >= {"code", "message"} and next(iter(params)) in doc["error"]["message"]


def test_extras_are_off_by_default(sim: Sim) -> None:
    _, doc = _list(sim)
    assert all(r["status"] == "RUNNING" and r["scenarioId"] == "foundation-models" for r in doc["resources"])
    assert not any(r["id"].startswith("sim-a-x-") for r in doc["resources"])


def test_extras_list_non_running_foreign_and_orchestration_deployments(sim: Sim) -> None:
    sim.control("POST", "settings", {"listing_extras": True})
    _, doc = _list(sim)
    found = _by_id(doc)
    assert "da-gpt-4o" in found and doc["count"] == len(found)
    stopped, pending, dead = (
        found["sim-a-x-stopped-gpt-4o"],
        found["sim-a-x-pending-claude-4-sonnet"],
        found["sim-a-x-dead-gemini-2-5-pro"],
    )
    assert (stopped["status"], pending["status"], dead["status"]) == ("STOPPED", "PENDING", "DEAD")
    assert "deploymentUrl" not in stopped and "deploymentUrl" not in dead and pending["deploymentUrl"] == ""
    # Their models also run elsewhere: a discovery that ignores the status picks up no URL.
    assert stopped["details"]["resources"]["backendDetails"]["model"]["name"] == "gpt-4o"
    models = {
        r["details"]["resources"]["backendDetails"].get("model", {}).get("name")
        for r in doc["resources"]
        if r["status"] == "RUNNING"
    }
    assert {
        "amazon--nova-pro",
        "amazon--titan-embed-text",
        "cohere--command-r-plus",
        "mistralai--mistral-large-instruct",
        "meta--llama3.1-70b-instruct",
        "sonar",
        "gemini-embedding",
    } <= models
    orchestration = found["sim-a-x-orchestration"]
    assert orchestration["scenarioId"] == "orchestration" and orchestration["status"] == "RUNNING"
    assert orchestration["details"]["resources"] == {"backendDetails": {}, "backend_details": {}}
    assert orchestration["deploymentUrl"].endswith("/v2/inference/deployments/sim-a-x-orchestration")
    # Listed, not served: a call on an extra answers like an unknown deployment.
    url = "/v2/inference/deployments/sim-a-x-mistral-large/chat/completions"
    body = {"model": "mistralai--mistral-large-instruct", "messages": [{"role": "user", "content": "hi"}]}
    assert sim.client.post(url, json=body, headers=sim.headers("da-gpt-4o")).status_code == 404


def test_extras_follow_filters_and_single_lookups(sim: Sim) -> None:
    sim.control("POST", "settings", {"listing_extras": True})
    # What SAP's SDKs ask for: running foundation-models deployments (deployment-resolver.ts).
    _, running = _list(sim, scenarioId="foundation-models", status="RUNNING")
    statuses = {(r["status"], r["scenarioId"]) for r in running["resources"]}
    assert statuses == {("RUNNING", "foundation-models")} and running["count"] == len(running["resources"])
    _, bedrock = _list(sim, executableIds="aws-bedrock")
    names = {r["details"]["resources"]["backendDetails"]["model"]["name"] for r in bedrock["resources"]}
    assert "amazon--nova-pro" in names and "anthropic--claude-4-sonnet" in names and "gpt-4o" not in names
    headers = {"Authorization": f"Bearer {sim.token('sim-a')}"}
    single = sim.client.get("/v2/lm/deployments/sim-a-x-stopped-gpt-4o", headers=headers)
    assert single.status_code == 200 and single.json()["status"] == "STOPPED"
    # Each sub-account has its own extras, in its resource group.
    _, other = _list(sim, "sim-b", "rg-b")
    assert "sim-b-x-sonar" in _by_id(other) and "sim-a-x-sonar" not in _by_id(other)
    sim.control("POST", "settings", {"listing_extras": False})
    assert sim.client.get("/v2/lm/deployments/sim-a-x-stopped-gpt-4o", headers=headers).status_code == 404
