"""The rule tables' handling of model names and api-versions they do not list (no server needed)."""

from __future__ import annotations

from aicore_sim.families.claude_rules import claude_profile, known_generation
from aicore_sim.families.gemini_rules import gemini_profile
from aicore_sim.families.openai_rules import allowed_parameters, reasoning_effort_levels


def test_unknown_claude_names_get_the_newest_rules_of_their_tier() -> None:
    # a newer Opus than the table knows is held to Opus 4.7's rules (adaptive only, one beta)
    newer = claude_profile("anthropic--claude-4.8-opus")
    assert newer == claude_profile("anthropic--claude-4.7-opus") and not known_generation("anthropic--claude-4.8-opus")
    assert claude_profile("anthropic--claude-5-sonnet") == claude_profile("anthropic--claude-4.6-sonnet")
    assert claude_profile("anthropic--claude-4-haiku").thinking_types == frozenset()  # 3 Haiku: nothing newer below 4
    assert claude_profile("something-else").thinking_types == frozenset({"adaptive"})


def test_gemini_generations_from_names() -> None:
    assert gemini_profile("gemini-3-pro").thinking_levels == ("low", "high")
    assert gemini_profile("gemini-3.5-flash").thinking_levels == ("minimal", "low", "medium", "high")
    assert gemini_profile("gemini-3.1-flash-lite").signatures_required
    assert not gemini_profile("gemini-2.5-flash").signatures_required
    assert gemini_profile("gemini-2.5-flash-lite").budget_range == (512, 24576)


def test_api_versions_between_and_after_the_known_ones() -> None:
    assert "stream_options" in allowed_parameters("2024-10-01-preview")
    assert "reasoning_effort" not in allowed_parameters("2024-10-01-preview")
    assert "prediction" in allowed_parameters("2025-06-01-preview")
    assert "prediction" in allowed_parameters("preview")
    assert "stream_options" not in allowed_parameters("2024-06-01")
    assert "verbosity" not in allowed_parameters("2025-04-01-preview")


def test_reasoning_effort_by_model_family() -> None:
    assert reasoning_effort_levels("o3") == ("low", "medium", "high")
    assert reasoning_effort_levels("gpt-5-mini") == ("minimal", "low", "medium", "high")
    assert reasoning_effort_levels("gpt-5.1") == ("none", "low", "medium", "high")
    assert reasoning_effort_levels("gpt-5.4-nano") == ("none", "low", "medium", "high", "xhigh")
    assert reasoning_effort_levels("gpt-4.1") is None
