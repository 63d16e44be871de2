"""Which upstream API serves a model name, and how.

Family from the name — ``claude`` or ``anthropic--`` means Claude, ``gemini`` means
Gemini, anything else is OpenAI-family — unless ``model_settings`` says otherwise.
The old proxies guessed the Claude API from version fragments in the name (``3.7``,
``4``), which sent renamed models down the wrong path; here the API is a setting
(default ``invoke``, the Anthropic-native body).

Client names go through the config's name table first (``shared/model_names.py``): an
alias or stripped name resolves to its configured model's route, and a name removed by
``model_filters`` is as unknown as a name never configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.capabilities import Capabilities, capabilities_for
from shared.config import ModelSettings, ProxyConfig
from shared.errors import ModelNotFound

__all__ = ["DEFAULT_API_VERSION", "ModelRoute", "Router", "family_from_name"]

DEFAULT_API_VERSION = "2024-12-01-preview"
DEFAULT_MAX_TOKENS = 4096


def family_from_name(name: str) -> str:
    lowered = name.lower()
    if "claude" in lowered or lowered.startswith("anthropic--"):
        return "claude"
    if "gemini" in lowered:
        return "gemini"
    return "openai"


@dataclass(frozen=True, slots=True)
class ModelRoute:
    name: str
    family: str  # openai | claude | gemini
    claude_api: str  # invoke | converse
    api_version: str
    upstream_model: str  # the backend's own name (Gemini URLs need it)
    max_tokens: int
    max_tokens_cap: int | None = None  # the configured max_tokens, if any: also a ceiling for requests
    kind: str = "chat"  # chat | embeddings (from the name: "embed" means an embedding model)
    capabilities: Capabilities = Capabilities("openai")  # what the upstream accepts (shared/capabilities.py)


class Router:
    """Resolves client model names to :class:`ModelRoute`; built once per app."""

    __slots__ = ("_routes", "_names")

    def __init__(self, config: ProxyConfig) -> None:
        self._routes = {name: _route(name, config.model_settings.get(name)) for name in config.model_names}
        self._names = config.name_table()

    def route(self, model: str) -> ModelRoute:
        """The route of a client name; an alias gets its target's route (``name`` is the configured model)."""
        try:
            return self._routes[self._names.accepted[model]]
        except KeyError:
            raise ModelNotFound(
                f"model '{model}' is not configured on this proxy; GET /v1/models lists the available models",
                param="model",
            ) from None

    def names(self) -> list[str]:
        """What ``/v1/models`` lists: stripped names, then aliases, all filtered."""
        return list(self._names.listed)

    def configured_route(self, model: str) -> ModelRoute:
        """The route of a configured model whatever the filters say (for ``proxyctl models``)."""
        return self._routes[model]


def _route(name: str, settings: ModelSettings | None) -> ModelRoute:
    s = settings or ModelSettings()
    upstream = s.upstream_model or name.split(":", 1)[0]
    family = s.family or family_from_name(name)
    api_version = s.api_version or DEFAULT_API_VERSION
    return ModelRoute(
        name=name,
        family=family,
        claude_api=s.claude_api,
        api_version=api_version,
        upstream_model=upstream,
        max_tokens=s.max_tokens or DEFAULT_MAX_TOKENS,
        max_tokens_cap=s.max_tokens,
        kind="embeddings" if "embed" in name.lower() else "chat",
        capabilities=capabilities_for(upstream, family, api_version=api_version, overrides=s.capabilities),
    )
