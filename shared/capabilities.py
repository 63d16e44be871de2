"""What each upstream model accepts, derived from its SAP AI Core model name.

Clients (Claude Code, Codex, the SDKs) send the newest request shape they know, and
they change it every few weeks; model generations behind SAP AI Core differ in what
they accept. Instead of forwarding whatever arrives and letting the upstream refuse
it, the converters ask the :class:`Capabilities` of the target model and translate to
the nearest form it supports (``shared/convert/claude_fit.py``,
``shared/convert/azure_openai.py``, ``shared/convert/gemini_schema.py``).

The profile comes from the model's backend name — ``anthropic--claude-4.5-sonnet``,
``gpt-5``, ``gemini-3-pro`` — parsed into family, generation and tier. Names that cannot
be parsed get a conservative profile (only what every generation of the family accepts)
and a start-up warning (:func:`describe_unknown`). ``model_settings.<name>.capabilities``
overrides any field (:func:`parse_capability_overrides`), so a new generation needs a
config line, not a release.

Every rule cites the public documentation it comes from. The simulator in
``aicore_sim/`` encodes the same services independently, from the same documents, so a
disagreement between the two shows up as a refused call in the tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.errors import ConfigError

__all__ = [
    "ADAPTIVE",
    "BUDGET",
    "Capabilities",
    "ClaudeVersion",
    "EFFORT_ORDER",
    "capabilities_for",
    "chat_params_for",
    "describe_unknown",
    "parse_capability_overrides",
    "parse_claude_name",
]

BUDGET = "budget"  # thinking: {type: enabled, budget_tokens}
ADAPTIVE = "adaptive"  # thinking: {type: adaptive} (+ output_config.effort)
EFFORT_ORDER = ("minimal", "low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the upstream of one model accepts. ``known`` is False for a conservative guess."""

    family: str  # openai | claude | gemini
    known: bool = True
    generation: tuple[int, ...] = ()
    tier: str = ""  # sonnet | opus | haiku | pro | flash | flash-lite | mini | nano | ...
    max_output_tokens: int | None = None  # None: unknown, never capped
    # Claude (Bedrock)
    thinking: frozenset[str] = frozenset()  # BUDGET and/or ADAPTIVE
    thinking_disable: bool = True  # {type: disabled} accepted
    thinking_display: bool = False  # thinking.display (summarized | omitted)
    effort: frozenset[str] = frozenset()  # output_config.effort levels
    effort_beta: str | None = None  # a beta flag the effort parameter needs
    structured_output: bool = False  # output_config.format (json_schema)
    betas: frozenset[str] = frozenset()  # anthropic_beta values Bedrock accepts for this model
    sampling: frozenset[str] = frozenset(("temperature", "top_p", "top_k"))  # sampling parameters accepted
    temperature_xor_top_p: bool = False  # temperature and top_p refused together
    # OpenAI family (Azure OpenAI)
    reasoning: bool = False  # o-series / GPT-5 parameter rules
    reasoning_effort: frozenset[str] = frozenset()
    chat_params: frozenset[str] = frozenset()  # chat.completions body fields the api-version knows
    # Gemini (Vertex AI)
    thinking_config: str | None = None  # "budget" (thinkingBudget) | "level" (thinkingLevel) | None
    thinking_levels: frozenset[str] = frozenset()
    thinking_budget_range: tuple[int, int] | None = None  # inclusive; 0 in range means it can be off
    thought_signatures: bool = False  # functionCall parts must carry their thoughtSignature back

    def nearest_effort(self, wanted: str) -> str | None:
        """The supported effort level closest to ``wanted`` (ties go up), or None without effort."""
        return _nearest(wanted, self.effort)

    def nearest_reasoning_effort(self, wanted: str) -> str | None:
        return _nearest(wanted, self.reasoning_effort)

    def nearest_thinking_level(self, wanted: str) -> str | None:
        return _nearest(wanted, self.thinking_levels)


def _nearest(wanted: str, allowed: frozenset[str]) -> str | None:
    if not allowed:
        return None
    if wanted in allowed:
        return wanted
    if wanted not in EFFORT_ORDER:
        return None
    rank = EFFORT_ORDER.index(wanted)
    ranked = sorted((EFFORT_ORDER.index(a), a) for a in allowed if a in EFFORT_ORDER)
    if not ranked:
        return None
    # Closest rank; on a tie the higher level, so a client asking for "medium" of a model
    # with only low/high gets "high" (more thinking, never a refusal).
    return min(ranked, key=lambda r: (abs(r[0] - rank), -r[0]))[1]


# --------------------------------------------------------------------------- Claude


@dataclass(frozen=True, slots=True)
class ClaudeVersion:
    """A Claude model's generation and tier as parsed from any spelling of its name."""

    version: tuple[int, int]
    tier: str  # sonnet | opus | haiku | fable | mythos | "" (unknown)


_CLAUDE_TIERS = ("sonnet", "opus", "haiku", "fable", "mythos")
_TOKEN = re.compile(r"[a-z]+|\d+")


def parse_claude_name(name: str) -> ClaudeVersion | None:
    """Generation and tier from ``anthropic--claude-4.5-sonnet``, ``claude-sonnet-4-5-20250929``,
    ``claude-3-7-sonnet-20250219``, ``anthropic.claude-opus-4-6-v1``, ``sonnet-4.5``, ``4-sonnet`` ...

    The first one- or two-digit number is the major version and a directly following one
    the minor; eight-digit dates and ``v1`` suffixes are not versions. None when there is
    no version number.
    """
    tokens = _TOKEN.findall(name.lower())
    numbers: list[tuple[int, int]] = []  # (position, value)
    tier = ""
    for pos, tok in enumerate(tokens):
        if tok.isdigit():
            if len(tok) <= 2 and (pos == 0 or tokens[pos - 1] != "v"):
                numbers.append((pos, int(tok)))
        elif tok in _CLAUDE_TIERS and not tier:
            tier = tok
    if not numbers:
        return None
    (pos, major), rest = numbers[0], numbers[1:]
    minor = rest[0][1] if rest and rest[0][0] == pos + 1 else 0
    if not 1 <= major <= 20:
        return None
    return ClaudeVersion((major, minor), tier)


# Maximum output tokens per model, from Anthropic's model overview
# (https://platform.claude.com/docs/en/about-claude/models/overview and each model page,
# e.g. https://platform.claude.com/docs/en/models/opus-4-6/overview: "Max output: 128K").
_CLAUDE_MAX_OUTPUT: dict[tuple[tuple[int, int], str], int] = {
    ((3, 0), "haiku"): 4096,
    ((3, 0), "opus"): 4096,
    ((3, 0), "sonnet"): 4096,
    ((3, 5), "sonnet"): 8192,
    ((3, 5), "haiku"): 8192,
    ((3, 7), "sonnet"): 64000,
    ((4, 0), "sonnet"): 64000,
    ((4, 0), "opus"): 32000,
    ((4, 1), "opus"): 32000,
    ((4, 5), "sonnet"): 64000,
    ((4, 5), "haiku"): 64000,
    ((4, 5), "opus"): 64000,
    ((4, 6), "opus"): 128000,
    ((4, 6), "sonnet"): 64000,
}

# Betas Bedrock accepts in ``anthropic_beta``; anything else is refused with
# "invalid beta flag". Sources: the Bedrock Claude Messages API parameters page
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html),
# and for Opus 4.7 anthropics/claude-code#49370 ("Bedrock Opus 4.7 only accepts
# interleaved-thinking-2025-05-14. All other betas return 400 invalid beta flag").
# fine-grained-tool-streaming, claude-code-20250219, tool-search-tool and other
# Anthropic-API betas are not on Bedrock's list, so they are never forwarded.
_INTERLEAVED = "interleaved-thinking-2025-05-14"
_CONTEXT_1M = "context-1m-2025-08-07"
_CONTEXT_MANAGEMENT = "context-management-2025-06-27"
_EFFORT_BETA = "effort-2025-11-24"


def _claude_betas(v: tuple[int, int], tier: str) -> frozenset[str]:
    if v >= (4, 7):
        return frozenset((_INTERLEAVED,))
    if v == (4, 6):
        return frozenset((_INTERLEAVED, _CONTEXT_1M, _CONTEXT_MANAGEMENT))
    if v == (4, 5):
        betas = {_INTERLEAVED, _CONTEXT_MANAGEMENT}
        if tier == "sonnet":
            betas.add(_CONTEXT_1M)
        if tier == "opus":
            betas.add(_EFFORT_BETA)
        return frozenset(betas)
    if v >= (4, 0):
        betas = {_INTERLEAVED, "computer-use-2025-01-24"}
        if tier == "sonnet":
            betas.add(_CONTEXT_1M)
        return frozenset(betas)
    if v == (3, 7):
        return frozenset(("computer-use-2025-01-24", "token-efficient-tools-2025-02-19", "output-128k-2025-02-19"))
    return frozenset()


def _claude(name: str) -> Capabilities:
    parsed = parse_claude_name(name)
    if parsed is None:
        # Conservative: what every Claude generation on Bedrock accepts — no thinking
        # forms beyond the budget one the client itself chose, no effort, no betas.
        return Capabilities("claude", known=False, thinking=frozenset((BUDGET,)))
    v, tier = parsed.version, parsed.tier
    # Thinking by generation (https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking,
    # https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html):
    # extended (budget) thinking from Claude 3.7; adaptive from 4.6, where budget is deprecated;
    # from Opus 4.7 on adaptive only — "Manual extended thinking (thinking.type: enabled with
    # budget_tokens) and disabled thinking (thinking.type: disabled) are not supported on these
    # models and will return a 400 error".
    if v >= (4, 7):
        thinking, disable = frozenset((ADAPTIVE,)), False
    elif v == (4, 6):
        thinking, disable = frozenset((BUDGET, ADAPTIVE)), True
    elif v >= (3, 7):
        thinking, disable = frozenset((BUDGET,)), True
    else:
        thinking, disable = frozenset(), True
    # Effort (https://platform.claude.com/docs/en/build-with-claude/effort): beta
    # effort-2025-11-24 on Opus 4.5; GA from 4.6 ("max" on 4.6, "xhigh" from 4.7).
    effort: frozenset[str] = frozenset()
    effort_beta = None
    if v >= (4, 7):
        effort = frozenset(("low", "medium", "high", "xhigh", "max"))
    elif v == (4, 6):
        effort = frozenset(("low", "medium", "high", "max"))
    elif v == (4, 5) and tier == "opus":
        effort, effort_beta = frozenset(("low", "medium", "high")), _EFFORT_BETA
    return Capabilities(
        "claude",
        generation=v,
        tier=tier,
        max_output_tokens=_CLAUDE_MAX_OUTPUT.get((v, tier), 128000 if v >= (4, 7) else None),
        thinking=thinking,
        thinking_disable=disable,
        # thinking.display (summarized | omitted) arrived with Opus 4.7, whose default is
        # omitted (https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7).
        thinking_display=v >= (4, 7),
        effort=effort,
        effort_beta=effort_beta,
        # Structured outputs (output_config.format) on Bedrock: "You can use structured outputs with
        # Claude Sonnet 4.5, Claude Haiku 4.5, Claude Opus 4.5 and Claude Opus 4.6"
        # (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-structured-outputs.html);
        # Opus 4.7 refuses output_config.format (coder/coder#25335). Others get the schema as an instruction.
        structured_output=v == (4, 5) or (v == (4, 6) and tier == "opus"),
        betas=_claude_betas(v, tier),
        # Opus 4.7 removed temperature, top_p and top_k ("sending any of them returns a 400",
        # https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7); Claude 4.5 and
        # Opus 4.1 take temperature or top_p, not both (the Bedrock request reference above).
        sampling=frozenset() if v >= (4, 7) else frozenset(("temperature", "top_p", "top_k")),
        temperature_xor_top_p=v >= (4, 5) or (v == (4, 1) and tier == "opus"),
    )


# --------------------------------------------------------------------------- OpenAI family

# Chat Completions request fields by Azure OpenAI api-version, from the inference
# specifications (https://github.com/Azure/azure-rest-api-specs/tree/main/specification/
# cognitiveservices/data-plane/AzureOpenAI/inference, createChatCompletionRequest).
# A field a version does not define is refused: "Unrecognized request argument supplied".
# The GA versions (2024-10-21 and earlier dated versions without "-preview") define this set;
# previews add to it.
_CHAT_BASE = frozenset(
    "messages model temperature top_p n stream stop max_tokens presence_penalty frequency_penalty "
    "logit_bias user logprobs top_logprobs response_format seed tools tool_choice parallel_tool_calls functions "
    "function_call data_sources".split()
)
_CHAT_ADDED: tuple[tuple[str, frozenset[str]], ...] = (
    # "max_completion_tokens added to support o1-preview and o1-mini models" (api-version-deprecation page)
    ("2024-09-01-preview", frozenset(("max_completion_tokens", "stream_options"))),
    ("2024-12-01-preview", frozenset(("reasoning_effort", "store", "metadata"))),
    ("2025-01-01-preview", frozenset(("prediction", "modalities", "audio"))),
    ("2025-04-01-preview", frozenset(("user_security_context",))),
)
# The v1 API (api-version "preview"/"latest", https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle)
# follows OpenAI's own request shape, GPT-5 parameters included.
_CHAT_V1 = frozenset(("verbosity", "prompt_cache_key", "safety_identifier", "service_tier"))
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")


def chat_params_for(api_version: str) -> frozenset[str]:
    """The chat-completions fields an Azure api-version defines; an unknown form counts as the newest dated one."""
    if api_version in ("preview", "latest", "v1"):
        return _CHAT_BASE.union(*(added for _, added in _CHAT_ADDED), _CHAT_V1)
    if not _DATED.match(api_version):
        api_version = _CHAT_ADDED[-1][0]
    known = set(_CHAT_BASE)
    if not api_version.endswith("-preview"):
        return frozenset(known)  # a GA version: the previews' additions are not in it
    for since, added in _CHAT_ADDED:
        if api_version >= since:
            known |= added
    return frozenset(known)


def _openai(name: str, api_version: str) -> Capabilities:
    base = name.rsplit("/", 1)[-1].lower()
    params = chat_params_for(api_version)
    # Reasoning models (https://learn.microsoft.com/azure/ai-foundry/openai/how-to/reasoning):
    # o-series and GPT-5 (not gpt-5-chat), with reasoning_effort and max_completion_tokens.
    reasoning = base.startswith(("o1", "o3", "o4")) or (base.startswith("gpt-5") and "chat" not in base)
    efforts: frozenset[str] = frozenset()
    if reasoning:
        if re.match(r"gpt-5\.\d", base):  # gpt-5.1 and later: none instead of minimal
            efforts = frozenset(("none", "low", "medium", "high"))
        elif base.startswith("gpt-5"):
            efforts = frozenset(("minimal", "low", "medium", "high"))
        else:
            efforts = frozenset(("low", "medium", "high"))
    known = True
    # Output limits from the model pages (https://platform.openai.com/docs/models, e.g.
    # gpt-4o: "16,384 max output tokens"; gpt-4.1: 32,768; o3/o4-mini: 100,000; gpt-5: 128,000).
    if base.startswith("gpt-5"):
        limit: int | None = 128000
    elif base.startswith(("o3", "o4", "o1")):
        limit = 65536 if base.startswith("o1-mini") else 100000
    elif base.startswith("gpt-4.1"):
        limit = 32768
    elif base.startswith("gpt-4o"):
        limit = 16384
    elif base.startswith("gpt-4"):
        limit = 8192
    elif base.startswith(("gpt-35", "gpt-3.5")):
        limit = 4096
    else:
        limit, known = None, "embed" in base  # embedding models have no output to cap
    return Capabilities(
        "openai",
        known=known,
        max_output_tokens=limit,
        reasoning=reasoning,
        reasoning_effort=efforts,
        chat_params=params,
    )


# --------------------------------------------------------------------------- Gemini

_GEMINI = re.compile(r"gemini-(\d+)(?:\.(\d+))?(?:-([a-z]+(?:-lite)?))?")


def _gemini(name: str) -> Capabilities:
    match = _GEMINI.search(name.lower())
    if match is None:
        return Capabilities("gemini", known=False)
    version = (int(match.group(1)), int(match.group(2) or 0))
    tier = match.group(3) or ""
    if version >= (3, 0):
        # Gemini 3 (https://cloud.google.com/vertex-ai/generative-ai/docs/thinking and
        # https://ai.google.dev/gemini-api/docs/thinking): thinkingLevel; Pro knows low and high,
        # Flash also minimal and medium. Thought signatures must come back with function calls
        # (https://ai.google.dev/gemini-api/docs/thought-signatures).
        levels = ("low", "high") if tier == "pro" else ("minimal", "low", "medium", "high")
        return Capabilities(
            "gemini",
            generation=version,
            tier=tier,
            max_output_tokens=65536,
            thinking_config="level",
            thinking_levels=frozenset(levels),
            thought_signatures=True,
        )
    if version >= (2, 5):
        # Gemini 2.5 thinkingBudget ranges (https://ai.google.dev/gemini-api/docs/thinking#set-budget):
        # Pro 128..32768 (cannot be turned off), Flash 0..24576, Flash-Lite 512..24576 or 0.
        budget = {"pro": (128, 32768), "flash": (0, 24576), "flash-lite": (0, 24576)}.get(tier, (128, 24576))
        return Capabilities(
            "gemini",
            generation=version,
            tier=tier,
            max_output_tokens=65536,
            thinking_config="budget",
            thinking_budget_range=budget,
        )
    return Capabilities("gemini", generation=version, tier=tier, max_output_tokens=8192)


# --------------------------------------------------------------------------- lookup and overrides


def capabilities_for(
    backend_model: str, family: str, *, api_version: str = "", overrides: Mapping[str, Any] | None = None
) -> Capabilities:
    """The profile of a model; ``backend_model`` is SAP AI Core's name for it when known."""
    if family == "claude":
        caps = _claude(backend_model)
    elif family == "gemini":
        caps = _gemini(backend_model)
    else:
        caps = _openai(backend_model, api_version)
    return _apply(caps, overrides) if overrides else caps


def describe_unknown(name: str, caps: Capabilities) -> str | None:
    """The start-up warning for a model whose profile is a guess, or None."""
    if caps.known:
        return None
    assumed = _ASSUMED[caps.family]
    return (
        f"model '{name}': its generation could not be read from its name, so the proxy assumes what every "
        f"{caps.family} model accepts ({assumed}; max_tokens not capped); set model_settings.{name}.capabilities "
        "to describe it"
    )


_ASSUMED = {
    "claude": "budget thinking only, no effort, structured output or betas",
    "openai": "no reasoning-model rules",
    "gemini": "no thinking configuration, no thought signatures",
}


# The override keys, their kinds, and the Capabilities field each sets.
_OVERRIDES: dict[str, tuple[str, str]] = {
    "max_output_tokens": ("int", "max_output_tokens"),
    "thinking": ("list", "thinking"),
    "thinking_disable": ("bool", "thinking_disable"),
    "thinking_display": ("bool", "thinking_display"),
    "effort": ("list", "effort"),
    "structured_output": ("bool", "structured_output"),
    "betas": ("list", "betas"),
    "reasoning": ("bool", "reasoning"),
    "reasoning_effort": ("list", "reasoning_effort"),
    "chat_params": ("list", "chat_params"),
    "thinking_config": ("choice", "thinking_config"),
    "thinking_levels": ("list", "thinking_levels"),
    "thought_signatures": ("bool", "thought_signatures"),
}
_CHOICES = {"thinking": (BUDGET, ADAPTIVE), "thinking_config": ("budget", "level", "none")}


def parse_capability_overrides(raw: Any, where: str) -> dict[str, Any]:
    """Validate ``model_settings.<name>.capabilities``; returns the overrides by Capabilities field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be an object (keys: {', '.join(sorted(_OVERRIDES))})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _OVERRIDES:
            raise ConfigError(f"{where}.{key}: unknown capability; known: {', '.join(sorted(_OVERRIDES))}")
        kind, attr = _OVERRIDES[key]
        at = f"{where}.{key}"
        if kind == "int":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{at}: must be a positive integer")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ConfigError(f"{at}: must be true or false")
        elif kind == "list":
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{at}: must be a list of strings")
            allowed = _CHOICES.get(key)
            if allowed and (bad := next((v for v in value if v not in allowed), None)) is not None:
                raise ConfigError(f"{at}: '{bad}' is not one of {', '.join(allowed)}")
            value = frozenset(value)
        elif kind == "choice":
            if value not in _CHOICES[key]:
                raise ConfigError(f"{at}: must be one of {', '.join(_CHOICES[key])}")
            value = None if value == "none" else value
        out[attr] = value
    return out


def _apply(caps: Capabilities, overrides: Mapping[str, Any]) -> Capabilities:
    """Overrides as returned by :func:`parse_capability_overrides`; the profile then counts as known."""
    return replace(caps, known=True, **dict(overrides))
