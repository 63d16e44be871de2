"""``GET /v2/lm/deployments``: the listing proxy discovery reads."""

from __future__ import annotations

from sim_helpers import Sim


def _get(sim: Sim, path: str, sub: str, group: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {sim.token(sub)}"}
    if group is not None:
        headers["AI-Resource-Group"] = group
    resp = sim.client.get(path, headers=headers)
    return resp.status_code, resp.json()


def test_listing_shows_the_tokens_subaccount_in_the_resource_group(sim: Sim) -> None:
    status, doc = _get(sim, "/v2/lm/deployments", "sim-b", "rg-b")
    assert status == 200
    ids = {r["id"] for r in doc["resources"]}
    assert ids == {d for d, v in sim.deps.items() if v["sub"] == "sim-b"} and doc["count"] == len(ids)
    first = next(r for r in doc["resources"] if r["id"] == "db-gpt-4o")
    assert first["status"] == "RUNNING" and first["scenarioId"] == "foundation-models"
    assert first["details"]["resources"]["backend_details"]["model"] == {"name": "gpt-4o", "version": "latest"}
    assert first["deploymentUrl"] == f"{sim.base}/v2/inference/deployments/db-gpt-4o"
    # Another resource group of the same tenant has nothing; the header defaults to "default".
    assert _get(sim, "/v2/lm/deployments", "sim-b", None)[1]["count"] == 0
    assert _get(sim, "/v2/lm/deployments", "sim-a", None)[1]["count"] == len(
        [d for d in sim.deps.values() if d["sub"] == "sim-a"]
    )


def test_listing_needs_a_token_and_serves_single_deployments(sim: Sim) -> None:
    assert sim.client.get("/v2/lm/deployments").status_code == 401
    assert sim.client.get("/v2/lm/deployments", headers={"Authorization": "Bearer nope"}).status_code == 401
    status, doc = _get(sim, "/v2/lm/deployments/da-gpt-4o", "sim-a", "default")
    assert status == 200 and doc["id"] == "da-gpt-4o"
    assert _get(sim, "/v2/lm/deployments/db-gpt-4o", "sim-a", "default")[0] == 404  # another tenant's
    entry = sim.journal_last()
    assert entry["path"] == "/v2/lm/deployments/db-gpt-4o" and entry["status"] == 404
