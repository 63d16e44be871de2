"""XSUAA token flow: credentials, grant type, counters, expiry, revocation, tenant binding."""

from __future__ import annotations

import base64
import time

from sim_helpers import Sim, user

CHAT = {"messages": [user("hi")]}


def basic(user_: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user_}:{secret}".encode()).decode()}


def test_good_credentials_issue_a_bearer_token(sim: Sim) -> None:
    resp = sim.fetch_token("sim-a")
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"] and body["scope"] and body["jti"]


def test_bad_or_missing_credentials_are_401(sim: Sim) -> None:
    a = sim.subs["sim-a"]
    expected = {"error": "unauthorized", "error_description": "Bad credentials"}
    for headers in (basic(a["clientid"], "wrong"), basic("nobody", "x"), {}, {"Authorization": "Basic !!!"}):
        resp = sim.client.post("/oauth/token?grant_type=client_credentials", headers=headers)
        assert resp.status_code == 401
        assert resp.json() == expected


def test_grant_type_must_be_client_credentials(sim: Sim) -> None:
    a = sim.subs["sim-a"]
    creds = basic(a["clientid"], a["clientsecret"])
    assert sim.client.post("/oauth/token", headers=creds).status_code == 400
    resp = sim.client.post("/oauth/token?grant_type=password", headers=creds)
    assert resp.status_code == 400
    assert resp.json()["error"] == "unsupported_grant_type"


def test_fetches_are_counted_per_clientid(sim: Sim) -> None:
    sim.fetch_token("sim-a")
    sim.fetch_token("sim-a")
    sim.fetch_token("sim-b")
    stats = sim.control("GET", "stats")
    assert stats["token_fetches"] == {sim.subs["sim-a"]["clientid"]: 2, sim.subs["sim-b"]["clientid"]: 1}
    assert stats["token_fetches_total"] == 3


def test_missing_or_unknown_bearer_is_401(sim: Sim) -> None:
    headers = sim.headers("da-gpt-4o")
    del headers["Authorization"]
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, headers).status_code == 401
    headers["Authorization"] = "Bearer not-a-token"
    resp = sim.post("da-gpt-4o", "chat/completions", CHAT, headers)
    assert resp.status_code == 401
    assert resp.json() == {"error": {"code": "401", "message": "Unauthorized"}}


def test_tokens_expire(sim: Sim) -> None:
    sim.control("POST", "settings", {"token_ttl": 0.5})
    resp = sim.fetch_token("sim-a")
    assert resp.json()["expires_in"] == 1
    token = resp.json()["access_token"]
    headers = {**sim.headers("da-gpt-4o"), "Authorization": f"Bearer {token}"}
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, headers).status_code == 200
    time.sleep(0.6)
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, headers).status_code == 401


def test_revocation_invalidates_issued_tokens(sim: Sim) -> None:
    a, b = sim.token("sim-a", fresh=True), sim.token("sim-b", fresh=True)
    assert sim.control("POST", "revoke-tokens", {"clientid": sim.subs["sim-a"]["clientid"]})["revoked"] >= 1
    assert sim.post("da-gpt-4o", "chat/completions", CHAT).status_code == 401
    assert sim.post("db-gpt-4o", "chat/completions", CHAT).status_code == 200
    sim.control("POST", "revoke-tokens")
    assert sim.post("db-gpt-4o", "chat/completions", CHAT).status_code == 401
    assert (a, b) != (sim.token("sim-a", fresh=True), sim.token("sim-b", fresh=True))
    assert sim.post("da-gpt-4o", "chat/completions", CHAT).status_code == 200


def test_token_is_bound_to_its_tenant(sim: Sim) -> None:
    headers = {**sim.headers("db-gpt-4o"), "Authorization": f"Bearer {sim.token('sim-a')}"}
    resp = sim.post("db-gpt-4o", "chat/completions", CHAT, headers)
    assert resp.status_code == 403
    assert "tenant" in resp.json()["error"]["message"]


def test_tenant_header_must_match(sim: Sim) -> None:
    ok = sim.headers("da-gpt-4o", **{"AI-Tenant-Id": sim.subs["sim-a"]["identityzoneid"]})
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, ok).status_code == 200
    bad = sim.headers("da-gpt-4o", **{"AI-Tenant-Id": "someone-else"})
    assert sim.post("da-gpt-4o", "chat/completions", CHAT, bad).status_code == 403
