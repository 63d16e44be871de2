"""The model catalog: which upstream API serves a model name, and how (a :class:`ModelEntry` per model).

The family of a model (OpenAI-family on Azure, Claude on Bedrock, Gemini on Vertex)
is decided once, at start-up, in this order:

1. ``model_settings.<name>.family`` (source ``settings``);
2. the backend model its deployments run, as the resource group's deployment listing
   says (``details.resources.backendDetails.model.name``; source ``listing``) — so any
   config name works: the original proxies' ``3.7-sonnet``, ``4-sonnet`` or
   ``sonnet-4.5`` route as Claude because the deployment is ``anthropic--claude-…``;
3. where the listing could not be read, the original proxies' name keywords (source
   ``name``): :func:`family_from_name`.

The Claude API is a setting (default ``invoke``, the Anthropic-native body) rather than a
guess from version fragments in the name, which sent renamed models down the wrong path.

Client names go through the config's name table first (``shared/model_names.py``): an
alias or stripped name resolves to its configured model's entry, and a name removed by
``model_filters`` is as unknown as a name never configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shared.capabilities import Capabilities, capabilities_for, describe_unknown
from shared.config import ModelSettings, ProxyConfig, deployment_id_of
from shared.errors import ModelNotFound

__all__ = [
    "CLAUDE_NAME_KEYWORDS",
    "DEFAULT_API_VERSION",
    "FamilySource",
    "ModelEntry",
    "ModelCatalog",
    "family_from_name",
    "family_of_backend",
    "model_backends",
]

DEFAULT_API_VERSION = "2024-12-01-preview"
DEFAULT_MAX_TOKENS = 4096
FamilySource = Literal["settings", "listing", "name"]

# The original proxies' Claude keywords (pjq and wl21st ``Detector``, see
# sap-ai-core-facts.md §4.1), matched case-insensitively: the fragments exist because
# Cursor refused model names containing "claude", so configs name them "3.7-sonnet".
CLAUDE_NAME_KEYWORDS = ("claude", "clau", "claud", "sonnet", "sonne", "sonn", "haiku", "opus")

# SAP AI Core's backend model names of the families this proxy serves (SAP/ai-sdk-js
# packages/core/src/model-types.ts: AzureOpenAiChatModel/AzureOpenAiEmbeddingModel,
# AwsBedrockChatModel "anthropic--claude-*", GcpVertexAiChatModel "gemini-*").
# Azure's realtime models and Responses-only "-codex" models do not speak Chat Completions;
# Vertex's "gemini-embedding" is not a chat model and has no OpenAI-style embeddings API.
_OPENAI_BACKEND = re.compile(r"^(gpt-|text-embedding-|o\d+(-|$))")
_OPENAI_NOT_CHAT = re.compile(r"realtime|audio|transcribe|tts|codex")


def family_from_name(name: str) -> str:
    """The original proxies' rule: Claude keywords or ``anthropic--``, then ``gemini``, else OpenAI-family."""
    lowered = name.lower()
    if lowered.startswith("anthropic--") or any(word in lowered for word in CLAUDE_NAME_KEYWORDS):
        return "claude"
    if "gemini" in lowered:
        return "gemini"
    return "openai"


def family_of_backend(backend_model: str) -> str | None:
    """The family of an SAP AI Core backend model name, or None when this proxy does not serve it.

    Not served: Amazon Nova/Titan, Cohere, Mistral, Meta, NVIDIA, Perplexity ``sonar``,
    SAP's own models, Gemini embeddings, Azure realtime and Responses-only models.
    """
    lowered = backend_model.lower()
    if lowered.startswith("anthropic--claude"):
        return "claude"
    if lowered.startswith("gemini-") and "embedding" not in lowered:
        return "gemini"
    if _OPENAI_BACKEND.match(lowered) and not _OPENAI_NOT_CHAT.search(lowered):
        return "openai"
    return None


def model_backends(config: ProxyConfig, model: str) -> list[tuple[str, str]]:
    """``(deployment id, backend model)`` of every deployment of ``model`` the listing knows, in config order."""
    found = []
    for sub in config.sub_accounts:
        for url in sub.deployments.get(model, ()):
            dep_id = deployment_id_of(url)
            backend = sub.backends.get(dep_id)
            if backend:
                found.append((dep_id, backend))
    return found


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    family: str  # openai | claude | gemini
    claude_api: str  # invoke | converse
    api_version: str
    upstream_model: str  # the backend's own name (Gemini URLs need it)
    max_tokens: int
    max_tokens_cap: int | None = None  # the configured max_tokens, if any: also a ceiling for requests
    kind: str = "chat"  # chat | embeddings ("embed" in the backend model's name, else in the config name)
    family_source: FamilySource = "name"  # settings | listing | name: what decided ``family``
    capabilities: Capabilities = Capabilities("openai")  # what the upstream accepts (shared/capabilities.py)


class ModelCatalog:
    """Resolves client model names to :class:`ModelEntry`; built once per app."""

    __slots__ = ("_entries", "_names")

    def __init__(self, config: ProxyConfig) -> None:
        self._entries = {name: _entry(config, name) for name in config.model_names}
        self._names = config.name_table()

    def entry(self, model: str) -> ModelEntry:
        """The route of a client name; an alias gets its target's route (``name`` is the configured model)."""
        try:
            return self._entries[self._names.accepted[model]]
        except KeyError:
            raise ModelNotFound(
                f"model '{model}' is not configured on this proxy; GET /v1/models lists the available models",
                param="model",
            ) from None

    def names(self) -> list[str]:
        """What ``/v1/models`` lists: stripped names, then aliases, all filtered."""
        return list(self._names.listed)

    def capability_warnings(self) -> list[str]:
        """One start-up line per configured model whose capability profile is a guess."""
        warnings = (describe_unknown(name, entry.capabilities) for name, entry in self._entries.items())
        return [w for w in warnings if w is not None]

    def configured_entry(self, model: str) -> ModelEntry:
        """The route of a configured model whatever the filters say (for ``proxyctl models``)."""
        return self._entries[model]


def _family(name: str, settings: ModelSettings, backend: str | None) -> tuple[str, FamilySource]:
    if settings.family:
        return settings.family, "settings"
    served = family_of_backend(backend) if backend else None
    if served:
        return served, "listing"
    return family_from_name(name), "name"


def _entry(config: ProxyConfig, name: str) -> ModelEntry:
    s = config.model_settings.get(name) or ModelSettings()
    backends = model_backends(config, name)
    # Deployments of one name that run different models are reported at start-up
    # (shared/discovery.py); the first one in config order decides.
    backend = backends[0][1] if backends else None
    family, source = _family(name, s, backend)
    upstream = s.upstream_model or backend or name.split(":", 1)[0]
    api_version = s.api_version or DEFAULT_API_VERSION
    return ModelEntry(
        name=name,
        family=family,
        claude_api=s.claude_api,
        api_version=api_version,
        upstream_model=upstream,
        max_tokens=s.max_tokens or DEFAULT_MAX_TOKENS,
        max_tokens_cap=s.max_tokens,
        kind="embeddings" if "embed" in (backend or name).lower() else "chat",
        family_source=source,
        capabilities=capabilities_for(upstream, family, api_version=api_version, overrides=s.capabilities),
    )
