"""Read the stacks' ``GET /metrics`` (Prometheus text format) when they have it.

Only what ``status`` and ``promote`` need is kept, summed over every server of a stack
and over all labels but ``le``: the request-duration and time-to-first-token histograms
(cumulative bucket counts), request and 5xx counts, upstream retries, token refreshes
and in-flight streams. A stack without ``/metrics`` (or an older build) yields ``None``
and the callers fall back to HAProxy's counters.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from typing import Any

__all__ = ["aggregate", "delta", "parse", "quantile", "scrape_stack"]

DURATION = "proxy_request_duration_seconds"
TTFT = "proxy_ttft_seconds"
SKIP_ROUTES = {"/health", "/metrics"}
_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

Sample = tuple[str, dict[str, str], float]


def parse(text: str) -> list[Sample]:
    out: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _LABEL.findall(m.group(3) or "")}
        out.append((m.group(1), labels, value))
    return out


def aggregate(samples: list[Sample]) -> dict[str, Any] | None:
    """One stack's numbers, or None when the text has none of our metrics."""
    agg: dict[str, Any] = {
        "duration": {},
        "ttft": {},
        "requests": 0.0,
        "errors_5xx": 0.0,
        "retries": 0.0,
        "token_refreshes": 0.0,
        "streams_in_flight": 0.0,
    }
    seen = False
    for name, labels, value in samples:
        if labels.get("route") in SKIP_ROUTES:
            continue
        if name in (f"{DURATION}_bucket", f"{TTFT}_bucket"):
            key = "duration" if name.startswith(DURATION) else "ttft"
            le = labels.get("le", "+Inf")
            agg[key][le] = agg[key].get(le, 0.0) + value
        elif name in ("proxy_requests_total", "proxy_requests"):
            agg["requests"] += value
            if labels.get("status", "").startswith("5"):
                agg["errors_5xx"] += value
        elif name in ("proxy_upstream_retries_total", "proxy_upstream_retries"):
            agg["retries"] += value
        elif name in ("proxy_token_refreshes_total", "proxy_token_refreshes"):
            agg["token_refreshes"] += value
        elif name == "proxy_streams_in_flight":
            agg["streams_in_flight"] += value
        else:
            continue
        seen = True
    return agg if seen else None


def merge(parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Sum the aggregates of several servers of one stack."""
    if not parts:
        return None
    out: dict[str, Any] = {k: ({} if isinstance(v, dict) else 0.0) for k, v in parts[0].items()}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict):
                for le, n in value.items():
                    out[key][le] = out[key].get(le, 0.0) + n
            else:
                out[key] += value
    return out


def scrape_stack(addrs: list[str], timeout: float = 2.0) -> dict[str, Any] | None:
    """Aggregate ``/metrics`` of every server of a stack; None if none of them has it."""
    parts = []
    for addr in addrs:
        try:
            with urllib.request.urlopen(f"http://{addr}/metrics", timeout=timeout) as resp:
                text = resp.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError, ValueError):
            continue
        part = aggregate(parse(text))
        if part is not None:
            parts.append(part)
    return merge(parts)


def delta(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """Counters over a window; a counter that went down (restart) counts from zero."""
    if before is None:
        return now
    out: dict[str, Any] = {}
    for key, value in now.items():
        if key == "streams_in_flight":
            out[key] = value  # a gauge
        elif isinstance(value, dict):
            old = before.get(key) or {}
            diff = {le: n - old.get(le, 0.0) for le, n in value.items()}
            out[key] = value if any(d < 0 for d in diff.values()) else diff
        else:
            d = value - before.get(key, 0.0)
            out[key] = value if d < 0 else d
    return out


def quantile(q: float, buckets: dict[str, float]) -> float | None:
    """Prometheus ``histogram_quantile``: linear within the bucket; None without data."""
    pairs = sorted((math.inf if le in ("+Inf", "Inf") else float(le), n) for le, n in buckets.items())
    if not pairs or pairs[-1][1] <= 0:
        return None
    total = pairs[-1][1]
    rank = q * total
    prev_le, prev_n = 0.0, 0.0
    for le, n in pairs:
        if n >= rank:
            if math.isinf(le):
                return prev_le  # beyond the last finite bucket: its upper bound, as Prometheus does
            if n == prev_n:
                return le
            return prev_le + (le - prev_le) * (rank - prev_n) / (n - prev_n)
        prev_le, prev_n = le, n
    return prev_le
