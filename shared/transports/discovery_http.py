"""Start-up's config loader: read the file, parse it once, list deployments, complete the config.

Deployment listings are fetched with one blocking call per page and sub-account before
any server loop (stdlib ``urllib``, so it suits both stacks) and kept in a disk cache;
every worker process of gunicorn/uvicorn does its own start-up, sharing that cache. The
decisions (what to ask, what a listing means, when a cache entry is fresh, how
deployments and families merge) are in :mod:`shared.discovery`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from shared.config import ProxyConfig, SubAccount, parse_document, read_config_doc, read_json_file
from shared.config.settings import DiscoverySettings
from shared.discovery import (
    CacheEntry,
    DiscoveredDeployment,
    DiscoveryError,
    ListingCollector,
    ListingOutcome,
    cache_entry_doc,
    cache_key,
    choose_source,
    complete_config,
    listing_request,
    parse_cache_entry,
    parse_listing_page,
)
from shared.errors import TokenFetchError
from shared.netenv import NetworkEnvironment, origin_of
from shared.token_cache import TokenCache
from shared.transports.tls import CertificateError, TLSContexts
from shared.wire import ClientCert, UpstreamRequest

__all__ = ["REFRESH_ENV", "clear_cache", "discover_sub_account", "fetch_listing", "load_config_with_discovery"]

REFRESH_ENV = "PROXY_DISCOVERY_REFRESH"
NO_API_URL = (
    "no serviceurls.AI_API_URL in its service key, and no deployment URL of the form "
    "{AI_API_URL}/v2/inference/deployments/<id> to read it from"
)
NOT_CACHED = "offline, and none is cached; proxyctl models --refresh asks SAP AI Core"

Fetch = Callable[[SubAccount, float], tuple[DiscoveredDeployment, ...]]


def _stderr(msg: str) -> None:
    print(f"proxy: warning: {msg}", file=sys.stderr, flush=True)


class _Openers:
    """``urllib`` openers per origin (and client certificate), with the proxy and TLS context
    :mod:`shared.netenv` decides — the same decisions as both transports'. The environment is
    read on first use (start-up), never the stdlib's own proxy rules."""

    __slots__ = ("_network", "_contexts", "_openers")

    def __init__(self) -> None:
        self._network: NetworkEnvironment | None = None
        self._contexts = TLSContexts()
        self._openers: dict[tuple[str, ClientCert | None], urllib.request.OpenerDirector] = {}

    def get(self, req: UpstreamRequest) -> urllib.request.OpenerDirector:
        key = (origin_of(req.url), req.client_cert)
        opener = self._openers.get(key)
        if opener is None:
            if self._network is None:
                self._network = NetworkEnvironment.from_env(os.environ)  # ConfigError: start-up stops
            egress = self._network.egress(req.url)
            scheme = req.url.partition(":")[0].lower()
            handlers: list[urllib.request.BaseHandler] = [
                urllib.request.ProxyHandler({scheme: egress.proxy.url} if egress.proxy is not None else {})
            ]
            if egress.trust is not None:
                handlers.append(urllib.request.HTTPSHandler(context=self._contexts.get(egress.trust, req.client_cert)))
            opener = self._openers[key] = urllib.request.build_opener(*handlers)
        return opener


_openers = _Openers()


def _send(req: UpstreamRequest, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers), method=req.method)
    try:
        opener = _openers.get(req)
        with opener.open(request, timeout=timeout) as resp:
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except CertificateError as exc:
        raise DiscoveryError(f"{req.label}: {exc}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DiscoveryError(f"{req.label}: {reason}") from exc


def fetch_listing(sub: SubAccount, timeout: float) -> tuple[DiscoveredDeployment, ...]:
    """Token (XSUAA client credentials, or mTLS for X.509 keys), then every page of the listing.

    Raises :class:`DiscoveryError`.
    """
    tokens = TokenCache(sub)
    status, body = _send(tokens.fetch_request(), timeout)
    try:
        token = tokens.accept(status, body, time.time())
    except TokenFetchError as exc:
        raise DiscoveryError(exc.message) from exc
    pages = ListingCollector()
    skip: int | None = 0
    while skip is not None:
        req = listing_request(sub, token, skip)
        status, body = _send(req, timeout)
        if status != 200:
            raise DiscoveryError(f"{req.label} answered {status}: {body[:200].decode('utf-8', 'replace')}")
        skip = pages.add(parse_listing_page(body))
    return pages.deployments


def _cache_file(directory: Path, sub: SubAccount) -> Path:
    return directory / f"{cache_key(sub.service_key.clientid, sub.listing_api_url or '', sub.resource_group)}.json"


def _read_cache(path: Path) -> CacheEntry | None:
    try:
        return parse_cache_entry(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def _write_cache(path: Path, deployments: tuple[DiscoveredDeployment, ...], now: float) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache_entry_doc(deployments, now)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        reason = exc.strerror or exc
        logging.getLogger("proxy.startup").warning("could not write the deployment cache %s: %s", path, reason)


def clear_cache(directory: Path) -> int:
    """Delete every cache entry in ``directory`` (the one discovery reads); the count removed."""
    removed = 0
    try:
        entries = list(directory.glob("*.json"))
    except OSError:
        return 0
    for entry in entries:
        try:
            entry.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def discover_sub_account(
    sub: SubAccount,
    settings: DiscoverySettings,
    cache_dir: Path,
    *,
    fetch: Fetch,
    timeout: float,
    now: Callable[[], float] = time.time,
    network: bool = True,
) -> ListingOutcome:
    """The listing for ``sub``: a fresh cache entry, else a fetch, else any cache entry, else none."""
    path = _cache_file(cache_dir, sub)
    cached = _read_cache(path)
    if choose_source(cached, now(), settings.ttl_seconds, refresh=False) == "cache" and cached is not None:
        return ListingOutcome(cached.deployments)
    if not network:
        return ListingOutcome(cached.deployments) if cached is not None else ListingOutcome(None, NOT_CACHED)
    try:
        found = fetch(sub, timeout)
    except DiscoveryError as exc:
        if cached is not None:
            return ListingOutcome(cached.deployments, str(exc), max(0.0, now() - cached.fetched_at))
        return ListingOutcome(None, str(exc))
    _write_cache(path, found, now())
    return ListingOutcome(found)


def load_config_with_discovery(
    path: str | Path,
    env: Mapping[str, str] | None = None,
    *,
    fetch: Fetch = fetch_listing,
    warn: Callable[[str], None] = _stderr,
    network: bool = True,
) -> ProxyConfig:
    """The one config loader of both stacks: read, parse once, list each sub-account's deployments, complete.

    ``network=False`` (``proxyctl models``) uses the disk cache only, of any age, and keeps
    sub-accounts it cannot fill. Raises :class:`ConfigError` on a config problem, or naming
    a sub-account left with no deployment at all.
    """
    env = os.environ if env is None else env
    path = Path(path)
    doc = read_config_doc(path)
    config = parse_document(doc, base_dir=path.parent, read_file=read_json_file, env=env)
    settings = config.discovery
    outcomes: dict[str, ListingOutcome] = {}
    if settings.enabled:
        cache_dir = settings.cache_path(path.parent)
        if network and env.get(REFRESH_ENV, "") not in ("", "0"):
            clear_cache(cache_dir)
        for sub in config.sub_accounts:
            if not sub.listing_api_url:
                outcomes[sub.name] = ListingOutcome(None, NO_API_URL)
                continue
            outcomes[sub.name] = discover_sub_account(
                sub, settings, cache_dir, fetch=fetch, timeout=config.timeouts.token, network=network
            )
    final = complete_config(config, outcomes, warn, allow_empty=not network)
    for notice in final.notices:
        warn(notice)
    return final
