import json
from pathlib import Path

import pytest

from shared.config import ConfigError, config_path, load_config, parse_config

KEY = {"clientid": "cid", "clientsecret": "secret", "url": "https://auth.example/", "identityzoneid": "zone"}


def base(**over):
    doc = {
        "subAccounts": {
            "a": {"resource_group": "rg", "service_key_json": KEY, "deployment_models": {"gpt-4o": ["https://x/d1/"]}}
        },
        "secret_authentication_tokens": ["k1"],
    }
    doc.update(over)
    return doc


def test_existing_format_with_service_key_file(tmp_path: Path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "a.json").write_text(json.dumps({**KEY, "serviceurls": {"AI_API_URL": "https://api/"}}))
    doc = base()
    doc["subAccounts"]["a"]["service_key_json"] = "keys/a.json"
    doc["host"], doc["port"] = "0.0.0.0", 3005
    (tmp_path / "config.json").write_text(json.dumps(doc))
    cfg = load_config(tmp_path / "config.json")
    sub = cfg.sub_accounts[0]
    assert sub.service_key.clientid == "cid" and sub.service_key.url == "https://auth.example"
    assert sub.service_key.api_url == "https://api"
    assert sub.deployments == {"gpt-4o": ("https://x/d1",)}
    assert (cfg.host, cfg.port, cfg.api_keys) == ("0.0.0.0", 3005, ("k1",))


def test_legacy_single_account_layout_becomes_default():
    doc = {"service_key_json": KEY, "deployment_models": {"m": ["https://x/d"]}, "secret_authentication_tokens": ["k"]}
    cfg = parse_config(doc)
    assert [s.name for s in cfg.sub_accounts] == ["default"]
    assert cfg.sub_accounts[0].resource_group == "default"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("subAccounts"), "subAccounts"),
        (lambda d: d["subAccounts"]["a"].update(deployment_models=[]), "subAccounts.a.deployment_models"),
        (lambda d: d["subAccounts"]["a"]["deployment_models"].update(m=["ftp://x"]), "deployment_models.m[0]"),
        (lambda d: d["subAccounts"]["a"]["service_key_json"].pop("clientsecret"), "service_key_json.clientsecret"),
        (lambda d: d.update(secret_authentication_tokens=[]), "secret_authentication_tokens"),
        (lambda d: d.update(secret_authentication_tokens=[""]), "secret_authentication_tokens"),
        (lambda d: d.update(port="80"), "port"),
        (lambda d: d.update(model_settings={"m": {"claude_api": "chat"}}), "model_settings.m.claude_api"),
        (lambda d: d.update(model_settings={"m": {"famly": "claude"}}), "model_settings.m.famly"),
        (lambda d: d.update(timeouts={"idle": -1}), "timeouts.idle"),
        (lambda d: d.update(timeouts={"read": 5}), "timeouts.read"),
    ],
)
def test_invalid_config_names_the_field(mutate, field):
    doc = json.loads(json.dumps(base()))
    mutate(doc)
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_config(doc)


def test_empty_keys_allowed_only_when_explicit():
    cfg = parse_config(base(secret_authentication_tokens=[], allow_unauthenticated=True))
    assert cfg.allow_unauthenticated and cfg.api_keys == ()


def test_missing_service_key_file_is_reported(tmp_path: Path):
    doc = base()
    doc["subAccounts"]["a"]["service_key_json"] = "nope.json"
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"subAccounts\.a\.service_key_json: cannot read"):
        load_config(tmp_path / "c.json")


def test_config_path_from_env():
    assert config_path({}) == "config.json"
    assert config_path({"PROXY_CONFIG": "/etc/p.json"}) == "/etc/p.json"


def test_service_key_repr_hides_secret():
    cfg = parse_config(base())
    assert "secret" not in repr(cfg.sub_accounts[0].service_key)


def test_collect_mode_reports_every_problem_and_load_still_raises_the_first(tmp_path: Path):
    over = {"port": "80", "timeouts": {"read": 5}, "model_aliases": {"s": "nope"}}
    over["model_filters"] = {"exclude_filters": ["("]}
    doc = json.loads(json.dumps(base(**over)))
    doc["subAccounts"]["a"]["deployment_models"]["m"] = ["ftp://x"]
    doc["subAccounts"]["a"]["service_key_json"].pop("clientsecret")
    doc["model_settings"] = {"m1": {"famly": "x"}, "m2": {"claude_api": "chat"}}
    problems: list[str] = []
    parse_config(doc, problems=problems)
    fields = [p.split(":", 1)[0] for p in problems]
    assert fields == [
        "subAccounts.a.service_key_json.clientsecret",
        "subAccounts.a.deployment_models.m[0]",
        "port",
        "model_filters.exclude_filters[0]",
        "model_aliases.s",
        "model_settings.m1.famly",
        "model_settings.m2.claude_api",
        "timeouts.read",
    ]
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="clientsecret"):
        load_config(tmp_path / "c.json")


def test_collect_mode_on_a_valid_config_has_no_problems():
    problems: list[str] = []
    cfg = parse_config(base(), problems=problems)
    assert problems == [] and cfg.model_names == ["gpt-4o"]


def test_empty_key_list_is_reported_once_when_the_list_is_also_malformed():
    problems: list[str] = []
    parse_config(base(secret_authentication_tokens="k"), problems=problems)
    assert problems == ["secret_authentication_tokens: must be a list of strings"]
