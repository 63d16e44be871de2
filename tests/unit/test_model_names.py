"""Aliases, prefix stripping and model_filters: through the parser, the ModelCatalog and /v1/models."""

import json

import pytest

from shared.catalog import ModelCatalog
from shared.config import ConfigError, parse_config
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS
from shared.errors import ModelNotFound
from shared.model_names import ModelFilters, build_names, filter_names, parse_model_filters

KEY = {"clientid": "c", "clientsecret": "s", "url": "https://a"}
MODELS = ("anthropic--claude-4.5-sonnet", "anthropic--claude-4-opus", "gpt-4o", "gemini-2.5-pro")


def cfg(**over):
    doc = {
        "subAccounts": {"a": {"service_key_json": KEY, "deployment_models": {m: [f"https://d/{m}"] for m in MODELS}}},
        "secret_authentication_tokens": ["k"],
        "model_settings": {"anthropic--claude-4.5-sonnet": {"claude_api": "converse", "max_tokens": 8000}},
    }
    doc.update(over)
    return parse_config(doc)


def listed(config):
    core = ProxyCore(config, stack="test", started_at=0)
    route = next(r for r in ENDPOINTS if r.handler == "list_models")
    reply = core.begin(route, {"authorization": "Bearer k"}, route.method, route.path, 0.0).job(b"", 0.0)
    return [m["id"] for m in json.loads(reply.body)["data"]]


def test_no_settings_lists_configured_names():
    assert listed(cfg()) == list(MODELS)


def test_alias_routes_like_its_target_and_is_listed():
    config = cfg(model_aliases={"sonnet-4.5": "anthropic--claude-4.5-sonnet"})
    r = ModelCatalog(config)
    route = r.entry("sonnet-4.5")
    assert route == r.entry("anthropic--claude-4.5-sonnet")
    assert (route.name, route.family, route.claude_api, route.max_tokens) == (
        "anthropic--claude-4.5-sonnet",
        "claude",
        "converse",
        8000,
    )
    assert listed(config) == [*MODELS, "sonnet-4.5"]


@pytest.mark.parametrize(
    ("aliases", "message"),
    [
        ({"s": "nope"}, r"model_aliases\.s: 'nope' is not a configured model"),
        ({"gpt-4o": "gemini-2.5-pro"}, r"model_aliases\.gpt-4o: shadows the configured model"),
        ({"a": "gpt-4o", "b": "a"}, r"model_aliases\.b: 'a' is itself an alias"),
        ({"s": 3}, r"model_aliases\.s: must be the name"),
    ],
)
def test_alias_validation(aliases, message):
    with pytest.raises(ConfigError, match=message):
        cfg(model_aliases=aliases)


def test_prefix_stripping_lists_short_names_and_accepts_both():
    config = cfg(strip_model_prefixes=["anthropic--"])
    assert listed(config) == ["claude-4.5-sonnet", "claude-4-opus", "gpt-4o", "gemini-2.5-pro"]
    r = ModelCatalog(config)
    assert r.entry("claude-4.5-sonnet").name == "anthropic--claude-4.5-sonnet"
    assert r.entry("anthropic--claude-4.5-sonnet").claude_api == "converse"


def test_stripped_name_collisions_name_both():
    with pytest.raises(ConfigError, match=r"'anthropic--gpt-4o' would be listed as 'gpt-4o'.*model 'gpt-4o'"):
        build_names(["gpt-4o", "anthropic--gpt-4o"], {}, ["anthropic--"], ModelFilters())
    with pytest.raises(ConfigError, match=r"'a--x' and 'b--x' would both be listed as 'x'"):
        build_names(["a--x", "b--x"], {}, ["a--", "b--"], ModelFilters())
    with pytest.raises(ConfigError, match=r"model_aliases\.claude-4-opus: collides with 'claude-4-opus'.*anthropic--"):
        cfg(strip_model_prefixes=["anthropic--"], model_aliases={"claude-4-opus": "gpt-4o"})
    with pytest.raises(ConfigError, match=r"'claude-4-opus' is a stripped name"):
        cfg(strip_model_prefixes=["anthropic--"], model_aliases={"opus": "claude-4-opus"})


def test_filters_include_then_exclude():
    filters = parse_model_filters({"include_filters": ["claude", "^gpt"], "exclude_filters": ["opus"]})
    assert filter_names(MODELS, filters) == ["anthropic--claude-4.5-sonnet", "gpt-4o"]
    assert filter_names(MODELS, ModelFilters()) == list(MODELS)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"exclude_filters": ["ok", "("]}, r"model_filters\.exclude_filters\[1\]: invalid regular expression"),
        ({"include_filters": "x"}, r"model_filters\.include_filters: must be a list"),
        ({"include": []}, r"model_filters\.include: unknown key; did you mean 'include_filters'\?"),
        ([], r"model_filters: must be an object"),
    ],
)
def test_invalid_filters_name_field_and_index(raw, message):
    with pytest.raises(ConfigError, match=message):
        cfg(model_filters=raw)


def test_filtered_model_is_unlisted_and_unknown_with_its_aliases_and_stripped_name():
    config = cfg(
        model_filters={"exclude_filters": ["opus"]},
        strip_model_prefixes=["anthropic--"],
        model_aliases={"big": "anthropic--claude-4-opus", "sonnet-4.5": "anthropic--claude-4.5-sonnet"},
    )
    assert listed(config) == ["claude-4.5-sonnet", "gpt-4o", "gemini-2.5-pro", "sonnet-4.5"]
    r = ModelCatalog(config)
    for name in ("anthropic--claude-4-opus", "claude-4-opus", "big"):
        with pytest.raises(ModelNotFound, match="GET /v1/models"):
            r.entry(name)
    assert r.entry("sonnet-4.5").name == "anthropic--claude-4.5-sonnet"


def test_filters_apply_to_alias_and_stripped_names_on_their_own():
    config = cfg(
        model_filters={"exclude_filters": ["^claude-4\\.5", "^sonnet"]},
        strip_model_prefixes=["anthropic--"],
        model_aliases={"sonnet-4.5": "anthropic--claude-4.5-sonnet", "s45": "anthropic--claude-4.5-sonnet"},
    )
    assert listed(config) == ["claude-4-opus", "gpt-4o", "gemini-2.5-pro", "s45"]
    r = ModelCatalog(config)
    for name in ("claude-4.5-sonnet", "sonnet-4.5"):
        with pytest.raises(ModelNotFound):
            r.entry(name)
    assert r.entry("s45").name == r.entry("anthropic--claude-4.5-sonnet").name == "anthropic--claude-4.5-sonnet"


def test_include_filters_keep_only_matches():
    config = cfg(model_filters={"include_filters": ["^gpt", "^g4$"]}, model_aliases={"g4": "gpt-4o", "x": "gpt-4o"})
    assert listed(config) == ["gpt-4o", "g4"]
    with pytest.raises(ModelNotFound):
        ModelCatalog(config).entry("gemini-2.5-pro")


def test_fallback_to_a_filtered_model_is_a_config_error():
    with pytest.raises(ConfigError, match=r"fallback_models\.claude: .* removed by model_filters"):
        cfg(model_filters={"exclude_filters": ["opus"]}, fallback_models={"claude": "anthropic--claude-4-opus"})


def test_name_table_takes_other_name_lists_for_discovery():
    config = cfg(model_filters={"exclude_filters": ["embed"]}, strip_model_prefixes=["anthropic--"])
    table = config.name_table(["anthropic--claude-x", "text-embedding-3"])
    assert table.listed == ("claude-x",)
    assert table.accepted == {"anthropic--claude-x": "anthropic--claude-x", "claude-x": "anthropic--claude-x"}


def test_alias_answers_keep_the_clients_name_on_every_route():
    """The router resolves; route handlers already answer with the requested name (ids.model)."""
    config = cfg(model_aliases={"sonnet-4.5": "anthropic--claude-4.5-sonnet"})
    core = ProxyCore(config, stack="test", started_at=0)
    route, targets = core.deployments.resolve("sonnet-4.5")
    assert route.name == "anthropic--claude-4.5-sonnet"
    assert [t.url for t in targets] == ["https://d/anthropic--claude-4.5-sonnet"]
