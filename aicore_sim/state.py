"""Mutable simulator state: issued tokens, the request journal, counters and runtime settings.

Everything here is touched on the hot path of every request, so it is kept to plain
dicts, deques and integer attributes (no locks: the server is a single event loop).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from aicore_sim.topology import LATENCY_KEYS, Deployment

__all__ = ["LISTING_SPELLINGS", "Journal", "Profile", "Settings", "Stats", "TokenStore"]


class TokenStore:
    """Opaque bearer tokens issued by the fake XSUAA, bound to one sub-account."""

    def __init__(self) -> None:
        # token -> (clientid, sub-account name, monotonic expiry)
        self.tokens: dict[str, tuple[str, str, float]] = {}
        self.fetches: dict[str, int] = {}

    def issue(self, clientid: str, subaccount: str, ttl: float) -> tuple[str, str]:
        """Create a token valid for ``ttl`` seconds; returns ``(token, jti)``."""
        if len(self.tokens) > 100_000:
            self.purge()
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (clientid, subaccount, time.monotonic() + ttl)
        self.fetches[clientid] = self.fetches.get(clientid, 0) + 1
        return token, secrets.token_hex(16)

    def check(self, token: str) -> tuple[str, str] | None:
        """``(clientid, sub-account)`` for a live token; None if unknown, expired or revoked."""
        info = self.tokens.get(token)
        if info is None:
            return None
        if info[2] <= time.monotonic():
            del self.tokens[token]
            return None
        return info[0], info[1]

    def revoke(self, clientid: str | None = None) -> int:
        """Invalidate every token issued so far (for one client id, or all); returns how many."""
        doomed = [t for t, info in self.tokens.items() if clientid is None or info[0] == clientid]
        for token in doomed:
            del self.tokens[token]
        return len(doomed)

    def purge(self) -> None:
        now = time.monotonic()
        for token in [t for t, info in self.tokens.items() if info[2] <= now]:
            del self.tokens[token]


class Journal:
    """Bounded ring buffer of handled requests, for tests to inspect what the proxy sent."""

    def __init__(self, size: int, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=max(1, size))
        self.seq = 0
        self.enabled = True
        self.max_bytes = max_bytes  # request bodies kept (large image payloads add up quickly)
        self.bytes = 0

    def add(self, entry: dict[str, Any], size: int = 0) -> None:
        self.seq += 1
        entry["seq"] = self.seq
        entry["_size"] = size
        entries = self.entries
        if len(entries) == entries.maxlen:
            self.bytes -= entries[0]["_size"]
        entries.append(entry)
        self.bytes += size
        while self.bytes > self.max_bytes and len(entries) > 1:
            self.bytes -= entries.popleft()["_size"]

    def clear(self) -> None:
        # Sequence numbers keep growing so a poller's ``since`` never sees old numbers reused.
        self.entries.clear()
        self.bytes = 0

    @staticmethod
    def public(entry: dict[str, Any]) -> dict[str, Any]:
        """An entry as the API shows it: the raw query string is parsed only here, off the hot path."""
        query = entry["query"]
        out = {**entry, "query": dict(parse_qsl(query, keep_blank_values=True)) if query else {}}
        del out["_size"]
        return out

    def query(
        self, since: int = 0, limit: int = 1000, deployment: str | None = None, tail: int | None = None
    ) -> dict[str, Any]:
        """Entries after ``since`` (oldest first, at most ``limit``), or the last ``tail`` entries."""
        picked = [e for e in self.entries if e["seq"] > since and (deployment is None or e["deployment"] == deployment)]
        picked = picked[-tail:] if tail is not None else picked[:limit]
        if tail == 0:
            picked = []
        nxt = picked[-1]["seq"] if picked else (self.seq if tail is not None else max(since, 0))
        return {"entries": [self.public(e) for e in picked], "next": nxt}


class Stats:
    """Counters reported by ``GET /__sim/stats``."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests_total = 0
        self.open_streams = 0
        self.streams_started = 0
        self.streams_completed = 0
        self.streams_aborted_by_client = 0
        self.streams_cut_by_fault = 0

    def snapshot(self, tokens: TokenStore) -> dict[str, Any]:
        fetches = dict(tokens.fetches)
        return {
            "token_fetches": fetches,
            "token_fetches_total": sum(fetches.values()),
            "requests_total": self.requests_total,
            "open_streams": self.open_streams,
            "streams_started": self.streams_started,
            "streams_completed": self.streams_completed,
            "streams_aborted_by_client": self.streams_aborted_by_client,
            "streams_cut_by_fault": self.streams_cut_by_fault,
        }


@dataclass(slots=True, frozen=True)
class Profile:
    """Effective latency profile of one deployment."""

    ttft_ms: float
    chunk_gap_ms: float
    chunks: int
    latency_ms: float


def _check_latency(key: str, value: Any) -> Any:
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative number")
    return int(value) if key == "chunks" else float(value)


LISTING_SPELLINGS = ("both", "camel", "snake")


def _check_bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


def _check_spelling(key: str, value: Any) -> str:
    if value not in LISTING_SPELLINGS:
        raise ValueError(f"{key} must be one of {', '.join(LISTING_SPELLINGS)}")
    return str(value)


def _check_page_size(key: str, value: Any) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{key} must be a positive integer or null")
    return value


# Switches of the wire behaviour (not of latency): name -> validator. Each is an attribute
# of Settings, changeable at run time and restored by ``POST /__sim/reset {"settings": true}``.
_SWITCHES = {
    "gzip": _check_bool,
    "listing_spelling": _check_spelling,
    "listing_page_size": _check_page_size,
    "listing_extras": _check_bool,
}


class Settings:
    """Runtime-changeable latency profile, per-deployment overrides, journaling, token TTL and switches.

    The switches: ``gzip`` (compress responses for clients that accept it), ``listing_spelling``
    (which spelling of ``backendDetails`` the deployment listing uses), ``listing_page_size``
    (the most resources one listing page holds, None: the specification's limits) and
    ``listing_extras`` (the listing also shows non-running, foreign-family and orchestration
    deployments).
    """

    def __init__(
        self,
        ttft_ms: float,
        chunk_gap_ms: float,
        chunks: int,
        latency_ms: float,
        token_ttl: float,
        *,
        gzip: bool = False,
        listing_spelling: str = "both",
        listing_page_size: int | None = None,
        listing_extras: bool = False,
    ):
        self.base: dict[str, Any] = {
            "ttft_ms": float(ttft_ms),
            "chunk_gap_ms": float(chunk_gap_ms),
            "chunks": int(chunks),
            "latency_ms": float(latency_ms),
        }
        self.token_ttl = float(token_ttl)
        self.gzip = _check_bool("gzip", gzip)
        self.listing_spelling = _check_spelling("listing_spelling", listing_spelling)
        self.listing_page_size = _check_page_size("listing_page_size", listing_page_size)
        self.listing_extras = _check_bool("listing_extras", listing_extras)
        self.overrides: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, Profile] = {}
        self._initial = (dict(self.base), self.token_ttl, self.switches())

    def switches(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in _SWITCHES}

    def profile(self, dep: Deployment) -> Profile:
        prof = self._cache.get(dep.id)
        if prof is None:
            merged = {**self.base, **dep.latency, **self.overrides.get(dep.id, {})}
            prof = Profile(**{k: merged[k] for k in LATENCY_KEYS})
            self._cache[dep.id] = prof
        return prof

    def restore(self) -> None:
        base, self.token_ttl, switches = self._initial
        for key, value in switches.items():
            setattr(self, key, value)
        self.base = dict(base)
        self.overrides.clear()
        self._cache.clear()

    def update(self, payload: dict[str, Any], known_deployments: dict[str, Deployment]) -> bool | None:
        """Apply a partial update; returns the new journal switch if given. Raises ValueError."""
        journal: bool | None = None
        staged = dict(self.base)
        overrides = {k: dict(v) for k, v in self.overrides.items()}
        ttl = self.token_ttl
        switches = self.switches()
        for key, value in payload.items():
            if key in _SWITCHES:
                switches[key] = _SWITCHES[key](key, value)
            elif key in LATENCY_KEYS:
                staged[key] = _check_latency(key, value)
            elif key == "journal":
                if not isinstance(value, bool):
                    raise ValueError("journal must be true or false")
                journal = value
            elif key == "token_ttl":
                if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                    raise ValueError("token_ttl must be a positive number")
                ttl = float(value)
            elif key == "overrides":
                if not isinstance(value, dict):
                    raise ValueError("overrides must be an object keyed by deployment id")
                for dep_id, over in value.items():
                    if dep_id not in known_deployments:
                        raise ValueError(f"unknown deployment {dep_id}")
                    if over is None:
                        overrides.pop(dep_id, None)
                        continue
                    if not isinstance(over, dict) or set(over) - set(LATENCY_KEYS):
                        raise ValueError(f"overrides.{dep_id} may only set {', '.join(LATENCY_KEYS)}")
                    merged = overrides.setdefault(dep_id, {})
                    for k, v in over.items():
                        if v is None:
                            merged.pop(k, None)
                        else:
                            merged[k] = _check_latency(k, v)
            else:
                raise ValueError(f"unknown setting {key}")
        self.base, self.overrides, self.token_ttl = staged, overrides, ttl
        for key, value in switches.items():
            setattr(self, key, value)
        self._cache.clear()
        return journal

    def snapshot(self) -> dict[str, Any]:
        return {**self.base, "token_ttl": self.token_ttl, **self.switches(), "overrides": self.overrides}
