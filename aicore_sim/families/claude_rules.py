"""What each Claude generation accepts on Bedrock (InvokeModel and Converse), per the vendors' docs.

The proxy must translate a client's request into the form the target generation accepts;
this module is the simulator's independent picture of those forms, written from Anthropic's
and AWS's documentation and from public reports of the services' answers (cited next to each
rule). It is deliberately not derived from the proxy's own capability table: a test can only
catch the proxy forwarding something the real service refuses if the two are written apart.

A generation is parsed from the SAP AI Core model name (``anthropic--claude-4.5-sonnet`` ->
version (4, 5), tier ``sonnet``). Names it cannot parse get the newest known profile of their
tier, so a new SAP model is simulated with today's strictest rules rather than waved through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aicore_sim.families.base import Refusal

__all__ = [
    "ClaudeProfile",
    "betas_of",
    "check_anthropic_beta",
    "check_generation_thinking",
    "check_max_tokens",
    "check_output_config",
    "check_sampling",
    "claude_profile",
    "known_generation",
    "max_output",
    "model_error",
]

# Bedrock wraps refusals that come from the model's own validation in this prefix
# (seen for betas in BerriAI/litellm#19877, for `temperature`/`top_p` in
# skydiscover-ai/skydiscover#15, for adaptive thinking in pensarai/apex#887 and for
# `thinking.type.enabled` through Converse in earendil-works/pi#7081).
MODEL_ERROR_PREFIX = "The model returned the following errors: "

# Effort levels per generation: https://platform.claude.com/docs/en/build-with-claude/effort
# ("max ... Available on ... Claude Opus 4.7, Claude Opus 4.6, ... and Claude Sonnet 4.6";
# "xhigh ... Available on ... Claude Opus 4.7"); Opus 4.5 has low/medium/high only, and on
# Bedrock its enum is enforced as such (coder/coder#25356:
# "output_config.effort: Input should be 'low', 'medium' or 'high'").
_EFFORT_45 = ("low", "medium", "high")
_EFFORT_46 = ("low", "medium", "high", "max")
_EFFORT_47 = ("low", "medium", "high", "xhigh", "max")

# Bedrock beta flags, from the `anthropic_beta` list of the Bedrock request reference
# (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages-request-response.html,
# as quoted in BerriAI/litellm#19877 "Supported Beta Flags (per AWS docs)") with the
# generations each note names. Unknown flags are refused with "invalid beta flag".
_BETAS_37 = frozenset(("computer-use-2025-01-24", "token-efficient-tools-2025-02-19", "output-128k-2025-02-19"))
_BETAS_4 = frozenset(
    (
        "computer-use-2025-01-24",
        # Anthropic's Claude 4 migration guide: token-efficient-tools and output-128k "can
        # still be included in Claude 4 requests, but it will have no effect".
        "token-efficient-tools-2025-02-19",
        "output-128k-2025-02-19",
        "interleaved-thinking-2025-05-14",
        "dev-full-thinking-2025-05-14",
        # Claude Code sends claude-code-20250219 to Bedrock on every agentic query and
        # Bedrock accepted it up to Opus 4.6 (anthropics/claude-code#49648: "Opus 4.6
        # (global.anthropic.claude-opus-4-6-v1) accepts claude-code-20250219 on Bedrock").
        "claude-code-20250219",
    )
)
_BETAS_CONTEXT_1M = frozenset(("context-1m-2025-08-07",))  # Sonnet 4 and later Sonnets, Opus 4.6
_BETAS_45 = frozenset(("context-management-2025-06-27",))  # "Claude Sonnet/Haiku 4.5" and later
_BETAS_45_OPUS_SONNET = frozenset(("tool-search-tool-2025-10-19", "tool-examples-2025-10-29"))
_BETAS_OPUS_45 = frozenset(("effort-2025-11-24", "computer-use-2025-11-24"))
# anthropics/claude-code#49370: "Bedrock Opus 4.7 only accepts interleaved-thinking-2025-05-14.
# All other betas return 400 invalid beta flag."
_BETAS_47 = frozenset(("interleaved-thinking-2025-05-14",))


@dataclass(frozen=True, slots=True)
class ClaudeProfile:
    """The request forms one Claude generation accepts on Bedrock."""

    model_id: str  # the Anthropic id Bedrock reports in `model`
    max_output: int
    thinking_types: frozenset[str]  # subset of enabled / adaptive / disabled; empty: no thinking at all
    display: bool  # thinking.display (summarized | omitted) accepted
    effort: tuple[str, ...] = ()  # output_config.effort levels; empty: no effort parameter
    effort_beta: str | None = None  # beta flag that must accompany output_config.effort
    structured_output: bool = False  # output_config.format / Converse outputConfig.textFormat
    betas: frozenset[str] = frozenset()
    sampling_removed: bool = False  # temperature / top_p / top_k refused outright
    temperature_xor_top_p: bool = False  # temperature and top_p refused together
    max_output_with_beta: tuple[str, int] | None = None  # (beta, raised limit)


# Max output tokens: Anthropic's model overview (https://platform.claude.com/docs/en/about-claude/models/overview
# and the per-model pages, e.g. https://platform.claude.com/docs/en/models/opus-4-6/overview
# "Max output: 128K tokens"); Claude 3.5 Sonnet v2 on Bedrock: 8192 (BerriAI/litellm#6666).
# Thinking forms: https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-adaptive-thinking.html
# ("Older models (Claude Sonnet 4.5, Claude Opus 4.5, etc.) do not support adaptive thinking and
# require thinking.type: "enabled""; "thinking.type: "enabled" and budget_tokens are deprecated on
# Claude Opus 4.6 and Claude Sonnet 4.6"; "Claude Opus 4.7 ... only support adaptive thinking.
# Manual extended thinking ... and disabled thinking (thinking.type: "disabled") are not
# supported on these models and will return a 400 error").
# thinking.display: a field of both thinking configs since the Claude 4 generation
# (anthropic-sdk-python src/anthropic/types/thinking_config_enabled_param.py, "GA
# thinking-display-setting"; https://modelparams.dev/parameters/thinking-display lists it for
# Claude 4 and later only).
# Structured output on Bedrock: "You can use structured outputs with Claude Sonnet 4.5, Claude
# Haiku 4.5, Claude Opus 4.5, and Claude Opus 4.6"
# (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-structured-outputs.html);
# Opus 4.7 refuses output_config.format (coder/coder#25335).
# temperature + top_p: "Claude Sonnet 4.5 and Claude Haiku 4.5 support specifying either the
# temperature or top_p parameter, but not both" (Bedrock request reference above); the same
# refusal is reported for Opus 4.1 (aws-samples/bedrock-chat#979) and Sonnet 4.6
# (skydiscover-ai/skydiscover#15). Opus 4.7 removed sampling parameters: "sending any of them
# returns 400" (anthropics/skills skills/claude-api/shared/error-codes.md, as quoted in
# openshift/lightspeed-service#3036; https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7).
_NO_THINKING: frozenset[str] = frozenset()
_BUDGET = frozenset(("enabled", "disabled"))
_BUDGET_AND_ADAPTIVE = frozenset(("enabled", "adaptive", "disabled"))
_ADAPTIVE_ONLY = frozenset(("adaptive",))

_PROFILES: dict[tuple[int, int, str], ClaudeProfile] = {
    (3, 0, "haiku"): ClaudeProfile("claude-3-haiku-20240307", 4096, _NO_THINKING, False),
    (3, 5, "sonnet"): ClaudeProfile(
        "claude-3-5-sonnet-20241022", 8192, _NO_THINKING, False, betas=frozenset(("computer-use-2024-10-22",))
    ),
    (3, 7, "sonnet"): ClaudeProfile(
        "claude-3-7-sonnet-20250219",
        64000,
        _BUDGET,
        False,
        betas=_BETAS_37,
        # "output-128k-2025-02-19 ... 128K output tokens (Claude 3.7 Sonnet)"
        max_output_with_beta=("output-128k-2025-02-19", 128000),
    ),
    (4, 0, "sonnet"): ClaudeProfile(
        "claude-sonnet-4-20250514", 64000, _BUDGET, True, betas=_BETAS_4 | _BETAS_CONTEXT_1M
    ),
    (4, 0, "opus"): ClaudeProfile("claude-opus-4-20250514", 32000, _BUDGET, True, betas=_BETAS_4),
    (4, 1, "opus"): ClaudeProfile(
        "claude-opus-4-1-20250805", 32000, _BUDGET, True, betas=_BETAS_4, temperature_xor_top_p=True
    ),
    (4, 5, "sonnet"): ClaudeProfile(
        "claude-sonnet-4-5-20250929",
        64000,
        _BUDGET,
        True,
        structured_output=True,
        betas=_BETAS_4 | _BETAS_CONTEXT_1M | _BETAS_45 | _BETAS_45_OPUS_SONNET,
        temperature_xor_top_p=True,
    ),
    (4, 5, "haiku"): ClaudeProfile(
        "claude-haiku-4-5-20251001",
        64000,
        _BUDGET,
        True,
        structured_output=True,
        betas=_BETAS_4 | _BETAS_45,
        temperature_xor_top_p=True,
    ),
    (4, 5, "opus"): ClaudeProfile(
        "claude-opus-4-5-20251101",
        64000,
        _BUDGET,
        True,
        effort=_EFFORT_45,
        # coder/coder#25356: Opus 4.5's output_config.effort is "gated by the
        # effort-2025-11-24 Anthropic-Beta flag" on Bedrock.
        effort_beta="effort-2025-11-24",
        structured_output=True,
        betas=_BETAS_4 | _BETAS_45 | _BETAS_45_OPUS_SONNET | _BETAS_OPUS_45,
        temperature_xor_top_p=True,
    ),
    (4, 6, "sonnet"): ClaudeProfile(
        "claude-sonnet-4-6",
        128000,
        _BUDGET_AND_ADAPTIVE,
        True,
        effort=_EFFORT_46,
        betas=_BETAS_4 | _BETAS_CONTEXT_1M | _BETAS_45 | _BETAS_45_OPUS_SONNET,
        temperature_xor_top_p=True,
    ),
    (4, 6, "opus"): ClaudeProfile(
        "claude-opus-4-6",
        128000,
        _BUDGET_AND_ADAPTIVE,
        True,
        effort=_EFFORT_46,
        structured_output=True,
        betas=_BETAS_4 | _BETAS_CONTEXT_1M | _BETAS_45 | _BETAS_45_OPUS_SONNET | _BETAS_OPUS_45,
        temperature_xor_top_p=True,
    ),
    (4, 7, "opus"): ClaudeProfile(
        "claude-opus-4-7",
        # https://docs.aws.amazon.com/bedrock/latest/userguide/model-card-anthropic-claude-opus-4-7.html
        # "Max output tokens: 128K"
        128000,
        _ADAPTIVE_ONLY,
        True,
        effort=_EFFORT_47,
        betas=_BETAS_47,
        sampling_removed=True,
    ),
}
_NAME_RE = re.compile(r"claude-(\d+)(?:\.(\d+))?-([a-z]+)")


def _parse(model: str) -> tuple[int, int, str] | None:
    match = _NAME_RE.search(model)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0), match.group(3)


def claude_profile(model: str) -> ClaudeProfile:
    """The profile of an AI Core Claude model name.

    Unknown versions fall back to the newest profile of the same tier that is not newer
    than the name (then to the newest of any tier): a simulated future model is held to
    today's rules, which is what a proxy must survive.
    """
    key = _parse(model)
    if key is not None and key in _PROFILES:
        return _PROFILES[key]
    candidates = sorted(_PROFILES)
    if key is not None:
        same_tier = [k for k in candidates if k[2] == key[2] and k[:2] <= key[:2]]
        if same_tier:
            return _PROFILES[same_tier[-1]]
    return _PROFILES[candidates[-1]]


def model_error(message: str) -> Refusal:
    """A refusal the model itself raised, in Bedrock's wrapping."""
    return Refusal(400, {"message": MODEL_ERROR_PREFIX + message})


def _bare(message: str) -> Refusal:
    return Refusal(400, {"message": message})


def _extraneous(key: str) -> Refusal:
    return _bare(
        f"Malformed input request: #: extraneous key [{key}] is not permitted, "
        "please reformat your input and try again."
    )


def betas_of(value: Any) -> list[str]:
    """The beta flags of an `anthropic_beta` value (a list of strings)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(b, str) for b in value):
        raise _bare(
            "Malformed input request: #/anthropic_beta: expected type: JSONArray of strings, please reformat "
            "your input and try again."
        )
    return list(value)


def check_anthropic_beta(profile: ClaudeProfile, value: Any) -> list[str]:
    """Refuse beta flags the generation does not know; returns the flags."""
    betas = betas_of(value)
    for beta in betas:
        if beta not in profile.betas:
            # BerriAI/litellm#19877: "The model returned the following errors: invalid beta flag"
            raise model_error("invalid beta flag")
    return betas


def max_output(profile: ClaudeProfile, betas: list[str]) -> int:
    if profile.max_output_with_beta is not None and profile.max_output_with_beta[0] in betas:
        return profile.max_output_with_beta[1]
    return profile.max_output


def check_max_tokens(profile: ClaudeProfile, max_tokens: int, betas: list[str]) -> None:
    """A max_tokens above the generation's output limit is refused, as Bedrock words it."""
    limit = max_output(profile, betas)
    if max_tokens > limit:
        # sigoden/aichat#813 and RooCodeInc/Roo-Code#248 (Bedrock):
        # "The maximum tokens you requested exceeds the model limit of 4096. Try again with a
        # maximum tokens value that is lower than 4096."
        raise _bare(
            f"The maximum tokens you requested exceeds the model limit of {limit}. "
            f"Try again with a maximum tokens value that is lower than {limit}."
        )


def check_generation_thinking(profile: ClaudeProfile, thinking: Any) -> None:
    """The thinking forms a generation accepts (the budget rules live in `check_thinking`)."""
    if thinking is None:
        return
    if not profile.thinking_types:
        # Claude 3 Haiku / 3.5 Sonnet have no extended thinking: the field is not in their schema.
        raise _extraneous("thinking")
    if not isinstance(thinking, dict):
        return  # `check_thinking` refuses the shape
    kind = thinking.get("type")
    if kind == "adaptive" and "adaptive" not in profile.thinking_types:
        # pensarai/apex#887 (Bedrock, Claude Haiku 4.5):
        # "The model returned the following errors: adaptive thinking is not supported on this model"
        raise model_error("adaptive thinking is not supported on this model")
    if kind in ("enabled", "disabled") and kind not in profile.thinking_types:
        # coder/aibridge#280, earendil-works/pi#7081 (Bedrock, Opus 4.7). The AWS adaptive-thinking
        # page refuses `disabled` in the same sentence; its exact text is not published, so the
        # simulator words it like the `enabled` refusal.
        raise model_error(
            f'"thinking.type.{kind}" is not supported for this model. Use "thinking.type.adaptive" and '
            '"output_config.effort" to control thinking behavior.'
        )
    if kind == "adaptive":
        extra = next((k for k in thinking if k not in ("type", "display")), None)
        if extra is not None:
            raise _bare(f"thinking.adaptive.{extra}: Extra inputs are not permitted")
    if "display" in thinking:
        if not profile.display:
            raise _bare(f"thinking.{kind}.display: Extra inputs are not permitted")
        if thinking["display"] not in ("summarized", "omitted", None):
            raise _bare(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'")


def _levels(levels: tuple[str, ...]) -> str:
    quoted = [f"'{level}'" for level in levels]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}"


def check_output_config(profile: ClaudeProfile, config: Any, betas: list[str]) -> None:
    """`output_config` (effort, format) where the generation has them."""
    if config is None:
        return
    if not profile.effort and not profile.structured_output:
        # Claude 3.x / 4 / 4.1 on InvokeModel: output_config is not in the schema (coder/coder#25335
        # strips it from every request to models that lack it).
        raise _extraneous("output_config")
    if not isinstance(config, dict):
        raise _bare("output_config: Input should be a valid dictionary")
    for key in config:
        if key not in ("effort", "format"):
            raise _bare(f"output_config.{key}: Extra inputs are not permitted")
    if "effort" in config:
        if not profile.effort or (profile.effort_beta is not None and profile.effort_beta not in betas):
            raise _bare("output_config.effort: Extra inputs are not permitted")
        if config["effort"] not in profile.effort:
            # coder/coder#25356: "output_config.effort: Input should be 'low', 'medium' or 'high'"
            raise _bare(f"output_config.effort: Input should be {_levels(profile.effort)}")
    if "format" in config:
        if not profile.structured_output:
            # coder/coder#25335: Opus 4.7 "rejects output_config.format (structured outputs) with
            # the same "Extra inputs are not permitted" 400"
            raise _bare("output_config.format: Extra inputs are not permitted")
        fmt = config["format"]
        # https://platform.claude.com/docs/en/build-with-claude/structured-outputs:
        # {"type": "json_schema", "schema": {...}}
        if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
            raise _bare("output_config.format: expected {type: 'json_schema', schema: {...}}")


def check_sampling(profile: ClaudeProfile, params: dict[str, Any], names: dict[str, str]) -> None:
    """Sampling parameters a generation refuses; `names` maps temperature/top_p/top_k to the wire names."""
    present = {key for key in ("temperature", "top_p", "top_k") if params.get(key) is not None}
    if profile.sampling_removed and present:
        first = next(k for k in ("temperature", "top_p", "top_k") if k in present)
        # tinovyatkin/amazon-bedrock-copilot-chat#546 (Bedrock, Opus 4.7):
        # "temperature is deprecated for this model."
        raise model_error(f"{names[first]} is deprecated for this model.")
    if profile.temperature_xor_top_p and {"temperature", "top_p"} <= present:
        # BerriAI/litellm#15097, skydiscover-ai/skydiscover#15:
        # "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        raise model_error("`temperature` and `top_p` cannot both be specified for this model. Please use only one.")


def known_generation(model: str) -> bool:
    """Whether the model name parses to a generation this module has a profile for."""
    return _parse(model) in _PROFILES
