import pytest

from shared.config import parse_config
from shared.errors import ModelNotFound
from shared.routing import DEFAULT_API_VERSION, Router, family_from_name

KEY = {"clientid": "c", "clientsecret": "s", "url": "https://a"}


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("anthropic--claude-4.5-sonnet", "claude"),
        ("Claude-3-Opus", "claude"),
        ("anthropic--whatever", "claude"),
        ("gemini-2.5-pro", "gemini"),
        ("gpt-4o", "openai"),
        ("sonnet-4.5", "openai"),  # a renamed Claude needs model_settings.family
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
    r = Router(cfg)
    s = r.route("sonnet-4.5")
    assert (s.family, s.claude_api, s.max_tokens) == ("claude", "converse", 8000)
    assert r.route("gpt").api_version == "2023-05-15"
    assert r.route("gem:x").upstream_model == "gem"
    assert r.route("gem:x").api_version == DEFAULT_API_VERSION
    with pytest.raises(ModelNotFound, match="GET /v1/models"):
        r.route("nope")
