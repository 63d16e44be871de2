"""What each Gemini generation accepts on Vertex AI: thinking configuration and thought signatures.

Written from Google's documentation (cited per rule), independently of the proxy. Requests
arrive here already converted to snake_case by :mod:`vertex_schema`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aicore_sim.families.vertex_schema import gemini_error

__all__ = ["GeminiProfile", "check_thinking_config", "check_thought_signatures", "gemini_profile"]

_NAME_RE = re.compile(r"gemini-(\d+)(?:\.(\d+))?-([a-z]+(?:-lite)?)")


@dataclass(frozen=True, slots=True)
class GeminiProfile:
    """The thinking controls of one Gemini generation."""

    generation: tuple[int, int]
    tier: str  # pro | flash | flash-lite
    thinking_levels: tuple[str, ...]  # empty: thinkingLevel unknown to the model
    budget_range: tuple[int, int] | None  # inclusive; None: budgets not range-checked
    budget_zero: bool  # thinkingBudget 0 (thinking off) accepted

    @property
    def signatures_required(self) -> bool:
        """Gemini 3 refuses replayed function calls without their thought signature.

        https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures: "Gemini 3
        models enforce stricter validation on thought signatures ... If a required thought
        signature is not returned when using Gemini 3 models, the model will return a 400 error."
        """
        return self.generation >= (3, 0)


def gemini_profile(model: str) -> GeminiProfile:
    """The profile of a Gemini model name (unparsable names are treated as the newest generation)."""
    match = _NAME_RE.search(model)
    major, minor, tier = (int(match.group(1)), int(match.group(2) or 0), match.group(3)) if match else (3, 0, "pro")
    if (major, minor) >= (3, 0):
        # Thinking levels per model (https://ai.google.dev/gemini-api/docs/thinking#thinking-levels;
        # https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thinking): Gemini 3 Pro takes
        # LOW and HIGH, Gemini 3 Flash MINIMAL, LOW, MEDIUM and HIGH (browser-use/browser-use#3925:
        # "Pro supports low/high ..., Flash supports minimal/low/medium/high").
        levels = ("low", "high") if tier == "pro" else ("minimal", "low", "medium", "high")
        return GeminiProfile((major, minor), tier, levels, None, False)
    # Gemini 2.5 budgets (https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thinking, as
    # quoted in juspay/neurolink#1707): Pro 128-32,768 and "Thinking can't be turned off for Gemini
    # 2.5 Pro"; Flash 1-24,576 with 0 turning thinking off; Flash-Lite 512-24,576, 0 allowed.
    if tier == "pro":
        return GeminiProfile((major, minor), tier, (), (128, 32768), False)
    if tier == "flash-lite":
        return GeminiProfile((major, minor), tier, (), (512, 24576), True)
    return GeminiProfile((major, minor), tier, (), (1, 24576), True)


def check_thinking_config(profile: GeminiProfile, req: dict[str, Any]) -> None:
    """`generation_config.thinking_config` as the generation accepts it."""
    config = (req.get("generation_config") or {}).get("thinking_config")
    if not isinstance(config, dict):
        return
    level, budget = config.get("thinking_level"), config.get("thinking_budget")
    if level is not None and budget is not None:
        # sterlp/eclipse-peon-ai#115: "You can only set only one of thinking budget and thinking level."
        raise gemini_error("You can only set only one of thinking budget and thinking level.")
    if level is not None:
        if not profile.thinking_levels:
            # QwenLM/qwen-code#9094 ("400 thinking_level is not supported by this model"); Vertex
            # docs: "If you use the thinking_level parameter with a model earlier than Gemini 3,
            # the model returns an error."
            raise gemini_error("thinking_level is not supported by this model")
        name = str(level).lower()
        if name not in ("minimal", "low", "medium", "high", "thinking_level_unspecified"):
            raise gemini_error(
                "Invalid value at 'generation_config.thinking_config.thinking_level' (type.googleapis.com/"
                f'google.cloud.aiplatform.v1.GenerationConfig.ThinkingConfig.ThinkingLevel), "{level}"'
            )
        if name != "thinking_level_unspecified" and name not in profile.thinking_levels:
            # A valid enum value the model does not offer (e.g. MINIMAL on Gemini 3 Pro); Google
            # does not publish this refusal's wording (simulator wording).
            raise gemini_error(f"Thinking level {name.upper()} is not supported by this model.")
    if budget is not None and profile.budget_range is not None:
        value = int(budget)
        if value == 0 and not profile.budget_zero:
            # snailyp/gemini-balance#206, docker/docker-agent#2051:
            # "Budget 0 is invalid. This model only works in thinking mode."
            raise gemini_error("Budget 0 is invalid. This model only works in thinking mode.")
        low, high = profile.budget_range
        if value not in (0, -1) and not low <= value <= high:
            # RooCodeInc/Roo-Code#4399: "The thinking budget (52428) is invalid."
            raise gemini_error(f"The thinking budget ({value}) is invalid.")


def _is_standard_user_content(content: dict[str, Any]) -> bool:
    return content.get("role", "user") == "user" and any("function_response" not in p for p in content["parts"])


def check_thought_signatures(profile: GeminiProfile, req: dict[str, Any]) -> None:
    """Gemini 3: the first functionCall part of every step of the current turn carries its signature.

    https://ai.google.dev/gemini-api/docs/thought-signatures: "Strict validation is enforced on
    all function calls within the current turn. (Only the current turn is required; we don't
    validate on previous turns) ... The API goes back in the history (newest to oldest) to find
    the most recent User message that contains standard content (e.g., text) ... The first
    functionCall part in each step of the current turn must include its thought_signature."
    Parallel calls carry the signature on the first call only. The refusal is Vertex's
    (GewoonJaap/gemini-cli-openai#156, Wei-Shaw/claude-relay-service#967); the content block
    number counts from 1.
    """
    if not profile.signatures_required:
        return
    contents = req["contents"]
    start = max((i for i, c in enumerate(contents) if _is_standard_user_content(c)), default=-1)
    for index in range(start + 1, len(contents)):
        content = contents[index]
        if content.get("role", "user") != "model":
            continue
        first = next((p for p in content["parts"] if "function_call" in p), None)
        if first is not None and not first.get("thought_signature"):
            name = (first["function_call"] or {}).get("name", "")
            raise gemini_error(
                f"Unable to submit request because function call `{name}` in the {index + 1}. content block is "
                "missing a `thought_signature`. Learn more: "
                "https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"
            )
