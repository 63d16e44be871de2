"""The configuration as the rest of the proxy sees it: frozen dataclasses, no parsing, no I/O.

This is the first of the three rooms of ``shared/config/``: what a setting *is*
(``settings``), how a document becomes one (``parsing``), and where documents come
from (``files``; the discovery merge is ``shared/discovery.py``). Every other module
imports its types from here, so the settings depend on nothing but the name rules in
``shared/model_names.py`` — which is what keeps ``config``, ``retry`` and ``balancer``
out of an import circle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.model_names import ModelFilters, NameTable, build_names
from shared.wire import ClientCert

__all__ = [
    "CLAUDE_APIS",
    "DEFAULT_CACHE_DIR",
    "DEFAULT_TTL",
    "FAMILIES",
    "DiscoverySettings",
    "ModelSettings",
    "ProxyConfig",
    "RetryPolicy",
    "ServiceKey",
    "SubAccount",
    "Timeouts",
    "api_url_of",
    "deployment_id_of",
    "deployment_url",
]

FAMILIES = ("openai", "claude", "gemini")
CLAUDE_APIS = ("invoke", "converse")
DEFAULT_CACHE_DIR = "~/.cache/sap-ai-core-proxy/deployments"
DEFAULT_TTL = 86400.0
_INFERENCE_PATH = "/v2/inference/deployments/"


def deployment_url(api_url: str, deployment_id: str) -> str:
    """The inference URL of a deployment id: ``{AI_API_URL}/v2/inference/deployments/<id>``."""
    return f"{api_url.rstrip('/')}{_INFERENCE_PATH}{deployment_id}"


def deployment_id_of(url: str) -> str:
    """The deployment id a deployment URL ends with (the listing knows deployments by id)."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def api_url_of(url: str) -> str | None:
    """``AI_API_URL`` read back from a deployment URL, or None when the URL has another shape."""
    head, sep, _ = url.partition(_INFERENCE_PATH)
    return head if sep and head.startswith(("http://", "https://")) else None


@dataclass(frozen=True, slots=True)
class ServiceKey:
    """An SAP AI Core service key: client secret, or X.509 (``certificate``/``key``/``certurl``).

    SAP documents both kinds (``use-a-service-key-3a97465.md``): a client-secret key gets
    its token from ``{url}/oauth/token`` with basic auth, an X.509 key from
    ``{certurl}/oauth/token`` over mutual TLS with its certificate.
    """

    clientid: str
    clientsecret: str | None
    url: str
    identityzoneid: str | None = None
    api_url: str | None = None
    certificate: str | None = None  # PEM (X.509 keys)
    key: str | None = None  # PEM private key (X.509 keys)
    certurl: str | None = None  # the mTLS token host (X.509 keys)

    @property
    def client_cert(self) -> ClientCert | None:
        """The certificate to present on the token call: only for X.509 keys (no client secret)."""
        if self.clientsecret is None and self.certificate and self.key:
            return ClientCert(self.certificate, self.key)
        return None

    def __repr__(self) -> str:  # never print the secret, the certificate or the private key
        x509 = ", x509" if self.client_cert is not None else ""
        return f"ServiceKey(clientid={self.clientid!r}, url={self.url!r}{x509})"


@dataclass(frozen=True, slots=True)
class SubAccount:
    name: str
    resource_group: str
    service_key: ServiceKey
    deployments: Mapping[str, tuple[str, ...]]
    # Model name -> deployment ids (their URLs are in ``deployments`` too, unchecked
    # until discovery compares them with the listing).
    deployment_ids: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Register every running deployment of the resource group at start-up (see
    # ``shared/discovery.py``): true when the sub-account configures no deployments.
    discover: bool = False
    # Deployment id -> the backend model the deployment listing says it runs
    # (``anthropic--claude-4-sonnet``); empty when the listing could not be read.
    backends: Mapping[str, str] = field(default_factory=dict)

    @property
    def needs_listing(self) -> bool:
        """Its deployments depend on the listing (``deployment_ids`` or ``discover``)."""
        return self.discover or bool(self.deployment_ids)

    @property
    def listing_api_url(self) -> str | None:
        """Where its listing is: ``serviceurls.AI_API_URL``, else read back from a deployment URL.

        The original proxies never needed ``AI_API_URL`` (pjq's keys may lack it); their
        deployment URLs carry it, so the family lookup works for those keys too.
        """
        if self.service_key.api_url:
            return self.service_key.api_url
        for urls in self.deployments.values():
            for url in urls:
                found = api_url_of(url)
                if found:
                    return found
        return None


@dataclass(frozen=True, slots=True)
class ModelSettings:
    family: str | None = None
    claude_api: str = "invoke"
    api_version: str | None = None
    upstream_model: str | None = None
    max_tokens: int | None = None
    # Overrides of the capability profile (shared/capabilities.py), by Capabilities field; validated when parsed.
    capabilities: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``first_byte``: request sent -> answer (or first stream chunk); ``idle``: between chunks.

    ``first_byte`` is 600 s, the original proxies' read timeout: a long non-streaming
    reasoning answer arrives in one piece and can take longer than five minutes.
    """

    connect: float = 10.0
    first_byte: float = 600.0
    idle: float = 300.0
    token: float = 15.0
    keepalive: float = 15.0  # SSE comment sent to the client after this much silence


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry and failover limits; the rules that apply them are in ``shared/retry.py``."""

    max_attempts: int = 4
    deadline: float = 30.0
    backoff_base: float = 0.25
    backoff_max: float = 4.0
    max_retry_after: float = 10.0
    breaker_failures: int = 3
    breaker_cooldown: float = 30.0

    def backoff(self, retry: int) -> float:
        """Upper bound of the wait before retry number ``retry`` (1-based); jitter is applied by the caller."""
        return float(min(self.backoff_max, self.backoff_base * (2 ** (retry - 1))))


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    """The top-level ``discovery`` object: the deployment listing and its disk cache."""

    enabled: bool = True
    cache_dir: str = DEFAULT_CACHE_DIR
    ttl_seconds: float = DEFAULT_TTL

    def cache_path(self, base_dir: Path) -> Path:
        """The cache directory; a relative ``cache_dir`` is relative to the config file."""
        path = Path(self.cache_dir).expanduser()
        return path if path.is_absolute() else base_dir / path


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    sub_accounts: tuple[SubAccount, ...]
    api_keys: tuple[str, ...]
    allow_unauthenticated: bool = False
    host: str = "127.0.0.1"
    port: int = 3001
    model_settings: Mapping[str, ModelSettings] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    max_body_bytes: int = 32 * 1024 * 1024
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    access_log: bool = True
    fallback_models: Mapping[str, str] = field(default_factory=dict)
    model_aliases: Mapping[str, str] = field(default_factory=dict)
    strip_model_prefixes: tuple[str, ...] = ()
    model_filters: ModelFilters = field(default_factory=ModelFilters)
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    # Start-up remarks that are not errors (e.g. a service key taken from the environment
    # over the file's); the loader prints them. Never a secret.
    notices: tuple[str, ...] = ()

    def name_table(self, models: Sequence[str] | None = None) -> NameTable:
        """Client names after aliases, stripping and filters (``models``: default the configured ones)."""
        names = self.model_names if models is None else models
        return build_names(names, self.model_aliases, self.strip_model_prefixes, self.model_filters)

    @property
    def model_names(self) -> list[str]:
        """Every model any sub-account serves, in first-seen order."""
        seen: dict[str, None] = {}
        for sub in self.sub_accounts:
            for name in sub.deployments:
                seen.setdefault(name, None)
        return list(seen)
