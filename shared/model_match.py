"""Anthropic's own model names resolved to the configured SAP AI Core Claude models.

Claude Code asks for ``claude-sonnet-4-5-20250929``, ``claude-haiku-4-5-20251001`` or
``claude-opus-4-7`` (its defaults, its background tasks, ``/model``), while SAP AI Core
calls the same models ``anthropic--claude-4.5-sonnet`` and so on. With only
``ANTHROPIC_BASE_URL`` and a key set, every such name should reach the configured model
of the same tier and generation — or the nearest newer one, since a newer model serves a
request made for an older one — without a line of configuration. ``model_aliases`` still
win (an alias is a configured name), and ``fallback_models`` decide when no model of the
tier is configured.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared.capabilities import Capabilities, parse_claude_name

__all__ = ["ClaudeMatch", "match_claude_name"]


@dataclass(frozen=True, slots=True)
class ClaudeMatch:
    """The configured model chosen; ``same_tier`` is False when only another tier was left."""

    model: str
    same_tier: bool


def match_claude_name(name: str, configured: Iterable[tuple[str, Capabilities]]) -> ClaudeMatch | None:
    """The configured Claude model for an Anthropic model id, or None if ``name`` is not one.

    Preference: same tier and generation; same tier, nearest newer generation; same tier,
    nearest older; then the same order over the other tiers.
    """
    if not name.lower().startswith("claude"):
        return None
    wanted = parse_claude_name(name)
    if wanted is None:
        return None
    claude = [(model, caps) for model, caps in configured if caps.family == "claude" and len(caps.generation) == 2]
    for same_tier in (True, False):
        pool = [(m, c) for m, c in claude if (c.tier == wanted.tier) == same_tier]
        if not pool:
            continue
        newer = sorted((c.generation, _rank(c.tier), m) for m, c in pool if c.generation >= wanted.version)
        older = sorted((_neg(c.generation), _rank(c.tier), m) for m, c in pool if c.generation < wanted.version)
        best = (newer or older)[0][2]
        return ClaudeMatch(best, same_tier)
    return None


def _rank(tier: str) -> int:
    """Among other tiers, the all-round one first."""
    return _TIER_RANK.get(tier, len(_TIER_RANK))


def _neg(generation: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-v for v in generation)


_TIER_RANK = {"sonnet": 0, "opus": 1, "haiku": 2}
