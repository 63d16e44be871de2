"""Deployment discovery, pure parts and the loader with an injected fetch (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import parse_config
from shared.discovery import (
    CacheEntry,
    DiscoveredDeployment,
    DiscoveryError,
    cache_entry_doc,
    cache_key,
    choose_source,
    listing_request,
    merge_deployments,
    parse_cache_entry,
    parse_discovery_settings,
    parse_listing,
)
from shared.errors import ConfigError
from shared.transports.discovery_http import REFRESH_ENV, load_config_with_discovery

API = "https://api.example"
KEY = {"clientid": "cid", "clientsecret": "sec", "url": "https://auth", "serviceurls": {"AI_API_URL": API}}


def item(dep_id: str, model: str, status: str = "RUNNING") -> dict:
    return {
        "id": dep_id,
        "deploymentUrl": f"{API}/v2/inference/deployments/{dep_id}",
        "status": status,
        "details": {"resources": {"backend_details": {"model": {"name": model, "version": "latest"}}}},
    }


LISTING = [
    DiscoveredDeployment("d1", f"{API}/v2/inference/deployments/d1", "gpt-4o"),
    DiscoveredDeployment("d2", f"{API}/v2/inference/deployments/d2", "anthropic--claude-4-sonnet"),
    DiscoveredDeployment("d3", f"{API}/v2/inference/deployments/d3", "gpt-5", "STOPPED"),
]


def sub_of(raw: dict, **top) -> object:
    doc = {"subAccounts": {"a": {"service_key_json": KEY, **raw}}, "secret_authentication_tokens": ["k"], **top}
    return parse_config(doc).sub_accounts[0]


def test_parse_listing_reads_id_url_model_status_and_skips_unusable_entries():
    body = json.dumps(
        {"count": 3, "resources": [item("d1", "gpt-4o"), item("d3", "gpt-5", "STOPPED"), {"id": "x", "details": {}}]}
    ).encode()
    found = parse_listing(body, API)
    assert [(d.id, d.model, d.running) for d in found] == [("d1", "gpt-4o", True), ("d3", "gpt-5", False)]
    assert found[0].url == f"{API}/v2/inference/deployments/d1"


def test_parse_listing_builds_the_url_when_missing_and_rejects_non_listings():
    raw = item("d9", "gpt-4o")
    del raw["deploymentUrl"]
    assert parse_listing(json.dumps({"resources": [raw]}).encode(), API)[0].url.endswith("/deployments/d9")
    for bad in (b"not json", b'{"count": 1}', b"[]"):
        with pytest.raises(DiscoveryError):
            parse_listing(bad, API)


def test_listing_request_has_bearer_and_resource_group():
    sub = sub_of({"resource_group": "rg-x"})
    req = listing_request(sub, "tok")  # type: ignore[arg-type]
    assert req.method == "GET" and req.url == f"{API}/v2/lm/deployments"
    assert req.headers["Authorization"] == "Bearer tok" and req.headers["AI-Resource-Group"] == "rg-x"


def test_config_accepts_deployment_ids_and_no_deployments():
    ids = sub_of({"deployment_ids": {"gpt-4o": ["d1"]}})
    assert ids.deployment_ids == {"gpt-4o": ("d1",)} and not ids.discover  # type: ignore[attr-defined]
    assert ids.deployments == {"gpt-4o": (f"{API}/v2/inference/deployments/d1",)}  # type: ignore[attr-defined]
    bare = sub_of({})
    assert bare.discover and bare.deployments == {}  # type: ignore[attr-defined]
    no_api = {k: v for k, v in KEY.items() if k != "serviceurls"}
    doc = {"subAccounts": {"a": {"service_key_json": no_api}}, "secret_authentication_tokens": ["k"]}
    with pytest.raises(ConfigError, match="AI_API_URL"):
        parse_config(doc)
    with pytest.raises(ConfigError, match=r"deployment_ids.m\[0\]"):
        sub_of({"deployment_ids": {"m": ["a/b"]}})


def test_merge_discover_all_running_configured_first_no_duplicates():
    sub = sub_of(
        {"deployment_models": {"gpt-4o": ["https://other/d0", f"{API}/v2/inference/deployments/d1"]}, "discover": True}
    )
    merged = merge_deployments(sub, LISTING, lambda m: None)  # type: ignore[arg-type]
    assert merged == {
        "gpt-4o": ["https://other/d0", f"{API}/v2/inference/deployments/d1"],
        "anthropic--claude-4-sonnet": [f"{API}/v2/inference/deployments/d2"],
    }


def test_merge_ids_skips_unknown_and_stopped_with_warnings():
    warnings: list[str] = []
    sub = sub_of({"deployment_ids": {"gpt-4o": ["d1", "nope"], "gpt-5": ["d3"]}})
    merged = merge_deployments(sub, LISTING, warnings.append)  # type: ignore[arg-type]
    assert merged == {"gpt-4o": [f"{API}/v2/inference/deployments/d1"]}
    assert len(warnings) == 2 and "'nope'" in warnings[0] and "sub-account 'a'" in warnings[0]
    # No listing (discovery failed, no cache): ids are used unchecked.
    assert merge_deployments(sub, None, warnings.append)["gpt-5"] == [f"{API}/v2/inference/deployments/d3"]  # type: ignore[arg-type]


def test_cache_entry_round_trip_validity_and_source_choice():
    doc = cache_entry_doc(LISTING, 1000.0)
    assert "sec" not in json.dumps(doc) and "cid" not in json.dumps(doc)
    entry = parse_cache_entry(json.loads(json.dumps(doc)))
    assert entry is not None and entry.deployments == tuple(LISTING)
    assert entry.fresh(1000.0 + 10, ttl=60) and not entry.fresh(1000.0 + 60, ttl=60)
    assert not entry.fresh(900.0, ttl=60)  # from the future: not trusted
    assert choose_source(entry, 1010.0, 60, refresh=False) == "cache"
    assert choose_source(entry, 1010.0, 60, refresh=True) == "fetch"
    assert choose_source(entry, 2000.0, 60, refresh=False) == "fetch"
    assert choose_source(None, 0.0, 60, refresh=False) == "fetch"
    assert parse_cache_entry({"version": 1, "fetched_at": "x", "deployments": []}) is None
    assert parse_cache_entry([]) is None
    assert isinstance(CacheEntry(0.0, ()), CacheEntry)


def test_cache_key_differs_per_identity_and_hides_it():
    k = cache_key("cid", API, "default")
    assert k != cache_key("cid", API, "rg-b") and "cid" not in k


def test_discovery_settings():
    assert parse_discovery_settings(None).enabled
    s = parse_discovery_settings({"cache_dir": "c", "ttl_seconds": 5, "enabled": False})
    assert (s.cache_dir, s.ttl_seconds, s.enabled) == ("c", 5.0, False)
    assert s.cache_path(Path("/cfg")) == Path("/cfg/c")
    for bad, field in (({"ttl": 1}, "discovery.ttl"), ({"ttl_seconds": -1}, "ttl_seconds"), ([], "discovery")):
        with pytest.raises(ConfigError, match=field):
            parse_discovery_settings(bad)


# --- the loader with an injected fetch -------------------------------------------------


def write_config(tmp_path: Path, **top) -> Path:
    doc = {
        "subAccounts": {"a": {"service_key_json": KEY}},
        "secret_authentication_tokens": ["k"],
        "discovery": {"cache_dir": str(tmp_path / "cache"), "ttl_seconds": 3600},
        **top,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def test_loader_discovers_applies_aliases_filters_and_caches(tmp_path: Path):
    calls: list[str] = []

    def fetch(sub, timeout):
        calls.append(sub.name)
        return tuple(LISTING)

    path = write_config(
        tmp_path,
        model_aliases={"sonnet-4": "anthropic--claude-4-sonnet"},
        model_filters={"exclude_filters": ["^gpt-4o$"]},
    )
    cfg = load_config_with_discovery(path, {}, fetch=fetch, warn=lambda m: None)
    names = cfg.name_table()
    assert set(cfg.model_names) == {"gpt-4o", "anthropic--claude-4-sonnet"}
    assert names.accepted["sonnet-4"] == "anthropic--claude-4-sonnet" and "gpt-4o" not in names.accepted
    assert list((tmp_path / "cache").glob("*.json"))
    load_config_with_discovery(path, {}, fetch=fetch, warn=lambda m: None)
    assert calls == ["a"]  # the second start used the fresh cache
    load_config_with_discovery(path, {REFRESH_ENV: "1"}, fetch=fetch, warn=lambda m: None)
    assert calls == ["a", "a"]


def test_loader_falls_back_to_an_expired_cache_then_refuses_with_nothing(tmp_path: Path):
    def ok(sub, timeout):
        return tuple(LISTING)

    def broken(sub, timeout):
        raise DiscoveryError("connection refused")

    path = write_config(tmp_path, discovery={"cache_dir": str(tmp_path / "cache"), "ttl_seconds": 0})
    load_config_with_discovery(path, {}, fetch=ok, warn=lambda m: None)
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append)
    assert "gpt-4o" in cfg.model_names and "sub-account 'a'" in warnings[0] and "cached" in warnings[0]
    with pytest.raises(ConfigError, match="subAccounts.a: no deployments"):
        load_config_with_discovery(path, {REFRESH_ENV: "1"}, fetch=broken, warn=warnings.append)
    assert "configured deployments only" in warnings[-1]


def test_loader_keeps_configured_urls_when_discovery_fails(tmp_path: Path):
    def broken(sub, timeout):
        raise DiscoveryError("401")

    path = write_config(tmp_path)
    doc = json.loads(path.read_text())
    doc["subAccounts"]["a"].update(deployment_models={"m": ["https://x/d"]}, discover=True)
    path.write_text(json.dumps(doc))
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=lambda m: None)
    assert cfg.sub_accounts[0].deployments == {"m": ("https://x/d",)}
