"""The performance targets of each profile, judged from one bench run's results.

Every check compares numbers measured side by side in the same run (ratios, not
absolute times), so the verdict holds on another machine as well as it holds here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .locust_run import Result
from .profiles import SOAK

__all__ = ["Check", "checks_for"]


@dataclass(frozen=True)
class Check:
    target: str
    measured: str
    ok: bool | None  # None: could not be judged (a run missing or empty)


Results = dict[str, Result]


def _ratio(results: Results, a: str, b: str, goal: float, text: str) -> Check:
    ra, rb = results.get(a), results.get(b)
    if ra is None or rb is None or not rb.throughput:
        return Check(text, "not measured", None)
    ratio = ra.throughput / rb.throughput
    return Check(text, f"{ra.throughput:,.0f} / {rb.throughput:,.0f} req/s = **{ratio:.2f}×**", ratio >= goal)


def _soak(results: Results, key: str, stack: str) -> Check:
    text = f"{stack}: RSS grows < 10% across 100,000 requests after warm-up"
    r = results.get(key)
    if r is None:
        return Check(text, "not measured", None)
    before, after = r.rss_growth()
    if math.isnan(before) or not before:
        return Check(text, "no samples", None)
    growth = (after - before) / before * 100.0
    enough = r.requests >= min(SOAK, r.run.stop_after)
    return Check(
        text,
        f"{before:.1f} → {after:.1f} MB over {r.requests:,} requests (**{growth:+.1f}%**)",
        growth < 10.0 and enough,
    )


def _overhead(results: Results) -> list[Check]:
    out = [
        _ratio(results, "chat-fastapi", "chat-shared-httpx", 4, "FastAPI ≥ 4× one shared httpx.AsyncClient"),
        _ratio(results, "chat-fastapi", "chat-seed", 20, "FastAPI ≥ 20× the seed-style baseline"),
        _ratio(results, "chat-fastapi", "chat-flask", 2.5, "FastAPI ≥ 2.5× Flask"),
        _ratio(results, "chat-flask", "chat-seed", 10, "Flask ≥ 10× the seed-style baseline"),
        _ratio(results, "claude-flask", "chat-flask", 0.7, "Flask: Claude conversion ≥ 70% of passthrough"),
        _ratio(results, "claude-fastapi", "chat-fastapi", 0.7, "FastAPI: Claude conversion ≥ 70% of passthrough"),
        _soak(results, "chat-flask", "Flask"),
        _soak(results, "chat-fastapi", "FastAPI"),
    ]
    return out + _no_failures(results)


def _ttft(results: Results, stack: str) -> Check:
    text = f"{stack}: adds ≤ 5 ms to p50 time-to-first-token at 50 concurrent streams"
    r, c = results.get(f"stream-{stack}"), results.get("stream-ceiling")
    er = r.entry("ttft") if r else None
    ec = c.entry("ttft") if c else None
    if er is None or ec is None:
        return Check(text, "not measured", None)
    added = er.p50 - ec.p50
    measured = f"{er.p50:.1f} ms vs {ec.p50:.1f} ms straight to the simulator (**{added:+.1f} ms**)"
    return Check(text, measured, added <= 5)


def _gaps(results: Results, stack: str, upstream_gap: float) -> Check:
    text = f"{stack}: chunks forwarded as they arrive (p50 gap ≈ the upstream's {upstream_gap:.0f} ms)"
    r = results.get(f"stream-{stack}")
    e = r.entry("gap") if r else None
    if e is None:
        return Check(text, "not measured", None)
    ok = abs(e.p50 - upstream_gap) <= 0.2 * upstream_gap
    return Check(text, f"p50 gap **{e.p50:.1f} ms**, p95 {e.p95:.1f} ms", ok)


def _realistic(results: Results, upstream_gap: float) -> list[Check]:
    out = [_ttft(results, "flask"), _ttft(results, "fastapi")]
    out += [_gaps(results, "flask", upstream_gap), _gaps(results, "fastapi", upstream_gap)]
    return out + _no_failures(results)


def _held(results: Results, key: str, stack: str, users: int, rss_limit: float | None) -> Check:
    limit = f" under {rss_limit:.0f} MB RSS" if rss_limit else ""
    text = f"{stack} holds {users:,} concurrent streams with zero errors{limit}"
    r = results.get(key)
    if r is None:
        return Check(text, "not measured", None)
    peak = r.peak_connections
    ok = r.failed == 0 and peak >= 0.95 * r.run.users and (rss_limit is None or r.peak_rss < rss_limit)
    return Check(
        text,
        f"peak {peak:,} open client connections, {r.failed} failed of {r.requests:,} streams, "
        f"peak RSS **{r.peak_rss:.0f} MB**",
        ok,
    )


def _slow(results: Results) -> list[Check]:
    return [
        _held(results, "streams-5000-fastapi", "FastAPI (one worker)", 5000, 300.0),
        _held(results, "streams-2000-flask", "Flask (one gevent worker)", 2000, None),
    ]


STACKS = ("flask", "fastapi", "haproxy-50-50")


def _no_failures(results: Results) -> list[Check]:
    """Failures of the two stacks (the baselines' own failures are reported, not judged)."""
    text = "no failed request in any run of the two stacks"
    failed = {k: r.failed for k, r in results.items() if r.failed and r.target.name in STACKS}
    if not failed:
        return [Check(text, "0 failures", True)]
    return [Check(text, ", ".join(f"{k}: {n}" for k, n in failed.items()), False)]


CHECKS: dict[str, Callable[[Results, float], list[Check]]] = {
    "overhead": lambda r, _g: _overhead(r),
    "realistic": _realistic,
    "slow-upstream": lambda r, _g: _slow(r),
}


def checks_for(profile: str, results: Results, upstream_gap: float) -> list[Check]:
    fn = CHECKS.get(profile)
    return fn(results, upstream_gap) if fn else []
