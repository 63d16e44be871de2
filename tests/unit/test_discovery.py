"""Deployment discovery: listing pages as the AI API answers them, the merge, the cache, the loader.

The listing payloads below follow the AI API specification's ``AiDeploymentList`` /
``AiDeployment`` (SAP/ai-sdk-js ``packages/ai-api/src/spec/AI_CORE_API.yaml``) and what
the service sends today (``backend_details`` beside ``backendDetails``, STOPPED
deployments with an empty ``deploymentUrl``, foreign families, orchestration).
No network: the loader gets an injected fetch, the fetch a fake ``_send``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.catalog import ModelCatalog
from shared.config import ConfigError, parse_config
from shared.discovery import (
    LISTING_PAGE_SIZE,
    CacheEntry,
    DiscoveredDeployment,
    DiscoveryError,
    ListingCollector,
    ListingPage,
    cache_entry_doc,
    cache_key,
    choose_source,
    listing_request,
    merge_deployments,
    parse_cache_entry,
    parse_listing_page,
)
from shared.transports import discovery_http
from shared.transports.discovery_http import REFRESH_ENV, fetch_listing, load_config_with_discovery

API = "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com"
KEY = {"clientid": "cid", "clientsecret": "sec", "url": "https://auth", "serviceurls": {"AI_API_URL": API}}


def url(dep_id: str) -> str:
    return f"{API}/v2/inference/deployments/{dep_id}"


def resource(
    dep_id: str, model: str | None, status: str = "RUNNING", spelling: str = "backendDetails", **extra: Any
) -> dict[str, Any]:
    """One ``AiDeployment`` as the listing carries it."""
    running = status == "RUNNING"
    backend = {"model": {"name": model, "version": "latest"}} if model else {}
    doc: dict[str, Any] = {
        "id": dep_id,
        "deploymentUrl": url(dep_id) if running else "",
        "configurationId": f"cfg-{dep_id}",
        "configurationName": f"{model or 'orchestration'}-config",
        "executableId": extra.pop("executableId", "azure-openai"),
        "scenarioId": extra.pop("scenarioId", "foundation-models"),
        "status": status,
        "targetStatus": "RUNNING" if running else "STOPPED",
        "lastOperation": "CREATE",
        "createdAt": "2026-11-02T09:14:11Z",
        "modifiedAt": "2026-11-02T09:20:40Z",
        "details": {"resources": {spelling: backend}, "scaling": {spelling: {}}},
        **extra,
    }
    return doc


# Page 1 of 2 (count says 7): the spec's spelling, the service's other spelling, both at once,
# a stopped deployment, a foreign family.
PAGE_1 = {
    "count": 7,
    "resources": [
        resource("d1", "gpt-4o"),
        resource("d2", "anthropic--claude-3.7-sonnet", spelling="backend_details", executableId="aws-bedrock"),
        {
            **resource("d3", "gemini-2.5-pro", executableId="gcp-vertexai"),
            "details": {
                "resources": {
                    "backendDetails": {"model": {"name": "gemini-2.5-pro", "version": "001"}},
                    "backend_details": {"model": {"name": "gemini-2.5-pro", "version": "001"}},
                }
            },
        },
        resource("d4", "gpt-5", status="STOPPED"),
    ],
}
# Page 2: more foreign families and an orchestration deployment (no backend model).
PAGE_2 = {
    "count": 7,
    "resources": [
        resource("d5", "amazon--nova-pro", executableId="aws-bedrock"),
        resource("d6", "gemini-embedding", executableId="gcp-vertexai"),
        resource("d7", None, executableId="orchestration", scenarioId="orchestration"),
    ],
}
FOREIGN_PAGE = {
    "count": 5,
    "resources": [
        resource("f1", "amazon--titan-embed-text"),
        resource("f2", "cohere--command-a-reasoning", executableId="aicore-opensource"),
        resource("f3", "mistralai--mistral-large-instruct", executableId="aicore-mistralai"),
        resource("f4", "meta--llama3.1-70b-instruct", executableId="aicore-opensource"),
        resource("f5", "sonar-pro", executableId="aicore-perplexity"),
    ],
}


def page(doc: dict[str, Any]) -> ListingPage:
    return parse_listing_page(json.dumps(doc).encode())


def whole(*docs: dict[str, Any]) -> tuple[DiscoveredDeployment, ...]:
    pages = ListingCollector()
    for doc in docs:
        pages.add(page(doc))
    return pages.deployments


LISTING = whole(PAGE_1, PAGE_2)


def sub_of(raw: dict, **top) -> Any:
    doc = {"subAccounts": {"a": {"service_key_json": KEY, **raw}}, "secret_authentication_tokens": ["k"], **top}
    return parse_config(doc).sub_accounts[0]


# --- reading the listing ------------------------------------------------------------------


def test_listing_page_reads_both_spellings_status_url_and_scenario():
    first = page(PAGE_1)
    assert (first.count, first.size) == (7, 4)
    got = [(d.id, d.model, d.status, d.running) for d in first.deployments]
    assert got == [
        ("d1", "gpt-4o", "RUNNING", True),
        ("d2", "anthropic--claude-3.7-sonnet", "RUNNING", True),
        ("d3", "gemini-2.5-pro", "RUNNING", True),
        ("d4", "gpt-5", "STOPPED", False),
    ]
    assert first.deployments[0].url == url("d1") and first.deployments[3].url == ""
    orchestration = page(PAGE_2).deployments[2]
    assert (orchestration.model, orchestration.scenario, orchestration.label) == (
        "",
        "orchestration",
        "d7 (orchestration deployment)",
    )


def test_a_running_deployment_without_a_url_is_not_usable():
    doc = resource("d9", "gpt-4o")
    doc["deploymentUrl"] = ""
    assert not page({"count": 1, "resources": [doc]}).deployments[0].running


def test_not_a_listing_raises():
    for bad in (b"not json", b'{"count": 1}', b"[]"):
        with pytest.raises(DiscoveryError):
            parse_listing_page(bad)
    lenient = page({"resources": [{"id": 5}, {"no": "id"}, resource("d1", "gpt-4o")]})
    assert [d.id for d in lenient.deployments] == ["d1"] and lenient.count is None


def test_collector_asks_for_every_page_until_count():
    pages = ListingCollector()
    assert pages.add(page(PAGE_1)) == 4  # the next $skip
    assert pages.add(page(PAGE_2)) is None
    assert [d.id for d in pages.deployments] == ["d1", "d2", "d3", "d4", "d5", "d6", "d7"]


def test_collector_stops_on_a_service_that_ignores_skip_or_sends_no_count():
    pages = ListingCollector()
    assert pages.add(page(PAGE_1)) == 4
    assert pages.add(page(PAGE_1)) is None  # the same page again: nothing new
    assert len(pages.deployments) == 4
    assert ListingCollector().add(page({**PAGE_1, "count": None})) is None
    assert ListingCollector().add(page({"count": 9, "resources": []})) is None


def test_listing_request_pages_with_top_and_skip_and_carries_token_group_and_tenant():
    sub = sub_of({"resource_group": "rg-x"})
    req = listing_request(sub, "tok", skip=1000)
    assert req.method == "GET"
    assert req.url == f"{API}/v2/lm/deployments?$top={LISTING_PAGE_SIZE}&$skip=1000"
    assert req.headers["Authorization"] == "Bearer tok" and req.headers["AI-Resource-Group"] == "rg-x"


# --- merging ---------------------------------------------------------------------------------


def test_discover_registers_running_served_deployments_and_names_the_others_once():
    warnings: list[str] = []
    sub = sub_of({})
    merged = merge_deployments(sub, LISTING + whole(FOREIGN_PAGE), warnings.append)
    assert merged == {
        "gpt-4o": [url("d1")],
        "anthropic--claude-3.7-sonnet": [url("d2")],
        "gemini-2.5-pro": [url("d3")],
    }
    assert warnings == [
        "sub-account 'a': discovery left out 8 running deployments of families this proxy does not serve: "
        "d5 (amazon--nova-pro), d6 (gemini-embedding), d7 (orchestration deployment), "
        "f1 (amazon--titan-embed-text), f2 (cohere--command-a-reasoning), f3 (mistralai--mistral-large-instruct), "
        "f4 (meta--llama3.1-70b-instruct), f5 (sonar-pro)",
        "sub-account 'a': discovery left out 1 deployment that is not running (no deploymentUrl until RUNNING): "
        "d4 (gpt-5: STOPPED)",
    ]


def test_merge_discover_configured_first_no_duplicates():
    sub = sub_of({"deployment_models": {"gpt-4o": ["https://other/d0", url("d1")]}, "discover": True})
    merged = merge_deployments(sub, LISTING, lambda m: None)
    assert merged["gpt-4o"] == ["https://other/d0", url("d1")]


def test_merge_ids_skips_unknown_and_stopped_with_warnings():
    warnings: list[str] = []
    sub = sub_of({"deployment_ids": {"gpt-4o": ["d1", "nope"], "gpt-5": ["d4"]}})
    merged = merge_deployments(sub, LISTING, warnings.append)
    assert merged == {"gpt-4o": [url("d1")]}
    assert warnings == [
        "sub-account 'a': deployment id 'nope' (gpt-4o) is not in the listing of resource group 'default'; skipped",
        "sub-account 'a': deployment id 'd4' (gpt-5) is STOPPED (not running) in resource group 'default'; skipped",
    ]
    # No listing (discovery failed, no cache): ids are used unchecked.
    assert merge_deployments(sub, None, warnings.append)["gpt-5"] == [url("d4")]


# --- the cache -------------------------------------------------------------------------------


def test_cache_entry_round_trip_validity_and_source_choice():
    doc = cache_entry_doc(LISTING, 1000.0)
    assert "sec" not in json.dumps(doc) and "cid" not in json.dumps(doc)
    entry = parse_cache_entry(json.loads(json.dumps(doc)))
    assert entry is not None and entry.deployments == LISTING
    assert entry.fresh(1000.0 + 10, ttl=60) and not entry.fresh(1000.0 + 60, ttl=60)
    assert not entry.fresh(900.0, ttl=60)  # from the future: not trusted
    assert choose_source(entry, 1010.0, 60, refresh=False) == "cache"
    assert choose_source(entry, 1010.0, 60, refresh=True) == "fetch"
    assert choose_source(entry, 2000.0, 60, refresh=False) == "fetch"
    assert choose_source(None, 0.0, 60, refresh=False) == "fetch"
    assert parse_cache_entry({"version": 2, "fetched_at": "x", "deployments": []}) is None
    assert parse_cache_entry({"version": 1, "fetched_at": 1.0, "deployments": []}) is None  # older format: a miss
    assert parse_cache_entry([]) is None
    assert isinstance(CacheEntry(0.0, ()), CacheEntry)


def test_cache_key_differs_per_identity_and_hides_it():
    k = cache_key("cid", API, "default")
    assert k != cache_key("cid", API, "rg-b") and "cid" not in k


def discovery_settings(raw: Any) -> Any:
    doc = {
        "subAccounts": {"a": {"service_key_json": KEY, "deployment_models": {}}},
        "secret_authentication_tokens": ["k"],
    }
    return parse_config(doc if raw is None else {**doc, "discovery": raw}).discovery


def test_discovery_settings():
    assert discovery_settings(None).enabled
    s = discovery_settings({"cache_dir": "c", "ttl_seconds": 5, "enabled": False})
    assert (s.cache_dir, s.ttl_seconds, s.enabled) == ("c", 5.0, False)
    assert s.cache_path(Path("/cfg")) == Path("/cfg/c")
    for bad, field in (({"ttl": 1}, "discovery.ttl"), ({"ttl_seconds": -1}, "ttl_seconds"), ([], "discovery")):
        with pytest.raises(ConfigError, match=field):
            discovery_settings(bad)


# --- the loader with an injected fetch -------------------------------------------------------


def write_config(tmp_path: Path, subs: dict[str, Any] | None = None, **top: Any) -> Path:
    doc = {
        "subAccounts": subs or {"a": {"service_key_json": KEY}},
        "secret_authentication_tokens": ["k"],
        "discovery": {"cache_dir": str(tmp_path / "cache"), "ttl_seconds": 3600},
        **top,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def fixed(listing: tuple[DiscoveredDeployment, ...], calls: list[str] | None = None):
    def fetch(sub, timeout):
        if calls is not None:
            calls.append(sub.name)
        return listing

    return fetch


def broken(sub, timeout):
    raise DiscoveryError("connection refused")


def test_loader_discovers_applies_aliases_filters_and_caches(tmp_path: Path):
    calls: list[str] = []
    path = write_config(
        tmp_path,
        model_aliases={"sonnet": "anthropic--claude-3.7-sonnet"},
        model_filters={"exclude_filters": ["^gpt-4o$"]},
    )
    cfg = load_config_with_discovery(path, {}, fetch=fixed(LISTING, calls), warn=lambda m: None)
    names = cfg.name_table()
    assert set(cfg.model_names) == {"gpt-4o", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"}
    assert names.accepted["sonnet"] == "anthropic--claude-3.7-sonnet" and "gpt-4o" not in names.accepted
    assert list((tmp_path / "cache").glob("*.json"))
    load_config_with_discovery(path, {}, fetch=fixed(LISTING, calls), warn=lambda m: None)
    assert calls == ["a"]  # the second start used the fresh cache
    load_config_with_discovery(path, {REFRESH_ENV: "1"}, fetch=fixed(LISTING, calls), warn=lambda m: None)
    assert calls == ["a", "a"]


ORIGINAL_NAMES = {
    "3.7-sonnet": [url("d2")],
    "gpt-4o": [url("d1")],
    "my-gemini": [url("d3")],
}


def test_configured_names_get_their_family_from_the_listing(tmp_path: Path):
    path = write_config(tmp_path, {"a": {"service_key_json": KEY, "deployment_models": ORIGINAL_NAMES}})
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=warnings.append)
    router = ModelCatalog(cfg)
    sonnet = router.entry("3.7-sonnet")
    assert (sonnet.family, sonnet.family_source, sonnet.upstream_model) == (
        "claude",
        "listing",
        "anthropic--claude-3.7-sonnet",
    )
    assert router.entry("my-gemini").upstream_model == "gemini-2.5-pro"
    assert warnings == []


def test_configured_deployments_the_listing_does_not_show_running_are_reported_once(tmp_path: Path):
    models = {"4-sonnet": [url("gone")], "gpt-5": [url("d4")], "nova": [url("d5")]}
    path = write_config(tmp_path, {"a": {"service_key_json": KEY, "deployment_models": models}})
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=warnings.append)
    assert warnings == [
        "sub-account 'a': configured deployments the listing of resource group 'default' does not show running "
        "a model this proxy serves: gone (4-sonnet: not listed; family from its name), d4 (gpt-5: STOPPED), "
        "d5 (nova: runs amazon--nova-pro, a family this proxy does not serve)"
    ]
    route = ModelCatalog(cfg).entry("4-sonnet")
    assert (route.family, route.family_source) == ("claude", "name")


def test_unreadable_listing_falls_back_to_name_keywords_with_one_warning_per_sub_account(tmp_path: Path):
    key_b = {**KEY, "clientid": "cid-b"}
    subs = {
        "a": {"service_key_json": KEY, "deployment_models": ORIGINAL_NAMES, "deployment_ids": {"x": ["d9"]}},
        "b": {"service_key_json": key_b, "deployment_models": {"4-sonnet": [url("d8")]}},
    }
    path = write_config(tmp_path, subs)
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append)
    assert len(warnings) == 2
    assert warnings[0] == (
        "sub-account 'a': the deployment listing could not be read (connection refused); the families of its "
        "configured deployments come from their names (claude/sonnet/haiku/opus/anthropic-- → Claude, gemini → "
        "Gemini, else OpenAI-family; model_settings.family overrides), its deployment_ids are used unchecked"
    )
    assert warnings[1].startswith("sub-account 'b': the deployment listing could not be read (connection refused)")
    router = ModelCatalog(cfg)
    assert [(router.entry(m).family, router.entry(m).family_source) for m in ("3.7-sonnet", "my-gemini")] == [
        ("claude", "name"),
        ("gemini", "name"),
    ]


def test_loader_falls_back_to_an_expired_cache_then_refuses_with_nothing(tmp_path: Path):
    path = write_config(tmp_path, discovery={"cache_dir": str(tmp_path / "cache"), "ttl_seconds": 0})
    load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=lambda m: None)
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append)
    assert "gpt-4o" in cfg.model_names
    assert len(warnings) == 3 and warnings[0].startswith(
        "sub-account 'a': the deployment listing could not be read (connection refused); using the cached listing"
    )
    assert warnings[1].startswith("sub-account 'a': discovery left out 3 running deployments")
    assert warnings[2].endswith("not running (no deploymentUrl until RUNNING): d4 (gpt-5: STOPPED)")
    warnings.clear()
    with pytest.raises(ConfigError, match="subAccounts.a: no deployments"):
        load_config_with_discovery(path, {REFRESH_ENV: "1"}, fetch=broken, warn=warnings.append)
    assert warnings == [
        "sub-account 'a': the deployment listing could not be read (connection refused); nothing is discovered"
    ]


def test_loader_keeps_configured_urls_when_discovery_fails(tmp_path: Path):
    path = write_config(
        tmp_path, {"a": {"service_key_json": KEY, "deployment_models": {"m": ["https://x/d"]}, "discover": True}}
    )
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=lambda m: None)
    assert cfg.sub_accounts[0].deployments == {"m": ("https://x/d",)}


def test_disabled_discovery_asks_nothing_and_warns_nothing(tmp_path: Path):
    path = write_config(
        tmp_path,
        {"a": {"service_key_json": KEY, "deployment_models": ORIGINAL_NAMES}},
        discovery={"enabled": False},
    )
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append)
    assert warnings == [] and ModelCatalog(cfg).entry("3.7-sonnet").family_source == "name"


def test_deployments_of_one_name_running_different_families_are_reported(tmp_path: Path):
    models = {"mixed": [url("d1"), url("d2")]}
    path = write_config(tmp_path, {"a": {"service_key_json": KEY, "deployment_models": models}})
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=warnings.append)
    assert warnings == [
        "model 'mixed': its deployments run models of different families (d1 runs gpt-4o, "
        "d2 runs anthropic--claude-3.7-sonnet); it is routed as openai, by the first; give each its own model name"
    ]
    assert ModelCatalog(cfg).entry("mixed").family == "openai"


def test_an_alias_to_a_discovered_model_is_checked_after_discovery(tmp_path: Path):
    path = write_config(tmp_path, model_aliases={"s": "no-such-model"})
    with pytest.raises(ConfigError, match="model_aliases.s: 'no-such-model' is not a configured model"):
        load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=lambda m: None)


def test_key_without_ai_api_url_lists_from_the_deployment_urls_host(tmp_path: Path):
    bare = {k: v for k, v in KEY.items() if k != "serviceurls"}
    path = write_config(tmp_path, {"a": {"service_key_json": bare, "deployment_models": ORIGINAL_NAMES}})
    asked: list[str] = []

    def fetch(sub, timeout):
        asked.append(listing_request(sub, "t").url)
        return LISTING

    cfg = load_config_with_discovery(path, {}, fetch=fetch, warn=lambda m: None)
    assert asked[0].startswith(f"{API}/v2/lm/deployments?")
    assert ModelCatalog(cfg).entry("3.7-sonnet").family_source == "listing"
    other = write_config(tmp_path, {"a": {"service_key_json": bare, "deployment_models": {"m": ["https://x/d"]}}})
    warnings: list[str] = []
    load_config_with_discovery(other, {}, fetch=fetch, warn=warnings.append)
    assert warnings[0].startswith("sub-account 'a': the deployment listing could not be read (no serviceurls.AI_API")


def test_offline_look_uses_any_cached_listing_and_never_fetches(tmp_path: Path):
    path = write_config(tmp_path, {"a": {"service_key_json": KEY, "deployment_models": ORIGINAL_NAMES}})
    warnings: list[str] = []
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append, network=False)
    assert (
        ModelCatalog(cfg).entry("3.7-sonnet").family_source == "name" and "offline, and none is cached" in warnings[0]
    )
    load_config_with_discovery(path, {}, fetch=fixed(LISTING), warn=lambda m: None)
    cfg = load_config_with_discovery(path, {}, fetch=broken, warn=warnings.append, network=False)
    assert ModelCatalog(cfg).entry("3.7-sonnet").family_source == "listing"


def test_notices_are_printed_by_the_loader(tmp_path: Path):
    path = write_config(tmp_path, {"a": {"service_key_json": KEY, "deployment_models": ORIGINAL_NAMES}})
    warnings: list[str] = []
    env = {"AICORE_SERVICE_KEY_A": json.dumps({**KEY, "clientsecret": "t0p-s3cr3t"}), "AICORE_SERVICE_KEY_B": "{}"}
    load_config_with_discovery(path, env, fetch=fixed(LISTING), warn=warnings.append)
    assert [w.split(" ", 1)[0] for w in warnings] == ["sub-account", "AICORE_SERVICE_KEY_B"]
    assert not any("t0p-s3cr3t" in w for w in warnings)


# --- fetch_listing: the token, then every page ----------------------------------------------


def test_fetch_listing_takes_a_token_then_reads_every_page(monkeypatch: pytest.MonkeyPatch):
    sent = []
    answers = [
        (200, b'{"access_token": "tok", "expires_in": 3600}'),
        (200, json.dumps(PAGE_1).encode()),
        (200, json.dumps(PAGE_2).encode()),
    ]

    def send(req, timeout):
        sent.append(req)
        return answers.pop(0)

    monkeypatch.setattr(discovery_http, "_send", send)
    found = fetch_listing(sub_of({}), 5.0)
    assert [d.id for d in found] == ["d1", "d2", "d3", "d4", "d5", "d6", "d7"]
    assert sent[0].url == "https://auth/oauth/token?grant_type=client_credentials"
    assert [r.url.rsplit("$skip=", 1)[1] for r in sent[1:]] == ["0", "4"]
    assert all(r.headers["Authorization"] == "Bearer tok" for r in sent[1:])


def test_fetch_listing_reports_a_refused_token_and_a_failed_page(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(discovery_http, "_send", lambda req, t: (401, b'{"error_description": "Bad credentials"}'))
    with pytest.raises(DiscoveryError, match="token endpoint answered 401: Bad credentials"):
        fetch_listing(sub_of({}), 5.0)
    answers = [(200, b'{"access_token": "tok"}'), (403, b'{"error": {"message": "no access"}}')]
    monkeypatch.setattr(discovery_http, "_send", lambda req, t: answers.pop(0))
    with pytest.raises(DiscoveryError, match="deployment listing of sub-account 'a'.*answered 403"):
        fetch_listing(sub_of({}), 5.0)
