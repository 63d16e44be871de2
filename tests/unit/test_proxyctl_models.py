"""proxyctl models and proxyctl check-config: offline, through the real config parser."""

import json
from pathlib import Path

from proxyctl.__main__ import main
from shared.discovery import DiscoveredDeployment
from shared.transports.discovery_http import load_config_with_discovery

KEY = {"clientid": "c", "clientsecret": "s", "url": "https://a"}


def write(tmp_path: Path, **over) -> Path:
    doc = {
        "subAccounts": {
            "eu": {
                "service_key_json": KEY,
                "deployment_models": {
                    "anthropic--claude-4.5-sonnet": ["https://api/v2/inference/deployments/d1"],
                    "gpt-4o": ["https://api/v2/inference/deployments/d2", "https://api/v2/inference/deployments/d3"],
                },
            },
            "us": {
                "service_key_json": KEY,
                "deployment_models": {
                    "anthropic--claude-4.5-sonnet": ["https://api/v2/inference/deployments/d4"],
                    "gemini-2.5-pro": ["https://api/v2/inference/deployments/d5"],
                },
            },
        },
        "secret_authentication_tokens": ["k"],
        "model_settings": {"anthropic--claude-4.5-sonnet": {"claude_api": "converse"}},
        "discovery": {"cache_dir": str(tmp_path / "cache")},
    }
    doc.update(over)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(doc))
    return path


def test_models_table(tmp_path, capsys):
    path = write(
        tmp_path,
        strip_model_prefixes=["anthropic--"],
        model_aliases={"sonnet-4.5": "anthropic--claude-4.5-sonnet", "g": "gemini-2.5-pro"},
        model_filters={"exclude_filters": ["^g$"]},
    )
    assert main(["models", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["MODEL", "FAMILY", "SOURCE", "API", "SUB-ACCOUNTS", "DEPLOYMENTS", "NOTE"]
    assert rows_of(lines) == [
        ["anthropic--claude-4.5-sonnet", "claude", "name", "converse", "eu,us", "d1,d4", "listed as claude-4.5-sonnet"],
        ["gpt-4o", "openai", "name", "chat api-version 2024-12-01-preview", "eu", "d2,d3"],
        ["gemini-2.5-pro", "gemini", "name", "gemini (gemini-2.5-pro)", "us", "d5"],
        ["sonnet-4.5 → anthropic--claude-4.5-sonnet", "claude", "name", "converse", "eu,us", "d1,d4"],
        ["g → gemini-2.5-pro", "gemini", "name", "gemini (gemini-2.5-pro)", "us", "d5", "filtered"],
    ]


def rows_of(lines):
    rows = [line.split("  ") for line in lines[1:]]
    return [[c.strip() for c in r if c.strip()] for r in rows]


def test_models_shows_families_from_the_cached_listing_and_settings(tmp_path, capsys):
    deployments = {
        "3.7-sonnet": ["https://api/v2/inference/deployments/d1"],
        "my-model": ["https://api/v2/inference/deployments/d2"],
        "forced": ["https://api/v2/inference/deployments/d3"],
    }
    path = write(
        tmp_path,
        subAccounts={"eu": {"service_key_json": KEY, "deployment_models": deployments}},
        model_settings={"forced": {"family": "gemini"}},
    )
    listing = (
        DiscoveredDeployment("d1", "https://api/v2/inference/deployments/d1", "anthropic--claude-3.7-sonnet"),
        DiscoveredDeployment("d2", "https://api/v2/inference/deployments/d2", "gpt-4.1"),
    )
    load_config_with_discovery(path, {}, fetch=lambda sub, t: listing, warn=lambda m: None)  # fills the cache
    assert main(["models", "--config", str(path)]) == 0
    assert rows_of(capsys.readouterr().out.splitlines()) == [
        ["3.7-sonnet", "claude", "listing", "invoke", "eu", "d1"],
        ["my-model", "openai", "listing", "chat api-version 2024-12-01-preview", "eu", "d2"],
        ["forced", "gemini", "settings", "gemini (forced)", "eu", "d3"],
    ]


def test_models_uses_proxy_config_env_and_reports_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PROXY_CONFIG", str(write(tmp_path, model_filters={"include_filters": ["gpt"]})))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "anthropic--claude-4.5-sonnet" in out and "filtered" in out
    monkeypatch.setenv("PROXY_CONFIG", str(tmp_path / "missing.json"))
    assert main(["models"]) != 0
    assert "cannot read config file" in capsys.readouterr().err


def test_check_config_ok(tmp_path, capsys):
    assert main(["check-config", str(write(tmp_path))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "OK: 3 models, 2 sub-accounts"
    assert out[1] == "not verified offline (start-up checks these with SAP AI Core):"
    assert out[2].startswith("  sub-account 'eu' (resource group 'default'): the backend model of each configured")


def test_check_config_reads_secrets_from_the_environment(tmp_path, capsys, monkeypatch):
    path = write(tmp_path, secret_authentication_tokens=[])
    assert main(["check-config", str(path)]) == 1
    capsys.readouterr()
    monkeypatch.setenv("PROXY_API_KEYS", "k1,k2")
    monkeypatch.setenv("AICORE_SERVICE_KEY_EU", json.dumps({**KEY, "clientsecret": "from-env"}))
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: sub-account 'eu': the service key comes from AICORE_SERVICE_KEY_EU" in out
    assert "from-env" not in out


def test_check_config_lists_misspelt_keys_at_every_level_with_suggestions(tmp_path, capsys):
    path = write(tmp_path, acces_log=False, timeouts={"first_bite": 5}, retry={"deadlines": 5})
    doc = json.loads(path.read_text())
    doc["subAccounts"]["eu"]["deployment_model"] = doc["subAccounts"]["eu"].pop("deployment_models")
    doc["model_settings"]["anthropic--claude-4.5-sonnet"]["claude-api"] = "invoke"
    path.write_text(json.dumps(doc))
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("5 problems")
    assert [line.strip() for line in err[1:6]] == [
        "acces_log: unknown key; did you mean 'access_log'?",
        "subAccounts.eu.deployment_model: unknown key; did you mean 'deployment_models'?",
        "model_settings.anthropic--claude-4.5-sonnet.claude-api: unknown key; did you mean 'claude_api'?",
        "timeouts.first_bite: unknown key; did you mean 'first_byte'?",
        "retry.deadlines: unknown key; did you mean 'deadline'?",
    ]


def test_check_config_lists_every_problem(tmp_path, capsys):
    path = write(tmp_path, port=0, model_aliases={"x": "nope"}, model_filters={"include_filters": ["["]})
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("3 problems")
    assert [line.strip().split(":", 1)[0] for line in err[1:4]] == [
        "port",
        "model_filters.include_filters[0]",
        "model_aliases.x",
    ]


def test_check_config_missing_file_and_bad_json(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "nope.json")]) == 1
    assert "cannot read config file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["check-config", str(bad)]) == 1
    assert "not valid JSON" in capsys.readouterr().err
