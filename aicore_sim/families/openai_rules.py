"""What Azure OpenAI chat completions accept per `api-version` and per model, from the REST specs.

Azure validates the body against the schema of the requested `api-version`: an argument
the version does not define is refused with "Unrecognized request argument supplied: <name>",
even when a newer version (or OpenAI's own API) knows it. The parameter sets below are the
`createChatCompletionRequest` + `chatCompletionsRequestCommon` properties of
Azure/azure-rest-api-specs, specification/cognitiveservices/data-plane/AzureOpenAI/inference/
(stable/<v>/inference.json, preview/<v>/inference.json|yaml). Model rules (reasoning effort
values, output limits) come from the vendors' model documentation, cited per entry.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

__all__ = [
    "allowed_parameters",
    "api_version_of",
    "max_output_tokens",
    "reasoning_effort_levels",
]

# stable/2024-10-21/inference.json (and the GA versions before it): no stream_options, no
# max_completion_tokens, no reasoning_effort.
_GA = frozenset(
    "messages data_sources frequency_penalty logit_bias logprobs top_logprobs max_tokens n presence_penalty "
    "parallel_tool_calls response_format seed stop stream temperature top_p tools tool_choice function_call "
    "functions user".split()
)
# "Changes between 2024-09-01-preview and 2024-08-01-preview: max_completion_tokens added to
# support o1-preview and o1-mini models" (learn.microsoft.com/azure/ai-services/openai/api-version-deprecation);
# stream_options is in the request schema from the same preview on.
_PREVIEW_2024_09 = _GA | {"stream_options", "max_completion_tokens"}
# preview/2024-12-01-preview/inference.json: chatCompletionsRequestCommon gains store and
# metadata; the request gains reasoning_effort (enum low/medium/high) and user_security_context.
_PREVIEW_2024_12 = _PREVIEW_2024_09 | {"store", "metadata", "reasoning_effort", "user_security_context"}
# preview/2025-01-01-preview adds audio, modalities and prediction (Azure/azure-sdk-for-go
# sdk/ai/azopenai 0.7.2 "Updating to support Azure OpenAI API version 2025-01-01-preview ... Added
# Audio / Modalities / Prediction parameter"); preview/2025-03-01-preview/inference.json and
# preview/2025-04-01-preview/inference.yaml have the same request properties. No dated
# api-version defines verbosity, prompt_cache_key, safety_identifier, service_tier or
# web_search_options.
_PREVIEW_2025_01 = _PREVIEW_2024_12 | {"audio", "modalities", "prediction"}

# `model` is not in any version's schema, but Azure ignores it: the OpenAI SDK's AzureOpenAI
# client always sends it in the body.
_ALWAYS = frozenset(("model",))

_PREVIEWS: list[tuple[str, frozenset[str]]] = [
    ("2024-09-01", _PREVIEW_2024_09),
    ("2024-12-01", _PREVIEW_2024_12),
    ("2025-01-01", _PREVIEW_2025_01),
]
_DATE_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(-preview)?$")


def api_version_of(query_string: str) -> str:
    """The `api-version` query parameter ('' when absent)."""
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        if key == "api-version":
            return value
    return ""


def allowed_parameters(api_version: str) -> frozenset[str]:
    """Top-level request arguments the given `api-version` defines.

    Preview versions take the set of the newest known preview not after them; GA versions
    the GA set. A version that is not a date (`preview`, `latest`, the v1 API's spellings)
    gets the newest set.
    """
    match = _DATE_RE.match(api_version)
    if match is None:
        return _ALWAYS | _PREVIEWS[-1][1]
    date, preview = match.group(1), match.group(2)
    if not preview:
        return _ALWAYS | _GA
    chosen = _GA
    for start, params in _PREVIEWS:
        if date >= start:
            chosen = params
    return _ALWAYS | chosen


# Reasoning effort values per model family (OpenAI's reasoning guide and model pages;
# Azure: https://learn.microsoft.com/azure/ai-foundry/openai/how-to/reasoning):
# o-series: low/medium/high; gpt-5, gpt-5-mini, gpt-5-nano add "minimal"; gpt-5.1 replaced
# "minimal" by "none"; gpt-5.2 and later add "xhigh" ("gpt-5.2 の最小reasoning effort はnoneですが、
# gpt-5-nano/mini の最小はminimal です(gpt-5.2はminimal非対応)", qiita.com/FukuharaYohei/items/8143f4d51fc30624c39f,
# measured on Azure).
_EFFORT_O = ("low", "medium", "high")
_EFFORT_GPT5 = ("minimal", "low", "medium", "high")
_EFFORT_GPT51 = ("none", "low", "medium", "high")
_EFFORT_GPT52 = ("none", "low", "medium", "high", "xhigh")
_GPT5_MINOR = re.compile(r"^gpt-5\.(\d+)")


def reasoning_effort_levels(model: str) -> tuple[str, ...] | None:
    """The reasoning_effort values a model accepts; None for models without reasoning."""
    if model.startswith(("o1", "o3", "o4")):
        return _EFFORT_O
    if not model.startswith("gpt-5"):
        return None
    minor = _GPT5_MINOR.match(model)
    if minor is None:
        return _EFFORT_GPT5
    return _EFFORT_GPT51 if int(minor.group(1)) == 1 else _EFFORT_GPT52


# Max output tokens (OpenAI model pages; Azure: learn.microsoft.com/azure/ai-foundry/openai/concepts/models).
# gpt-4o / gpt-4o-mini: 16,384 ("max_tokens is too large: 20000. This model supports at most
# 16384 completion tokens, whereas you provided 20000." — charmbracelet/catwalk#41, Azure);
# gpt-4.1 family: 32,768; o1/o3/o4-mini: 100,000; gpt-5 family: 128,000.
_MAX_OUTPUT: list[tuple[str, int]] = [
    ("gpt-4o", 16384),
    ("gpt-4.1", 32768),
    ("o1", 100000),
    ("o3", 100000),
    ("o4", 100000),
    ("gpt-5", 128000),
]


def max_output_tokens(model: str) -> int | None:
    """The model's output limit, None when the simulator does not know the model."""
    for prefix, limit in _MAX_OUTPUT:
        if model.startswith(prefix):
            return limit
    return None
