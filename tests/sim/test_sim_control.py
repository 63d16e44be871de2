"""Control API (health, journal, stats, reset, topology) and the command line (config, shutdown)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from sim_helpers import REPO, Sim, start_sim, user


def test_health(sim: Sim) -> None:
    assert sim.control("GET", "health")["status"] == "ok"


def test_journal_records_requests(sim: Sim) -> None:
    sim.token("sim-a")
    start = sim.control("GET", "journal", tail=0)["next"]
    sim.post("da-gpt-4o", "chat/completions", {"messages": [user("journal me")]})
    sim.post("da-claude-4-sonnet", "invoke", {"model": "x"})
    out = sim.control("GET", "journal", since=start)
    first, second = out["entries"]
    assert out["next"] == second["seq"] == first["seq"] + 1
    assert first["method"] == "POST" and first["path"] == "/v2/inference/deployments/da-gpt-4o/chat/completions"
    assert first["query"] == {"api-version": "2024-12-01-preview"}
    assert first["headers"]["ai-resource-group"] == "default"
    assert first["headers"]["authorization"].startswith("Bearer ")
    assert first["json"] == {"messages": [{"role": "user", "content": "journal me"}]}
    assert (first["deployment"], first["status"]) == ("da-gpt-4o", 200)
    assert (second["deployment"], second["status"]) == ("da-claude-4-sonnet", 400)
    assert isinstance(first["ts"], float)
    only = sim.control("GET", "journal", since=start, deployment="da-claude-4-sonnet")["entries"]
    assert [e["seq"] for e in only] == [second["seq"]]
    assert len(sim.control("GET", "journal", since=start, limit=1)["entries"]) == 1
    assert sim.control("GET", "journal", since=out["next"])["entries"] == []


def test_journal_can_be_switched_off_and_reset_clears(sim: Sim) -> None:
    sim.post("da-gpt-4o", "chat/completions", {"messages": [user("a")]})
    assert sim.control("POST", "settings", {"journal": False})["journal"] is False
    before = sim.control("GET", "journal")["next"]
    sim.post("da-gpt-4o", "chat/completions", {"messages": [user("b")]})
    assert sim.control("GET", "journal")["next"] == before
    sim.control("POST", "reset")
    assert sim.control("GET", "journal")["entries"] == []
    assert sim.control("GET", "stats")["requests_total"] == 0


def test_stats(sim: Sim) -> None:
    sim.post("da-gpt-4o", "chat/completions", {"messages": [user("a")]})
    sim.post("da-gpt-4o", "chat/completions", {"messages": [user("a")], "stream": True})
    stats = sim.control("GET", "stats")
    assert stats["requests_total"] == 3  # token fetch + two calls
    assert (stats["streams_started"], stats["streams_completed"], stats["open_streams"]) == (1, 1, 0)
    assert set(stats) >= {"token_fetches", "token_fetches_total", "streams_aborted_by_client"}


def test_topology_and_settings(sim: Sim) -> None:
    topo = sim.control("GET", "topology")
    names = {s["name"]: s for s in topo["subaccounts"]}
    assert names["sim-b"]["resource_group"] == "rg-b"
    models_a = {d["model"] for d in names["sim-a"]["deployments"]}
    assert {
        "gpt-4o",
        "gpt-5",
        "text-embedding-3-small",
        "anthropic--claude-4-sonnet",
        "anthropic--claude-3.7-sonnet",
        "gemini-2.5-pro",
    } <= models_a
    settings = sim.control("GET", "settings")
    assert {"ttft_ms", "chunk_gap_ms", "chunks", "latency_ms", "journal", "token_ttl", "overrides"} <= set(settings)
    assert sim.client.post("/__sim/settings", json={"bogus": 1}).status_code == 400
    assert sim.client.get("/__sim/nope").status_code == 404


def test_print_config_shape() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aicore_sim", "--print-config", "--port", "8911"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=20,
    )
    cfg = json.loads(out.stdout)
    base = "http://127.0.0.1:8911"
    assert set(cfg) == {"subAccounts", "secret_authentication_tokens", "model_settings", "host", "port"}
    assert cfg["secret_authentication_tokens"] == ["sim-key"]
    assert cfg["model_settings"] == {"anthropic--claude-3.7-sonnet": {"claude_api": "converse"}}
    a, b = cfg["subAccounts"]["sim-a"], cfg["subAccounts"]["sim-b"]
    assert a["resource_group"] == "default" and b["resource_group"] == "rg-b"
    key = a["service_key_json"]
    assert set(key) == {"clientid", "clientsecret", "url", "identityzoneid", "serviceurls"}
    assert key["url"] == base and key["serviceurls"] == {"AI_API_URL": base}
    assert set(a["deployment_models"]) == {
        "gpt-4o",
        "gpt-5",
        "text-embedding-3-small",
        "anthropic--claude-4-sonnet",
        "anthropic--claude-3.7-sonnet",
        "gemini-2.5-pro",
        "anthropic--claude-3.5-sonnet",
        "anthropic--claude-4.5-sonnet",
        "anthropic--claude-4.5-haiku",
        "anthropic--claude-4.6-sonnet",
        "anthropic--claude-4.6-opus",
        "anthropic--claude-4.7-opus",
        "gemini-3-pro",
    }
    assert set(b["deployment_models"]) == {"gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro", "gemini-2.5-flash"}
    for urls in a["deployment_models"].values():
        assert all(u.startswith(f"{base}/v2/inference/deployments/") for u in urls)


def test_write_config_then_serve_and_sigterm(tmp_path) -> None:
    path = tmp_path / "config.json"
    proc, base = start_sim("--write-config", str(path))
    try:
        cfg = json.loads(path.read_text())
        assert cfg["subAccounts"]["sim-a"]["service_key_json"]["url"] == base
    finally:
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - start < 3
