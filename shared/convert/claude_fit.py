"""Thinking, effort, structured output, betas and max_tokens fitted to one Claude generation.

Claude Code sends ``thinking: {type: adaptive, display: omitted}`` and
``output_config: {effort: high}`` for any model name it does not recognise — SAP names
included — while Claude up to 4.5 knows only budget thinking and Claude from 4.7 only
adaptive thinking (``shared/capabilities.py`` has the table and its sources). This
module translates the client's *intent* — thinking off, a budget, adaptive with an
effort — into the form the target generation accepts, for both routes that reach
Claude: ``/v1/messages`` (``bedrock_sanitize``) and Chat Completions'
``reasoning_effort`` (``claude_common``). What cannot be carried over is dropped and
reported, never forwarded to be refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.adjustments import Adjustments, adapted, dropped
from shared.capabilities import ADAPTIVE, BUDGET, Capabilities
from shared.errors import InvalidRequest

__all__ = [
    "BUDGET_BY_EFFORT",
    "MIN_BUDGET",
    "ClaudeReasoning",
    "ThinkingIntent",
    "effort_for_budget",
    "fit_betas",
    "fit_reasoning",
    "fit_sampling",
    "read_thinking",
]

MIN_BUDGET = 1024  # Anthropic: budget_tokens must be >= 1024
# Effort -> budget where only budget thinking exists; the same steps the chat route has
# always used for reasoning_effort, extended to the levels of newer generations.
BUDGET_BY_EFFORT = {"minimal": 1024, "low": 1024, "medium": 4096, "high": 16384, "xhigh": 24576, "max": 31999}
_EFFORTS = frozenset(BUDGET_BY_EFFORT)
_DISPLAYS = ("summarized", "omitted")


def effort_for_budget(budget: int) -> str:
    """The effort level a client's budget meant, for generations that take effort instead."""
    return "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"


@dataclass(frozen=True, slots=True)
class ThinkingIntent:
    """What the client asked for, independent of the form it used."""

    mode: str | None  # None (not said) | "off" | BUDGET | ADAPTIVE
    budget: int | None = None
    display: str | None = None


def read_thinking(thinking: Any) -> ThinkingIntent:
    """The Anthropic ``thinking`` object as an intent; a malformed one is the client's 400."""
    if thinking is None:
        return ThinkingIntent(None)
    if not isinstance(thinking, dict):
        raise InvalidRequest("thinking: must be an object", param="thinking")
    kind = thinking.get("type")
    display = thinking.get("display")
    if display is not None and display not in _DISPLAYS:
        raise InvalidRequest("thinking.display: must be 'summarized' or 'omitted'", param="thinking.display")
    if kind == "disabled":
        return ThinkingIntent("off")
    if kind == "adaptive":
        return ThinkingIntent(ADAPTIVE, display=display)
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < MIN_BUDGET:
            raise InvalidRequest(
                f"thinking.budget_tokens: must be an integer >= {MIN_BUDGET}", param="thinking.budget_tokens"
            )
        return ThinkingIntent(BUDGET, budget=budget, display=display)
    raise InvalidRequest("thinking.type: must be 'enabled', 'adaptive' or 'disabled'", param="thinking.type")


@dataclass(frozen=True, slots=True)
class ClaudeReasoning:
    """The upstream form: ``thinking`` and ``output_config`` to send (None: leave out)."""

    thinking: dict[str, Any] | None
    output_config: dict[str, Any] | None
    max_tokens: int
    betas: tuple[str, ...] = ()  # betas the chosen form needs (effort on Opus 4.5)

    @property
    def thinks(self) -> bool:
        """Thinking is on: Claude then refuses temperature != 1, top_p, top_k and forced tools."""
        return self.thinking is not None and self.thinking.get("type") in ("enabled", "adaptive")


def fit_reasoning(
    intent: ThinkingIntent,
    effort: Any,
    max_tokens: int,
    caps: Capabilities,
    adjustments: Adjustments | None,
    *,
    answer_room: int = MIN_BUDGET,
    structured: dict[str, Any] | None = None,
) -> ClaudeReasoning:
    """Translate thinking/effort to the nearest form ``caps`` accepts.

    ``effort`` is ``output_config.effort`` (or the chat route's ``reasoning_effort``);
    ``answer_room`` is what ``max_tokens`` grows to beyond a budget that would leave no
    room for the answer; ``structured`` is an ``output_config.format`` the caller wants
    sent natively (it has checked ``caps.structured_output``).
    """
    if effort is not None and effort not in _EFFORTS:
        raise InvalidRequest(
            f"output_config.effort: must be one of {', '.join(BUDGET_BY_EFFORT)}", param="output_config.effort"
        )
    limit = caps.max_output_tokens
    if limit is not None and max_tokens > limit:
        adapted(adjustments, "max_tokens", f"{max_tokens} capped at {limit}, the model's output limit")
        max_tokens = limit
    thinking: dict[str, Any] | None = None
    mode, budget = intent.mode, intent.budget
    if mode in (BUDGET, ADAPTIVE) and not caps.thinking:
        dropped(adjustments, "thinking", "the model has no extended thinking")
        mode = None
    elif mode == BUDGET and BUDGET not in caps.thinking:
        adapted(adjustments, "thinking.type", "enabled -> adaptive (the model refuses budget thinking)")
        mode, effort = ADAPTIVE, effort or effort_for_budget(budget or MIN_BUDGET)
    elif mode == ADAPTIVE and ADAPTIVE not in caps.thinking:
        budget = BUDGET_BY_EFFORT[effort or "high"]
        adapted(adjustments, "thinking.type", f"adaptive -> enabled with budget_tokens {budget} (no adaptive thinking)")
        mode = BUDGET
        if not caps.effort:
            effort = None  # the budget carries it
    if mode == "off":
        if caps.thinking_disable:
            thinking = {"type": "disabled"}
        else:
            dropped(adjustments, "thinking", "the model cannot turn thinking off; left to its default")
    elif mode == BUDGET:
        thinking, max_tokens = _budget(budget or MIN_BUDGET, max_tokens, limit, answer_room, adjustments)
    elif mode == ADAPTIVE:
        thinking = {"type": "adaptive"}
    if thinking is not None and intent.display is not None and thinking["type"] != "disabled":
        if caps.thinking_display:
            thinking["display"] = intent.display
        else:
            dropped(adjustments, "thinking.display", "the model has no display setting")
    output: dict[str, Any] = {}
    betas: tuple[str, ...] = ()
    if effort is not None:
        level = caps.nearest_effort(effort)
        if level is None:
            dropped(adjustments, "output_config.effort", "the model has no effort parameter")
        else:
            if level != effort:
                adapted(adjustments, "output_config.effort", f"{effort} -> {level}")
            output["effort"] = level
            betas = (caps.effort_beta,) if caps.effort_beta else ()
    if structured is not None:
        output["format"] = structured
    return ClaudeReasoning(thinking, output or None, max_tokens, betas)


def _budget(
    budget: int, max_tokens: int, limit: int | None, room: int, adjustments: Adjustments | None
) -> tuple[dict[str, Any] | None, int]:
    """Budget thinking needs ``max_tokens`` above the budget; grow it, within the model's limit."""
    if max_tokens <= budget:
        grown = budget + room
        max_tokens = grown if limit is None else min(grown, limit)
    if budget >= max_tokens:
        budget = max_tokens - room
        adapted(adjustments, "thinking.budget_tokens", f"lowered to {budget} to stay below max_tokens")
    if budget < MIN_BUDGET:
        dropped(adjustments, "thinking", "max_tokens leaves no room for the minimum thinking budget")
        return None, max_tokens
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def fit_betas(values: list[str], caps: Capabilities, adjustments: Adjustments | None) -> list[str]:
    """The client's betas that Bedrock accepts for this model, first mention first."""
    kept = []
    for value in dict.fromkeys(values):
        if value in caps.betas:
            kept.append(value)
        else:
            dropped(adjustments, "anthropic_beta", f"{value} is not offered for this model on Bedrock")
    return kept


def fit_sampling(
    sampling: dict[str, Any], caps: Capabilities, thinks: bool, adjustments: Adjustments | None
) -> dict[str, Any]:
    """``temperature``/``top_p``/``top_k`` (those given) as the generation accepts them.

    With thinking on, Claude takes only ``temperature: 1`` (extended-thinking docs); Opus 4.7
    takes none at all; Claude 4.5 takes temperature or top_p, not both — temperature wins.
    """
    out = {k: v for k, v in sampling.items() if v is not None}
    for key in list(out):
        if key not in caps.sampling:
            del out[key]
            dropped(adjustments, key, "the model takes no sampling parameters")
        elif thinks and not (key == "temperature" and out[key] == 1):
            del out[key]
            dropped(adjustments, key, "not allowed with thinking")
    if caps.temperature_xor_top_p and "temperature" in out and "top_p" in out:
        del out["top_p"]
        dropped(adjustments, "top_p", "the model takes temperature or top_p, not both")
    return out
