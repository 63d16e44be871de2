"""The capability table: names parsed into generations, and each rule the converters rely on."""

from __future__ import annotations

from typing import Any

import pytest

from shared.capabilities import (
    ADAPTIVE,
    BUDGET,
    capabilities_for,
    chat_params_for,
    describe_unknown,
    parse_capability_overrides,
    parse_claude_name,
)
from shared.errors import ConfigError
from shared.model_match import match_claude_name


@pytest.mark.parametrize(
    ("name", "version", "tier"),
    [
        ("anthropic--claude-4.5-sonnet", (4, 5), "sonnet"),
        ("anthropic--claude-3.7-sonnet", (3, 7), "sonnet"),
        ("anthropic--claude-3-haiku", (3, 0), "haiku"),
        ("anthropic--claude-4.7-opus", (4, 7), "opus"),
        ("claude-sonnet-4-5-20250929", (4, 5), "sonnet"),
        ("claude-haiku-4-5-20251001", (4, 5), "haiku"),
        ("claude-3-7-sonnet-20250219", (3, 7), "sonnet"),
        ("claude-sonnet-4-20250514", (4, 0), "sonnet"),
        ("claude-opus-4-7", (4, 7), "opus"),
        ("claude-opus-4-7[1m]", (4, 7), "opus"),
        ("anthropic.claude-opus-4-6-v1", (4, 6), "opus"),
        # the original proxies' config names
        ("3.7-sonnet", (3, 7), "sonnet"),
        ("4-sonnet", (4, 0), "sonnet"),
        ("sonnet-4.5", (4, 5), "sonnet"),
    ],
)
def test_claude_names_parse_into_generation_and_tier(name: str, version: tuple[int, int], tier: str) -> None:
    parsed = parse_claude_name(name)
    assert parsed is not None and parsed.version == version and parsed.tier == tier


@pytest.mark.parametrize("name", ["my-claude", "claude", "anthropic--claude-latest"])
def test_unparsable_claude_names_get_a_conservative_profile_and_a_warning(name: str) -> None:
    caps = capabilities_for(name, "claude")
    assert not caps.known
    assert caps.thinking == {BUDGET} and not caps.effort and not caps.betas and caps.max_output_tokens is None
    warning = describe_unknown(name, caps)
    assert warning is not None and name in warning and "model_settings" in warning


@pytest.mark.parametrize(
    ("model", "forms", "can_disable", "display", "effort"),
    [
        ("anthropic--claude-3.5-sonnet", set(), True, False, set()),
        ("anthropic--claude-3.7-sonnet", {BUDGET}, True, False, set()),
        ("anthropic--claude-4-sonnet", {BUDGET}, True, False, set()),
        ("anthropic--claude-4.5-sonnet", {BUDGET}, True, False, set()),
        ("anthropic--claude-4.5-opus", {BUDGET}, True, False, {"low", "medium", "high"}),
        ("anthropic--claude-4.6-opus", {BUDGET, ADAPTIVE}, True, False, {"low", "medium", "high", "max"}),
        ("anthropic--claude-4.6-sonnet", {BUDGET, ADAPTIVE}, True, False, {"low", "medium", "high", "max"}),
        ("anthropic--claude-4.7-opus", {ADAPTIVE}, False, True, {"low", "medium", "high", "xhigh", "max"}),
        ("anthropic--claude-5-opus", {ADAPTIVE}, False, True, {"low", "medium", "high", "xhigh", "max"}),
    ],
)
def test_claude_thinking_by_generation(
    model: str, forms: set[str], can_disable: bool, display: bool, effort: set[str]
) -> None:
    caps = capabilities_for(model, "claude")
    assert caps.known
    assert caps.thinking == forms
    assert caps.thinking_disable is can_disable
    assert caps.thinking_display is display
    assert caps.effort == effort


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("anthropic--claude-3-haiku", 4096),
        ("anthropic--claude-3.5-sonnet", 8192),
        ("anthropic--claude-3.7-sonnet", 64000),
        ("anthropic--claude-4-opus", 32000),
        ("anthropic--claude-4.5-haiku", 64000),
        ("anthropic--claude-4.6-opus", 128000),
        ("anthropic--claude-4.7-opus", 128000),
    ],
)
def test_claude_output_limits(model: str, limit: int) -> None:
    assert capabilities_for(model, "claude").max_output_tokens == limit


def test_bedrock_betas_per_generation() -> None:
    assert capabilities_for("anthropic--claude-4.7-opus", "claude").betas == {"interleaved-thinking-2025-05-14"}
    assert (
        "fine-grained-tool-streaming-2025-05-14" not in capabilities_for("anthropic--claude-4-sonnet", "claude").betas
    )
    assert "effort-2025-11-24" in capabilities_for("anthropic--claude-4.5-opus", "claude").betas
    assert "context-1m-2025-08-07" in capabilities_for("anthropic--claude-4.5-sonnet", "claude").betas
    assert capabilities_for("anthropic--claude-3.5-sonnet", "claude").betas == frozenset()


@pytest.mark.parametrize(
    ("api_version", "present", "absent"),
    [
        # the GA line: none of the previews' additions
        ("2024-10-21", {"tools", "seed"}, {"max_completion_tokens", "stream_options", "reasoning_effort", "store"}),
        ("2024-09-01-preview", {"max_completion_tokens", "stream_options"}, {"reasoning_effort"}),
        ("2024-12-01-preview", {"reasoning_effort", "store", "metadata"}, {"prediction", "verbosity"}),
        ("2025-01-01-preview", {"prediction", "modalities", "audio"}, {"user_security_context", "verbosity"}),
        ("2025-04-01-preview", {"user_security_context"}, {"verbosity", "prompt_cache_key", "safety_identifier"}),
        ("preview", {"verbosity", "prompt_cache_key", "safety_identifier"}, set()),
    ],
)
def test_openai_chat_params_per_api_version(api_version: str, present: set[str], absent: set[str]) -> None:
    params = chat_params_for(api_version)
    assert present <= params
    assert not absent & params


@pytest.mark.parametrize(
    ("model", "reasoning", "efforts", "limit"),
    [
        ("gpt-4o", False, set(), 16384),
        ("gpt-4.1", False, set(), 32768),
        ("o3", True, {"low", "medium", "high"}, 100000),
        ("gpt-5", True, {"minimal", "low", "medium", "high"}, 128000),
        ("gpt-5.1", True, {"none", "low", "medium", "high"}, 128000),
        ("gpt-5-chat", False, set(), 128000),
    ],
)
def test_openai_reasoning_rules(model: str, reasoning: bool, efforts: set[str], limit: int) -> None:
    caps = capabilities_for(model, "openai", api_version="2024-12-01-preview")
    assert caps.reasoning is reasoning and caps.reasoning_effort == efforts and caps.max_output_tokens == limit


def test_gemini_thinking_by_generation() -> None:
    pro25 = capabilities_for("gemini-2.5-pro", "gemini")
    assert pro25.thinking_config == "budget" and pro25.thinking_budget_range == (128, 32768)
    assert not pro25.thought_signatures
    flash25 = capabilities_for("gemini-2.5-flash", "gemini")
    assert flash25.thinking_budget_range == (0, 24576)
    pro3 = capabilities_for("gemini-3-pro", "gemini")
    assert pro3.thinking_config == "level" and pro3.thinking_levels == {"low", "high"} and pro3.thought_signatures
    assert pro3.nearest_thinking_level("medium") == "high" and pro3.nearest_thinking_level("minimal") == "low"


def test_overrides_replace_fields_and_make_the_profile_known() -> None:
    raw: dict[str, Any] = {"thinking": ["adaptive"], "max_output_tokens": 1000, "betas": [], "thinking_display": True}
    overrides = parse_capability_overrides(raw, "model_settings.x.capabilities")
    caps = capabilities_for("my-claude", "claude", overrides=overrides)
    assert caps.known and caps.thinking == {ADAPTIVE} and caps.max_output_tokens == 1000 and caps.thinking_display


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ([], "must be an object"),
        ({"thinkin": ["budget"]}, "unknown capability"),
        ({"thinking": ["sometimes"]}, "'sometimes' is not one of"),
        ({"max_output_tokens": 0}, "positive integer"),
        ({"thinking_display": "yes"}, "true or false"),
        ({"thinking_config": "dial"}, "must be one of"),
    ],
)
def test_bad_overrides_name_the_field(raw: Any, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_capability_overrides(raw, "model_settings.m.capabilities")
    assert "model_settings.m.capabilities" in str(info.value) and needle in str(info.value)


CONFIGURED = [
    (name, capabilities_for(name, "claude"))
    for name in (
        "anthropic--claude-4-sonnet",
        "anthropic--claude-4.5-sonnet",
        "anthropic--claude-4.5-haiku",
        "anthropic--claude-4.7-opus",
    )
] + [("gpt-4o", capabilities_for("gpt-4o", "openai"))]


@pytest.mark.parametrize(
    ("asked", "chosen", "same_tier"),
    [
        ("claude-sonnet-4-5-20250929", "anthropic--claude-4.5-sonnet", True),  # same tier and generation
        ("claude-haiku-4-5-20251001", "anthropic--claude-4.5-haiku", True),
        ("claude-sonnet-4-20250514", "anthropic--claude-4-sonnet", True),
        ("claude-3-7-sonnet-20250219", "anthropic--claude-4-sonnet", True),  # nearest newer of the tier
        ("claude-sonnet-4-6", "anthropic--claude-4.5-sonnet", True),  # none newer: nearest older
        ("claude-opus-4-5", "anthropic--claude-4.7-opus", True),
        ("claude-opus-4-7", "anthropic--claude-4.7-opus", True),
        ("claude-fable-5", "anthropic--claude-4.7-opus", False),  # no such tier: nearest of the others
    ],
)
def test_claude_code_names_resolve_by_tier_and_generation(asked: str, chosen: str, same_tier: bool) -> None:
    match = match_claude_name(asked, CONFIGURED)
    assert match is not None and match.model == chosen and match.same_tier is same_tier


@pytest.mark.parametrize("asked", ["gpt-4o-mini", "sonnet-4.5", "claude", "anthropic--claude-9-sonnet"])
def test_only_anthropic_model_ids_are_matched(asked: str) -> None:
    assert match_claude_name(asked, CONFIGURED) is None


def test_router_warns_once_per_model_whose_profile_is_a_guess() -> None:
    from shared.catalog import ModelCatalog
    from shared.config import parse_config

    url = "https://api.ai.example/v2/inference/deployments/d1"
    key = {"clientid": "c", "clientsecret": "s", "url": "https://auth.example"}
    doc = {
        "subAccounts": {
            "a": {
                "service_key_json": key,
                "deployment_models": {"my-claude": [url], "gpt-4o": [url], "house-model": [url]},
            }
        },
        "secret_authentication_tokens": ["k"],
        "model_settings": {"my-claude": {"family": "claude"}, "house-model": {"capabilities": {"reasoning": True}}},
    }
    warnings = ModelCatalog(parse_config(doc)).capability_warnings()
    assert (
        len(warnings) == 1 and "'my-claude'" in warnings[0] and "model_settings.my-claude.capabilities" in warnings[0]
    )
