from dataclasses import replace

import pytest

from shared.catalog import DEFAULT_API_VERSION, ModelCatalog, family_from_name, family_of_backend
from shared.config import parse_config
from shared.errors import ModelNotFound

KEY = {"clientid": "c", "clientsecret": "s", "url": "https://a"}


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("anthropic--claude-4.5-sonnet", "claude"),
        ("Claude-3-Opus", "claude"),
        ("anthropic--whatever", "claude"),
        ("gemini-2.5-pro", "gemini"),
        ("gpt-4o", "openai"),
        # The original proxies' keywords, for names of Claude deployments that avoid "claude".
        ("sonnet-4.5", "claude"),
        ("3.7-sonnet", "claude"),
        ("4-Sonnet", "claude"),
        ("4.6-opus", "claude"),
        ("haiku-4.5", "claude"),
        ("my-clau", "claude"),
        ("gpt-o3-mini", "openai"),
        ("text-embedding-3-small", "openai"),
    ],
)
def test_family_from_name(name, family):
    assert family_from_name(name) == family


def test_settings_override_name_rules():
    cfg = parse_config(
        {
            "subAccounts": {
                "a": {
                    "service_key_json": KEY,
                    "deployment_models": {n: ["https://d"] for n in ("sonnet-4.5", "gem:x", "gpt")},
                }
            },
            "secret_authentication_tokens": ["k"],
            "model_settings": {
                "sonnet-4.5": {"family": "claude", "claude_api": "converse", "max_tokens": 8000},
                "gpt": {"api_version": "2023-05-15"},
            },
        }
    )
    r = ModelCatalog(cfg)
    s = r.entry("sonnet-4.5")
    assert (s.family, s.claude_api, s.max_tokens) == ("claude", "converse", 8000)
    assert r.entry("gpt").api_version == "2023-05-15"
    assert r.entry("gem:x").upstream_model == "gem"
    assert r.entry("gem:x").api_version == DEFAULT_API_VERSION
    with pytest.raises(ModelNotFound, match="GET /v1/models"):
        r.entry("nope")


@pytest.mark.parametrize(
    ("backend", "family"),
    [
        ("anthropic--claude-3.7-sonnet", "claude"),
        ("gemini-2.5-pro", "gemini"),
        ("gpt-4o", "openai"),
        ("o3-mini", "openai"),
        ("o1", "openai"),
        ("text-embedding-3-large", "openai"),
        ("gemini-embedding", None),
        ("amazon--nova-pro", None),
        ("amazon--titan-embed-text", None),
        ("cohere--command-a-reasoning", None),
        ("mistralai--mistral-large-instruct", None),
        ("meta--llama3.1-70b-instruct", None),
        ("sonar-pro", None),
        ("gpt-realtime", None),
        ("gpt-5.3-codex", None),
        ("sap-abap-1", None),
    ],
)
def test_family_of_backend_serves_only_what_the_proxy_speaks(backend, family):
    assert family_of_backend(backend) == family


def listed_config(backends, settings=None):
    """A config whose sub-account's deployments the listing has described (as start-up records it)."""
    cfg = parse_config(
        {
            "subAccounts": {
                "a": {
                    "service_key_json": KEY,
                    "deployment_models": {
                        "3.7-sonnet": ["https://api/v2/inference/deployments/d1"],
                        "my-gemini": ["https://api/v2/inference/deployments/d2"],
                        "4-sonnet": ["https://api/v2/inference/deployments/d3"],
                        "big-embed": ["https://api/v2/inference/deployments/d4"],
                    },
                }
            },
            "secret_authentication_tokens": ["k"],
            "model_settings": settings or {},
        }
    )
    sub = replace(cfg.sub_accounts[0], backends=backends)
    return replace(cfg, sub_accounts=(sub,))


def test_family_comes_from_the_listing_then_settings_then_the_name():
    backends = {"d1": "anthropic--claude-3.7-sonnet", "d2": "gemini-2.5-flash", "d4": "text-embedding-3-large"}
    r = ModelCatalog(listed_config(backends, {"4-sonnet": {"family": "openai"}}))
    sonnet = r.entry("3.7-sonnet")
    assert (sonnet.family, sonnet.family_source, sonnet.upstream_model) == (
        "claude",
        "listing",
        "anthropic--claude-3.7-sonnet",
    )
    gemini = r.entry("my-gemini")
    assert (gemini.family, gemini.family_source, gemini.upstream_model) == ("gemini", "listing", "gemini-2.5-flash")
    forced = r.entry("4-sonnet")
    assert (forced.family, forced.family_source) == ("openai", "settings")
    embed = r.entry("big-embed")
    assert (embed.family, embed.kind, embed.family_source) == ("openai", "embeddings", "listing")


def test_without_a_listing_the_family_comes_from_the_name():
    r = ModelCatalog(listed_config({}))
    route = r.entry("4-sonnet")
    assert (route.family, route.family_source, route.upstream_model) == ("claude", "name", "4-sonnet")
    assert r.entry("my-gemini").family == "gemini"


def test_a_foreign_backend_leaves_the_name_rule_in_charge():
    route = ModelCatalog(listed_config({"d1": "amazon--nova-pro"})).entry("3.7-sonnet")
    assert (route.family, route.family_source, route.upstream_model) == ("claude", "name", "amazon--nova-pro")


def test_upstream_model_setting_wins_over_the_listing():
    cfg = listed_config({"d2": "gemini-2.5-flash"}, {"my-gemini": {"upstream_model": "gemini-2.5-pro"}})
    assert ModelCatalog(cfg).entry("my-gemini").upstream_model == "gemini-2.5-pro"
