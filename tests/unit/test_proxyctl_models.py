"""proxyctl models and proxyctl check-config: offline, through the real config parser."""

import json
from pathlib import Path

from proxyctl.__main__ import main

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
    assert lines[0].split() == ["MODEL", "FAMILY", "API", "SUB-ACCOUNTS", "DEPLOYMENTS", "NOTE"]
    rows = [line.split("  ") for line in lines[1:]]
    rows = [[c.strip() for c in r if c.strip()] for r in rows]
    assert rows == [
        ["anthropic--claude-4.5-sonnet", "claude", "converse", "eu,us", "d1,d4", "listed as claude-4.5-sonnet"],
        ["gpt-4o", "openai", "chat api-version 2024-12-01-preview", "eu", "d2,d3"],
        ["gemini-2.5-pro", "gemini", "gemini (gemini-2.5-pro)", "us", "d5"],
        ["sonnet-4.5 → anthropic--claude-4.5-sonnet", "claude", "converse", "eu,us", "d1,d4"],
        ["g → gemini-2.5-pro", "gemini", "gemini (gemini-2.5-pro)", "us", "d5", "filtered"],
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
    assert capsys.readouterr().out.strip() == "OK: 3 models, 2 sub-accounts"


def test_check_config_lists_every_problem(tmp_path, capsys):
    path = write(tmp_path, port=0, model_aliases={"x": "nope"}, model_filters={"include_filters": ["["]})
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].endswith("3 problems")
    assert [line.strip().split(":", 1)[0] for line in err[1:]] == [
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
