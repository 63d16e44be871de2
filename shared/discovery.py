"""Deployment discovery, the pure part: the listing request, its parsing, merging and cache rules.

A sub-account that gives ``deployment_ids`` (checked against the listing) or no
deployments at all (every running deployment is registered under its backend model
name) is looked up once at start-up with ``GET {AI_API_URL}/v2/lm/deployments``
(XSUAA bearer token, ``AI-Resource-Group``). The I/O and the disk cache live in
``shared/transports/discovery_http.py``; this module decides, with the clock passed in.
Discovered names reach clients through the same ``model_aliases`` /
``strip_model_prefixes`` / ``model_filters`` rules as configured names, because the
merged URLs are parsed by :func:`shared.config.parse_config` like configured ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import SubAccount, deployment_url
from shared.errors import ConfigError
from shared.jsonutil import loads
from shared.wire import UpstreamRequest

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_TTL",
    "CacheEntry",
    "DiscoveredDeployment",
    "DiscoveryError",
    "DiscoverySettings",
    "cache_entry_doc",
    "cache_key",
    "choose_source",
    "listing_request",
    "merge_deployments",
    "parse_cache_entry",
    "parse_discovery_settings",
    "parse_listing",
]

DEFAULT_CACHE_DIR = "~/.cache/sap-ai-core-proxy/deployments"
DEFAULT_TTL = 86400.0
LISTING_PATH = "/v2/lm/deployments"


class DiscoveryError(Exception):
    """The listing could not be fetched or read (network, auth, bad JSON)."""


@dataclass(frozen=True, slots=True)
class DiscoverySettings:
    enabled: bool = True
    cache_dir: str = DEFAULT_CACHE_DIR
    ttl_seconds: float = DEFAULT_TTL

    def cache_path(self, base_dir: Path) -> Path:
        """The cache directory; a relative ``cache_dir`` is relative to the config file."""
        path = Path(self.cache_dir).expanduser()
        return path if path.is_absolute() else base_dir / path


@dataclass(frozen=True, slots=True)
class DiscoveredDeployment:
    id: str
    url: str
    model: str
    status: str = "RUNNING"

    @property
    def running(self) -> bool:
        return self.status.upper() == "RUNNING"


@dataclass(frozen=True, slots=True)
class CacheEntry:
    fetched_at: float
    deployments: tuple[DiscoveredDeployment, ...]

    def fresh(self, now: float, ttl: float) -> bool:
        """Usable without asking SAP AI Core: younger than ``ttl`` (and not from the future)."""
        return 0 <= now - self.fetched_at < ttl


def parse_discovery_settings(raw: Any) -> DiscoverySettings:
    """The optional top-level ``discovery`` object."""
    if raw is None:
        return DiscoverySettings()
    if not isinstance(raw, dict):
        raise ConfigError("discovery: must be an object (enabled, cache_dir, ttl_seconds)")
    unknown = set(raw) - {"enabled", "cache_dir", "ttl_seconds"}
    if unknown:
        raise ConfigError(f"discovery.{sorted(unknown)[0]}: unknown setting (enabled, cache_dir, ttl_seconds)")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("discovery.enabled: must be true or false")
    cache_dir = raw.get("cache_dir", DEFAULT_CACHE_DIR)
    if not isinstance(cache_dir, str) or not cache_dir:
        raise ConfigError("discovery.cache_dir: must be a non-empty path")
    ttl = raw.get("ttl_seconds", DEFAULT_TTL)
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl < 0:
        raise ConfigError("discovery.ttl_seconds: must be a number of seconds, 0 or more")
    return DiscoverySettings(enabled, cache_dir, float(ttl))


def listing_request(sub: SubAccount, token: str) -> UpstreamRequest:
    """``GET {AI_API_URL}/v2/lm/deployments`` for the sub-account's resource group."""
    api_url = (sub.service_key.api_url or "").rstrip("/")
    headers = {
        "Authorization": f"Bearer {token}",
        "AI-Resource-Group": sub.resource_group,
        "Accept": "application/json",
    }
    if sub.service_key.identityzoneid:
        headers["AI-Tenant-Id"] = sub.service_key.identityzoneid
    label = f"deployment listing of sub-account '{sub.name}' (resource group '{sub.resource_group}')"
    return UpstreamRequest("GET", f"{api_url}{LISTING_PATH}", headers, None, label=label)


def _deployment(item: Any, api_url: str) -> DiscoveredDeployment | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    try:
        model = item["details"]["resources"]["backend_details"]["model"]["name"]
    except (KeyError, TypeError):
        return None
    if not isinstance(model, str) or not model:
        return None
    url = item.get("deploymentUrl")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        url = deployment_url(api_url, item["id"]) if api_url else ""
    if not url:
        return None
    status = item.get("status")
    return DiscoveredDeployment(item["id"], url.rstrip("/"), model, status if isinstance(status, str) else "UNKNOWN")


def parse_listing(body: bytes, api_url: str = "") -> tuple[DiscoveredDeployment, ...]:
    """Every deployment in a listing answer (running or not) that names a backend model.

    Entries without an id or model name (e.g. non-foundation-model scenarios) are skipped;
    a body that is not a listing raises :class:`DiscoveryError`.
    """
    try:
        doc = loads(body)
    except ValueError as exc:
        raise DiscoveryError(f"the listing is not JSON: {exc}") from exc
    resources = doc.get("resources") if isinstance(doc, dict) else None
    if not isinstance(resources, list):
        raise DiscoveryError("the listing has no 'resources' list")
    found = (_deployment(item, api_url) for item in resources)
    return tuple(d for d in found if d is not None)


def cache_key(clientid: str, api_url: str, resource_group: str) -> str:
    """File name stem of a sub-account's cache entry: a hash, so no identifier is stored in clear."""
    return hashlib.sha256(f"{clientid}\n{api_url}\n{resource_group}".encode()).hexdigest()[:32]


def cache_entry_doc(deployments: Sequence[DiscoveredDeployment], now: float) -> dict[str, Any]:
    """What goes on disk: the time and the deployments (no token, no secret)."""
    return {
        "version": 1,
        "fetched_at": now,
        "deployments": [{"id": d.id, "url": d.url, "model": d.model, "status": d.status} for d in deployments],
    }


def parse_cache_entry(doc: Any) -> CacheEntry | None:
    """A cache file's content, or None when it is not one (a corrupt file is just a miss)."""
    if not isinstance(doc, dict) or doc.get("version") != 1:
        return None
    fetched = doc.get("fetched_at")
    items = doc.get("deployments")
    if not isinstance(fetched, int | float) or isinstance(fetched, bool) or not isinstance(items, list):
        return None
    out = []
    for item in items:
        fields = ("id", "url", "model", "status")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in fields):
            return None
        out.append(DiscoveredDeployment(item["id"], item["url"], item["model"], item["status"]))
    return CacheEntry(float(fetched), tuple(out))


def choose_source(cached: CacheEntry | None, now: float, ttl: float, refresh: bool) -> str:
    """``"cache"`` when a fresh entry may be used as it is, else ``"fetch"``."""
    if not refresh and cached is not None and cached.fresh(now, ttl):
        return "cache"
    return "fetch"


def merge_deployments(
    sub: SubAccount,
    listing: Sequence[DiscoveredDeployment] | None,
    warn: Callable[[str], None],
) -> dict[str, list[str]]:
    """Model -> URLs for ``sub``: configured URLs first, then discovered ones, no duplicates.

    ``listing`` None means discovery failed and no cache was usable: the configured URLs
    (including unchecked ``deployment_ids``) are all there is. With a listing, ids it does
    not contain are skipped with a warning, and a ``discover`` sub-account gains every
    running deployment under its backend model name.
    """
    merged: dict[str, list[str]] = {model: list(urls) for model, urls in sub.deployments.items()}
    if listing is None:
        return {m: u for m, u in merged.items() if u}
    known = {d.id for d in listing}
    running = {d.id for d in listing if d.running}
    api_url = sub.service_key.api_url or ""
    for model, ids in sub.deployment_ids.items():
        for dep_id in ids:
            problem = None
            if dep_id not in known:
                problem = "is not in the listing of"
            elif dep_id not in running:
                problem = "is not running in"
            if problem is not None:
                warn(
                    f"sub-account '{sub.name}': deployment id '{dep_id}' ({model}) {problem} "
                    f"resource group '{sub.resource_group}'; skipped"
                )
                url = deployment_url(api_url, dep_id)
                merged[model] = [u for u in merged.get(model, []) if u != url]
    if sub.discover:
        for dep in listing:
            if dep.running and dep.url not in merged.get(dep.model, []):
                merged.setdefault(dep.model, []).append(dep.url)
    return {m: u for m, u in merged.items() if u}


def deployment_counts(merged: Mapping[str, Sequence[str]]) -> int:
    return sum(len(u) for u in merged.values())
