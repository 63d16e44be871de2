"""Deployment discovery, the pure part: the listing request, its parsing, the cache rules, the merge.

At start-up every sub-account's resource group is listed once (``GET
{AI_API_URL}/v2/lm/deployments``, XSUAA bearer token, ``AI-Resource-Group``), unless
``discovery.enabled`` is false. The listing tells the proxy three things:

* the backend model of each configured deployment, which decides its family
  (``shared/catalog.py``) — so ``3.7-sonnet`` is Claude because its deployment runs
  ``anthropic--claude-3.7-sonnet``;
* whether ``deployment_ids`` exist and run;
* for a sub-account that configures no deployments, every running deployment of a
  family the proxy serves, registered under its backend model name.

The listing is read as the AI API specification describes it (SAP/ai-sdk-js
``packages/ai-api/src/spec/AI_CORE_API.yaml``: ``AiDeploymentList`` = ``count`` +
``resources``; ``AiDeployment`` with ``id``, ``deploymentUrl``, ``status``,
``scenarioId``, ``details.resources.backendDetails``; ``$top``/``$skip`` paging), and
as the service answers today (``backend_details`` as well as ``backendDetails``).
The I/O and the disk cache live in ``shared/transports/discovery_http.py``; this
module decides, with the clock passed in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from shared.catalog import family_from_name, family_of_backend, model_backends
from shared.config import ConfigError, ProxyConfig, SubAccount, deployment_id_of, deployment_url, resolve_names
from shared.jsonutil import loads
from shared.wire import UpstreamRequest

__all__ = [
    "LISTING_PAGE_SIZE",
    "CacheEntry",
    "DiscoveredDeployment",
    "DiscoveryError",
    "ListingCollector",
    "ListingOutcome",
    "ListingPage",
    "cache_entry_doc",
    "cache_key",
    "choose_source",
    "complete_config",
    "listing_request",
    "merge_deployments",
    "parse_cache_entry",
    "parse_listing_page",
]

LISTING_PATH = "/v2/lm/deployments"
# Asked per page with ``$top``; the specification's default is 10000 and its maximum
# 100000 (``Aitop``), but a service may answer with fewer, so the count decides.
LISTING_PAGE_SIZE = 1000
MAX_PAGES = 100  # a listing that never ends is a broken listing, not a big one
CACHE_VERSION = 2


class DiscoveryError(Exception):
    """The listing could not be fetched or read (network, auth, bad JSON)."""


@dataclass(frozen=True, slots=True)
class DiscoveredDeployment:
    id: str
    url: str  # ``deploymentUrl``; empty while the deployment is not running
    model: str  # the backend model name; empty for deployments that name none (orchestration)
    status: str = "RUNNING"
    scenario: str = ""  # ``scenarioId``: foundation-models, orchestration, ...

    @property
    def running(self) -> bool:
        """Usable: ``RUNNING`` with a ``deploymentUrl`` (the spec's STOPPED/PENDING ones have none)."""
        return self.status.upper() == "RUNNING" and bool(self.url)

    @property
    def label(self) -> str:
        """How warnings name it: ``d123 (amazon--nova-pro)``."""
        return f"{self.id} ({self.model or (self.scenario or 'no backend model') + ' deployment'})"


@dataclass(frozen=True, slots=True)
class ListingPage:
    deployments: tuple[DiscoveredDeployment, ...]
    size: int  # entries in ``resources``, usable or not (what ``$skip`` counts)
    count: int | None  # ``count``: the number of deployments in the whole listing


@dataclass(frozen=True, slots=True)
class CacheEntry:
    fetched_at: float
    deployments: tuple[DiscoveredDeployment, ...]

    def fresh(self, now: float, ttl: float) -> bool:
        """Usable without asking SAP AI Core: younger than ``ttl`` (and not from the future)."""
        return 0 <= now - self.fetched_at < ttl


@dataclass(frozen=True, slots=True)
class ListingOutcome:
    """What start-up got for one sub-account: a listing (fresh or cached) and/or why not a fresh one."""

    deployments: tuple[DiscoveredDeployment, ...] | None
    failure: str | None = None  # why the listing could not be read
    cached_age: float | None = None  # seconds, when an older cached listing stands in


def listing_request(sub: SubAccount, token: str, skip: int = 0) -> UpstreamRequest:
    """One page of ``GET {AI_API_URL}/v2/lm/deployments`` for the sub-account's resource group."""
    api_url = (sub.listing_api_url or "").rstrip("/")
    headers = {
        "Authorization": f"Bearer {token}",
        "AI-Resource-Group": sub.resource_group,
        "Accept": "application/json",
    }
    if sub.service_key.identityzoneid:
        headers["AI-Tenant-Id"] = sub.service_key.identityzoneid
    label = f"deployment listing of sub-account '{sub.name}' (resource group '{sub.resource_group}')"
    url = f"{api_url}{LISTING_PATH}?$top={LISTING_PAGE_SIZE}&$skip={skip}"
    return UpstreamRequest("GET", url, headers, None, label=label)


def _backend_model(item: Mapping[str, Any]) -> str:
    """``details.resources.backendDetails.model.name`` (the spec's and SAP's JS SDK's spelling,
    ``packages/ai-api/src/utils/model.ts``) or ``backend_details`` (also sent by the service)."""
    details = item.get("details")
    resources = details.get("resources") if isinstance(details, dict) else None
    if not isinstance(resources, dict):
        return ""
    for spelling in ("backendDetails", "backend_details"):
        backend = resources.get(spelling)
        model = backend.get("model") if isinstance(backend, dict) else None
        name = model.get("name") if isinstance(model, dict) else None
        if isinstance(name, str) and name:
            return name
    return ""


def _deployment(item: Any) -> DiscoveredDeployment | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    url = item.get("deploymentUrl")
    status = item.get("status")
    scenario = item.get("scenarioId")
    return DiscoveredDeployment(
        id=item["id"],
        url=url.rstrip("/") if isinstance(url, str) and url.startswith(("http://", "https://")) else "",
        model=_backend_model(item),
        status=status if isinstance(status, str) else "UNKNOWN",
        scenario=scenario if isinstance(scenario, str) else "",
    )


def parse_listing_page(body: bytes) -> ListingPage:
    """One answer of the listing: every deployment with an id, running or not, of any family.

    A body that is not a listing raises :class:`DiscoveryError`.
    """
    try:
        doc = loads(body)
    except ValueError as exc:
        raise DiscoveryError(f"the listing is not JSON: {exc}") from exc
    resources = doc.get("resources") if isinstance(doc, dict) else None
    if not isinstance(resources, list):
        raise DiscoveryError("the listing has no 'resources' list")
    count = doc.get("count")
    found = (_deployment(item) for item in resources)
    return ListingPage(
        deployments=tuple(d for d in found if d is not None),
        size=len(resources),
        count=count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
    )


@dataclass(slots=True)
class ListingCollector:
    """Pages in, the whole listing out: :meth:`add` says which ``$skip`` to ask for next, or None.

    Stops when ``count`` deployments have been seen, at an empty page, at a page with
    nothing new (a service that ignores ``$skip``), or after :data:`MAX_PAGES` pages.
    """

    _seen: dict[str, DiscoveredDeployment] = field(default_factory=dict)
    _skip: int = 0
    _pages: int = 0

    def add(self, page: ListingPage) -> int | None:
        new = [d for d in page.deployments if d.id not in self._seen]
        for dep in new:
            self._seen[dep.id] = dep
        self._skip += page.size
        self._pages += 1
        if page.size == 0 or not new or page.count is None or self._skip >= page.count:
            return None
        return self._skip if self._pages < MAX_PAGES else None

    @property
    def deployments(self) -> tuple[DiscoveredDeployment, ...]:
        return tuple(self._seen.values())


def cache_key(clientid: str, api_url: str, resource_group: str) -> str:
    """File name stem of a sub-account's cache entry: a hash, so no identifier is stored in clear."""
    return hashlib.sha256(f"{clientid}\n{api_url}\n{resource_group}".encode()).hexdigest()[:32]


def cache_entry_doc(deployments: Sequence[DiscoveredDeployment], now: float) -> dict[str, Any]:
    """What goes on disk: the time and the deployments (no token, no secret)."""
    return {
        "version": CACHE_VERSION,
        "fetched_at": now,
        "deployments": [
            {"id": d.id, "url": d.url, "model": d.model, "status": d.status, "scenario": d.scenario}
            for d in deployments
        ],
    }


def parse_cache_entry(doc: Any) -> CacheEntry | None:
    """A cache file's content, or None when it is not one (a corrupt or older-format file is just a miss)."""
    if not isinstance(doc, dict) or doc.get("version") != CACHE_VERSION:
        return None
    fetched = doc.get("fetched_at")
    items = doc.get("deployments")
    if not isinstance(fetched, int | float) or isinstance(fetched, bool) or not isinstance(items, list):
        return None
    out = []
    for item in items:
        names = ("id", "url", "model", "status", "scenario")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in names):
            return None
        out.append(DiscoveredDeployment(*(item[k] for k in names)))
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

    ``listing`` None means no listing could be had: the configured URLs (including
    unchecked ``deployment_ids``) are all there is. With a listing, ids it does not show
    running are skipped with a warning, and a ``discover`` sub-account gains every
    running deployment of a served family under its backend model name; the others are
    named in one warning.
    """
    merged: dict[str, list[str]] = {model: list(urls) for model, urls in sub.deployments.items()}
    if listing is None:
        return {m: u for m, u in merged.items() if u}
    by_id = {d.id: d for d in listing}
    api_url = sub.service_key.api_url or ""
    for model, ids in sub.deployment_ids.items():
        for dep_id in ids:
            dep = by_id.get(dep_id)
            if dep is not None and dep.running:
                continue
            problem = "is not in the listing of" if dep is None else f"is {dep.status} (not running) in"
            warn(
                f"sub-account '{sub.name}': deployment id '{dep_id}' ({model}) {problem} "
                f"resource group '{sub.resource_group}'; skipped"
            )
            url = deployment_url(api_url, dep_id)
            merged[model] = [u for u in merged.get(model, []) if u != url]
    if sub.discover:
        foreign, idle = [], []
        for dep in listing:
            served = bool(dep.model) and family_of_backend(dep.model) is not None
            if not dep.running:
                if served:  # a model the proxy would serve, were it running: say why it is missing
                    idle.append(f"{dep.id} ({dep.model}: {dep.status or 'no URL'})")
                continue
            if not served:
                foreign.append(dep.label)
            elif dep.url not in merged.get(dep.model, []):
                merged.setdefault(dep.model, []).append(dep.url)
        if foreign:
            warn(
                f"sub-account '{sub.name}': discovery left out {len(foreign)} running deployment"
                f"{'s' if len(foreign) != 1 else ''} of families this proxy does not serve: {', '.join(foreign)}"
            )
        if idle:
            warn(
                f"sub-account '{sub.name}': discovery left out {len(idle)} deployment"
                f"{'s' if len(idle) != 1 else ''} that {'are' if len(idle) != 1 else 'is'} not running "
                f"(no deploymentUrl until RUNNING): {', '.join(idle)}"
            )
    return {m: u for m, u in merged.items() if u}


def _configured_checks(sub: SubAccount, listing: Sequence[DiscoveredDeployment]) -> str | None:
    """Configured deployments the listing does not show running a served model, in one line."""
    by_id = {d.id: d for d in listing}
    odd = []
    for model, urls in sub.deployments.items():
        if model in sub.deployment_ids:
            continue  # checked (and skipped) by merge_deployments
        for url in urls:
            dep = by_id.get(deployment_id_of(url))
            if dep is None:
                odd.append(f"{deployment_id_of(url)} ({model}: not listed; family from its name)")
            elif not dep.running:
                odd.append(f"{dep.id} ({model}: {dep.status})")
            elif dep.model and family_of_backend(dep.model) is None:
                odd.append(f"{dep.id} ({model}: runs {dep.model}, a family this proxy does not serve)")
    if not odd:
        return None
    return (
        f"sub-account '{sub.name}': configured deployments the listing of resource group "
        f"'{sub.resource_group}' does not show running a model this proxy serves: {', '.join(odd)}"
    )


def _failure_warning(sub: SubAccount, outcome: ListingOutcome) -> str:
    """The one warning of a sub-account whose listing could not be read."""
    head = f"sub-account '{sub.name}': the deployment listing could not be read ({outcome.failure})"
    if outcome.deployments is not None:
        return f"{head}; using the cached listing from {outcome.cached_age or 0:.0f}s ago"
    effects = []
    if any(model not in sub.deployment_ids for model in sub.deployments):
        effects.append(
            "the families of its configured deployments come from their names "
            "(claude/sonnet/haiku/opus/anthropic-- → Claude, gemini → Gemini, else OpenAI-family; "
            "model_settings.family overrides)"
        )
    if sub.deployment_ids:
        effects.append("its deployment_ids are used unchecked")
    if sub.discover:
        effects.append("nothing is discovered")
    return f"{head}; {', '.join(effects)}" if effects else head


def _family_conflicts(config: ProxyConfig) -> list[str]:
    out = []
    for model in config.model_names:
        settings = config.model_settings.get(model)
        if settings is not None and settings.family:
            continue
        backends = model_backends(config, model)
        families = {family_of_backend(b) or family_from_name(model) for _, b in backends}
        if len(families) > 1:
            runs = ", ".join(f"{dep_id} runs {b}" for dep_id, b in backends)
            first = family_of_backend(backends[0][1]) or family_from_name(model)
            out.append(
                f"model '{model}': its deployments run models of different families ({runs}); "
                f"it is routed as {first}, by the first; give each its own model name"
            )
    return out


def complete_config(
    config: ProxyConfig,
    outcomes: Mapping[str, ListingOutcome],
    warn: Callable[[str], None],
    *,
    allow_empty: bool = False,
) -> ProxyConfig:
    """The parsed config plus what the listings say: merged URLs, backend models, checked names.

    ``outcomes`` has an entry per sub-account whose listing was asked for (none when
    discovery is disabled). Warnings go to ``warn`` (one per sub-account and topic); a
    sub-account left without deployments (unless ``allow_empty``: it is then left out),
    or a name problem over the final set of models, raises :class:`ConfigError`.
    """
    subs = []
    for sub in config.sub_accounts:
        outcome = outcomes.get(sub.name)
        listing = outcome.deployments if outcome is not None else None
        if outcome is not None and outcome.failure:
            warn(_failure_warning(sub, outcome))
        if listing is not None:
            checks = _configured_checks(sub, listing)
            if checks:
                warn(checks)
        urls = merge_deployments(sub, listing, warn)
        if not urls and allow_empty:
            continue
        if not urls:
            why = "discovery found none" if config.discovery.enabled else "discovery is disabled"
            raise ConfigError(f"subAccounts.{sub.name}: no deployments ({why} and none are configured)")
        backends = {d.id: d.model for d in listing or () if d.model}
        deployments = {model: tuple(u) for model, u in urls.items()}
        subs.append(replace(sub, deployments=deployments, backends=backends))
    merged = replace(config, sub_accounts=tuple(subs))
    for conflict in _family_conflicts(merged):
        warn(conflict)
    return resolve_names(merged)
