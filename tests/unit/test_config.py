import json
from pathlib import Path

import pytest

from shared.config import (
    ConfigError,
    Timeouts,
    check_config_file,
    config_path,
    load_config,
    normalise_layout,
    parse_config,
    service_key_env_var,
)
from shared.transports.discovery_http import load_config_with_discovery

KEY = {"clientid": "cid", "clientsecret": "secret", "url": "https://auth.example/", "identityzoneid": "zone"}
API = "https://api.example"


def base(**over):
    doc = {
        "subAccounts": {
            "a": {"resource_group": "rg", "service_key_json": KEY, "deployment_models": {"gpt-4o": ["https://x/d1/"]}}
        },
        "secret_authentication_tokens": ["k1"],
    }
    doc.update(over)
    return doc


def copy(doc):
    return json.loads(json.dumps(doc))


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


def test_legacy_layout_is_normalised_in_one_place():
    doc = {"service_key_json": "k.json", "deployment_ids": {"m": ["d1"]}, "resource_group": "rg", "port": 1}
    out, legacy, problems = normalise_layout(doc)
    assert legacy and problems == []
    assert out == {"port": 1, "subAccounts": {"default": {k: doc[k] for k in doc if k != "port"}}}
    mixed, legacy, problems = normalise_layout({**doc, "subAccounts": {}})
    assert not legacy and [str(p).split(":", 1)[0] for p in problems] == [
        "service_key_json",
        "deployment_ids",
        "resource_group",
    ]


def test_legacy_layout_with_deployment_ids_loads_with_discovery(tmp_path: Path):
    """Regression: this used to fail with a misleading 'service_key_json: must be a path…'."""
    (tmp_path / "key.json").write_text(json.dumps({**KEY, "serviceurls": {"AI_API_URL": API}}))
    doc = {
        "service_key_json": "key.json",
        "deployment_ids": {"gpt-4o": ["d1"]},
        "secret_authentication_tokens": ["k"],
        "discovery": {"cache_dir": str(tmp_path / "cache")},
    }
    (tmp_path / "config.json").write_text(json.dumps(doc))
    from shared.discovery import DiscoveredDeployment

    listing = (DiscoveredDeployment("d1", f"{API}/v2/inference/deployments/d1", "gpt-4o"),)
    cfg = load_config_with_discovery(tmp_path / "config.json", {}, fetch=lambda sub, t: listing, warn=print)
    assert [s.name for s in cfg.sub_accounts] == ["default"]
    assert cfg.sub_accounts[0].deployments == {"gpt-4o": (f"{API}/v2/inference/deployments/d1",)}


def test_legacy_layout_problems_name_the_keys_as_written():
    doc = {"service_key_json": {"clientid": "c"}, "deployment_models": {"m": ["ftp://x"]}}
    problems: list[str] = []
    parse_config({**doc, "secret_authentication_tokens": ["k"]}, problems=problems)
    assert [p.split(":", 1)[0] for p in problems] == ["service_key_json.clientsecret", "deployment_models.m[0]"]


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
        (lambda d: d.update(model_settings={"m": {"capabilities": ["vision"]}}), "model_settings.m.capabilities"),
        (lambda d: d.update(timeouts={"idle": -1}), "timeouts.idle"),
        (lambda d: d.update(timeouts={"read": 5}), "timeouts.read"),
        (lambda d: d["subAccounts"]["a"].update(discover=False, deployment_models={}), "subAccounts.a: no deploy"),
    ],
)
def test_invalid_config_names_the_field(mutate, field):
    doc = copy(base())
    mutate(doc)
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_config(doc)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(acces_log=False), "acces_log: unknown key; did you mean 'access_log'?"),
        (lambda d: d.update(timeout={"idle": 5}), "timeout: unknown key; did you mean 'timeouts'?"),
        (lambda d: d.update(subaccounts={}), "subaccounts: unknown key; did you mean 'subAccounts'?"),
        (
            lambda d: d["subAccounts"]["a"].update(deployment_model={"m": ["https://x"]}),
            "subAccounts.a.deployment_model: unknown key; did you mean 'deployment_models'?",
        ),
        (
            lambda d: d["subAccounts"]["a"].update(resourcegroup="rg"),
            "subAccounts.a.resourcegroup: unknown key; did you mean 'resource_group'?",
        ),
        (
            lambda d: d.update(model_settings={"gpt-4o": {"famly": "claude"}}),
            "model_settings.gpt-4o.famly: unknown key; did you mean 'family'?",
        ),
        (
            lambda d: d.update(timeouts={"firstbyte": 5}),
            "timeouts.firstbyte: unknown key; did you mean 'first_byte'?",
        ),
        (lambda d: d.update(retry={"max_attempt": 2}), "retry.max_attempt: unknown key; did you mean 'max_attempts'?"),
        (lambda d: d.update(discovery={"ttl": 5}), "discovery.ttl: unknown key; did you mean 'ttl_seconds'?"),
        (
            lambda d: d.update(model_filters={"include": ["x"]}),
            "model_filters.include: unknown key; did you mean 'include_filters'?",
        ),
        (
            lambda d: d.update(fallback_models={"clade": "gpt-4o"}),
            "fallback_models.clade: unknown family; did you mean 'claude'?",
        ),
        (lambda d: d.update(zzz=1), "zzz: unknown key; known keys: subAccounts, secret_authentication_tokens"),
        (
            lambda d: d.update(deployment_models={"m": ["https://x"]}),
            "deployment_models: belongs inside a sub-account when subAccounts is given",
        ),
    ],
)
def test_unknown_keys_are_refused_with_a_suggestion(mutate, message):
    doc = copy(base())
    mutate(doc)
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert str(info.value).startswith(message)


def test_original_proxies_keys_comments_and_service_key_fields_are_accepted():
    doc = copy(base(port=3001, host="0.0.0.0", model_filters={"include_filters": ["gpt"]}, _comment="mine"))
    sub = doc["subAccounts"]["a"]
    sub["_note"] = "team EU"
    sub["deployment_ids"] = {"gpt-4o": ["d9"]}
    sub["service_key_json"].update(appname="x", identityzone="z", serviceurls={"AI_API_URL": API}, vendor="SAP")
    cfg = parse_config(doc)
    assert cfg.model_names == ["gpt-4o"]


def test_pjq_example_config_loads_unchanged(tmp_path: Path):
    """pjq's config.json.example shape: Claude deployments named 3.7-sonnet, keys as files."""
    url = "https://api.ai.intprod-eu12.eu-central-1.aws.ml.hana.ondemand.com/v2/inference/deployments/"
    for name in ("subAccount1", "subAccount2"):
        (tmp_path / f"{name}_service_key.json").write_text(json.dumps(KEY))
    doc = {
        "subAccounts": {
            name: {
                "resource_group": "default",
                "service_key_json": f"{name}_service_key.json",
                "deployment_models": {
                    "gpt-4o": [f"{url}{name}-1"],
                    "3.7-sonnet": [f"{url}{name}-3"],
                    "gpt-o3-mini": [f"{url}{name}-5"],
                },
            }
            for name in ("subAccount1", "subAccount2")
        },
        "secret_authentication_tokens": ["<authentication_token_1>"],
        "port": 3001,
        "host": "0.0.0.0",
    }
    (tmp_path / "config.json").write_text(json.dumps(doc))
    cfg = load_config(tmp_path / "config.json")
    assert cfg.model_names == ["gpt-4o", "3.7-sonnet", "gpt-o3-mini"]
    assert cfg.sub_accounts[0].listing_api_url == url.split("/v2/")[0]  # read back from the deployment URL


def test_collect_mode_reports_every_problem_and_load_still_raises_the_first(tmp_path: Path):
    over = {"port": "80", "timeouts": {"read": 5}, "model_aliases": {"s": "nope"}, "acces_log": True}
    over["model_filters"] = {"exclude_filters": ["("]}
    doc = copy(base(**over))
    doc["subAccounts"]["a"]["deployment_models"]["m"] = ["ftp://x"]
    doc["subAccounts"]["a"]["service_key_json"].pop("clientsecret")
    doc["subAccounts"]["a"]["deployment_model"] = {}
    doc["model_settings"] = {"m1": {"famly": "x", "claude_ap": "invoke"}, "m2": {"claude_api": "chat"}}
    problems: list[str] = []
    parse_config(doc, problems=problems)
    fields = [p.split(":", 1)[0] for p in problems]
    assert fields == [
        "acces_log",
        "subAccounts.a.deployment_model",
        "subAccounts.a.service_key_json.clientsecret",
        "subAccounts.a.deployment_models.m[0]",
        "port",
        "model_filters.exclude_filters[0]",
        "model_settings.m1.famly",
        "model_settings.m1.claude_ap",
        "model_settings.m2.claude_api",
        "timeouts.read",
        "model_aliases.s",
    ]
    (tmp_path / "c.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="acces_log: unknown key; did you mean 'access_log'"):
        load_config(tmp_path / "c.json")


def test_collect_mode_on_a_valid_config_has_no_problems():
    problems: list[str] = []
    cfg = parse_config(base(), problems=problems)
    assert problems == [] and cfg.model_names == ["gpt-4o"]


def test_empty_key_list_is_reported_once_when_the_list_is_also_malformed():
    problems: list[str] = []
    parse_config(base(secret_authentication_tokens="k"), problems=problems)
    assert problems == ["secret_authentication_tokens: must be a list of strings"]


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


def test_model_settings_capabilities_are_validated_overrides():
    caps = {"max_output_tokens": 4000, "reasoning_effort": ["low", "high"]}
    cfg = parse_config(base(model_settings={"gpt-4o": {"capabilities": caps}}))
    assert cfg.model_settings["gpt-4o"].capabilities == {
        "max_output_tokens": 4000,
        "reasoning_effort": frozenset({"low", "high"}),
    }
    assert parse_config(base(model_settings={"gpt-4o": {}})).model_settings["gpt-4o"].capabilities is None
    with pytest.raises(ConfigError, match=r"model_settings.gpt-4o.capabilities.vision: unknown capability"):
        parse_config(base(model_settings={"gpt-4o": {"capabilities": {"vision": True}}}))


def test_model_settings_for_no_model_is_a_notice_with_a_suggestion():
    cfg = parse_config(base(model_settings={"gpt4o": {"api_version": "x"}}))
    assert cfg.notices == (
        "model_settings.gpt4o: no deployment serves this model (did you mean 'gpt-4o'?); the settings are unused",
    )


def test_first_byte_timeout_defaults_to_the_original_proxies_600_seconds():
    assert Timeouts().first_byte == 600.0
    assert parse_config(base()).timeouts.first_byte == 600.0


# --- secrets from the environment ---------------------------------------------------------


def test_service_key_env_var_name():
    assert service_key_env_var("team-eu") == "AICORE_SERVICE_KEY_TEAM_EU"
    assert service_key_env_var("a.b c") == "AICORE_SERVICE_KEY_A_B_C"


def test_service_key_from_the_environment_as_json_or_a_path(tmp_path: Path):
    doc = copy(base())
    del doc["subAccounts"]["a"]["service_key_json"]
    env = {"AICORE_SERVICE_KEY_A": json.dumps({**KEY, "clientid": "from-env"})}
    cfg = parse_config(doc, env=env)
    assert cfg.sub_accounts[0].service_key.clientid == "from-env" and cfg.notices == ()
    (tmp_path / "k.json").write_text(json.dumps({**KEY, "clientid": "from-file"}))
    (tmp_path / "c.json").write_text(json.dumps(doc))
    cfg = load_config(tmp_path / "c.json", env={"AICORE_SERVICE_KEY_A": "k.json"})  # relative to the config
    assert cfg.sub_accounts[0].service_key.clientid == "from-file"
    with pytest.raises(ConfigError, match=r"subAccounts\.a\.service_key_json: required.*AICORE_SERVICE_KEY_A"):
        parse_config(doc)


def test_environment_wins_over_the_file_and_says_so():
    env = {"AICORE_SERVICE_KEY_A": json.dumps({**KEY, "clientid": "from-env"})}
    cfg = parse_config(base(), env=env)
    assert cfg.sub_accounts[0].service_key.clientid == "from-env"
    assert cfg.notices == (
        "sub-account 'a': the service key comes from AICORE_SERVICE_KEY_A; the environment wins over its "
        "service_key_json",
    )


def test_bad_environment_key_never_echoes_the_value():
    secret = "{not json but s3cr3t"
    with pytest.raises(ConfigError) as info:
        parse_config(base(), env={"AICORE_SERVICE_KEY_A": secret})
    assert str(info.value).startswith("AICORE_SERVICE_KEY_A: looks like JSON but is not valid JSON")
    assert "s3cr3t" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config(base(), env={"AICORE_SERVICE_KEY_A": "s3cr3t-not-a-path"})
    assert "s3cr3t" not in str(info.value) and "AICORE_SERVICE_KEY_A: neither" in str(info.value)
    missing = json.dumps({"clientid": "c", "url": "https://a"})
    with pytest.raises(ConfigError, match=r"^AICORE_SERVICE_KEY_A\.clientsecret: missing"):
        parse_config(base(), env={"AICORE_SERVICE_KEY_A": missing})


def test_unmatched_service_key_variable_is_a_notice_with_a_suggestion():
    cfg = parse_config(base(), env={"AICORE_SERVICE_KEY_AA": "{}"})
    assert cfg.notices == (
        "AICORE_SERVICE_KEY_AA is set but names no sub-account (did you mean AICORE_SERVICE_KEY_A?); it is ignored",
    )


def test_two_sub_accounts_sharing_one_variable_is_an_error_only_when_it_is_set():
    doc = copy(base())
    doc["subAccounts"]["a-b"] = doc["subAccounts"]["a"]
    doc["subAccounts"]["a_b"] = doc["subAccounts"].pop("a")
    parse_config(doc)
    with pytest.raises(ConfigError, match="AICORE_SERVICE_KEY_A_B: sub-accounts 'a-b', 'a_b' share"):
        parse_config(doc, env={"AICORE_SERVICE_KEY_A_B": json.dumps(KEY)})


def test_client_keys_from_the_environment_add_to_or_replace_the_file():
    env = {"PROXY_API_KEYS": " k2, ,k1,k3 "}
    assert parse_config(base(), env=env).api_keys == ("k1", "k2", "k3")
    cfg = parse_config(base(secret_authentication_tokens=[]), env=env)
    assert cfg.api_keys == ("k2", "k1", "k3") and not cfg.allow_unauthenticated
    with pytest.raises(ConfigError, match="secret_authentication_tokens: the list is empty.*PROXY_API_KEYS"):
        parse_config(base(secret_authentication_tokens=[]), env={"PROXY_API_KEYS": " , "})


# --- X.509 service keys ---------------------------------------------------------------------

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PRIVATE = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n"
X509 = {
    "clientid": "sb-x!b1|aicore!b540",
    "certificate": CERT,
    "key": PRIVATE,
    "certurl": "https://tenant.authentication.cert.eu10.hana.ondemand.com/",
    "url": "https://tenant.authentication.eu10.hana.ondemand.com",
    "credential-type": "x509",
    "serviceurls": {"AI_API_URL": API},
}


def x509_config(**key):
    doc = copy(base())
    doc["subAccounts"]["a"]["service_key_json"] = {**X509, **key}
    return parse_config(doc)


def test_x509_service_key_is_accepted():
    key = x509_config().sub_accounts[0].service_key
    assert key.clientsecret is None and key.certurl == "https://tenant.authentication.cert.eu10.hana.ondemand.com"
    assert key.client_cert is not None and key.client_cert.certificate == CERT and key.client_cert.key == PRIVATE
    for text in (repr(key), repr(key.client_cert)):
        assert "MIIB" not in text and "MIIE" not in text


def test_x509_pem_with_escaped_newlines_is_unescaped_as_sap_sdk_does():
    key = x509_config(certificate=CERT.replace("\n", "\\n"), key=PRIVATE.replace("\n", "\\n"))
    assert key.sub_accounts[0].service_key.client_cert.certificate == CERT  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": None}, "service_key_json.key: missing or not a PEM private key"),
        ({"certificate": "MIIB"}, "service_key_json.certificate: missing or not a PEM certificate"),
        ({"certurl": None}, "service_key_json.certurl: missing or not an http"),
    ],
)
def test_incomplete_x509_key_names_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        x509_config(**change)


def test_a_key_with_both_a_secret_and_a_certificate_uses_the_secret():
    key = x509_config(clientsecret="s").sub_accounts[0].service_key
    assert key.clientsecret == "s" and key.client_cert is None


# --- proxyctl check-config's report --------------------------------------------------------


def test_check_report_lists_what_only_start_up_can_verify(tmp_path: Path):
    doc = copy(base(model_aliases={"sonnet": "anthropic--claude-4-sonnet"}))
    doc["subAccounts"]["a"]["service_key_json"]["serviceurls"] = {"AI_API_URL": API}
    doc["subAccounts"]["b"] = {"service_key_json": doc["subAccounts"]["a"]["service_key_json"]}
    (tmp_path / "c.json").write_text(json.dumps(doc))
    report = check_config_file(tmp_path / "c.json", {})
    assert report.problems == [] and report.config is not None
    assert report.unverified[0].startswith(
        "model_aliases.sonnet: 'anthropic--claude-4-sonnet' is not a configured model here; it may be discovered"
    )
    assert any("sub-account 'b'" in u and "discovered at start-up" in u for u in report.unverified)
    assert any("sub-account 'a'" in u and "decides its family" in u for u in report.unverified)


def test_sap_sdk_variable_serves_a_single_sub_account_without_a_key_in_the_file():
    sdk = {"AICORE_SERVICE_KEY": json.dumps({**KEY, "clientid": "from-sdk-var"})}
    legacy = {"deployment_models": {"m": ["https://x/d"]}, "secret_authentication_tokens": ["k"]}
    cfg = parse_config(legacy, env=sdk)
    assert cfg.sub_accounts[0].service_key.clientid == "from-sdk-var"
    assert cfg.notices == ("sub-account 'default': the service key comes from AICORE_SERVICE_KEY",)
    assert parse_config(base(), env=sdk).sub_accounts[0].service_key.clientid == "cid"  # the file's key stays
    two = copy(base())
    two["subAccounts"]["b"] = {"deployment_models": {"m": ["https://x/d"]}}
    with pytest.raises(ConfigError, match=r"subAccounts\.b\.service_key_json: required"):
        parse_config(two, env=sdk)
    two["subAccounts"]["b"] = two["subAccounts"]["a"]
    assert parse_config(two, env=sdk).notices == (
        "AICORE_SERVICE_KEY is set but the config has 2 sub-accounts; it is ignored "
        "(give each its own AICORE_SERVICE_KEY_<SUBACCOUNT>)",
    )
