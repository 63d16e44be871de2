"""Read the stacks' ``GET /metrics`` (Prometheus text format): what ``status`` and ``promote`` judge.

Only the ``aicore_proxy_*`` series the gates need are kept, summed over every server of a
stack and over all labels but ``le``: requests by outcome, the latency, time-to-first-token,
overhead and upstream time-to-first-byte histograms (cumulative bucket counts), retries,
failed token fetches and open streams. A stack without them (an older build, or no
``/metrics``) yields ``None``; ``status`` then falls back to HAProxy's counters and
``promote`` refuses to start.

**The failure share** is what the canary gates on: requests whose user did not get a good
answer — ``stream_failed`` and ``stream_timed_out`` (the stream broke after its first byte:
HTTP 200 in every access log and load balancer), ``proxy_failed``, and ``upstream_failed``
answered with a 5xx — over every request but ``refused`` (the client's own mistake: bad
input, wrong key) and ``client_gone`` (the client left). An upstream 4xx passed on (a 429,
a 400 for what the client sent) hits both stacks alike and is not counted.
"""

from __future__ import annotations

import math
import re
import urllib.error
import urllib.request
from typing import Any

__all__ = [
    "FAILED_OUTCOMES",
    "MID_STREAM_OUTCOMES",
    "NOT_JUDGED_OUTCOMES",
    "aggregate",
    "delta",
    "merge",
    "parse",
    "quantile",
    "scrape_stack",
]

PREFIX = "aicore_proxy_"
REQUESTS = f"{PREFIX}requests_total"
# histogram name -> key in the aggregate
HISTOGRAMS = {
    f"{PREFIX}request_duration_seconds_bucket": "duration",
    f"{PREFIX}time_to_first_token_seconds_bucket": "ttft",
    f"{PREFIX}overhead_seconds_bucket": "overhead",
    f"{PREFIX}upstream_time_to_first_byte_seconds_bucket": "upstream_ttfb",
}
MID_STREAM_OUTCOMES = frozenset(("stream_failed", "stream_timed_out"))
FAILED_OUTCOMES = MID_STREAM_OUTCOMES | {"proxy_failed"}  # plus upstream_failed with a 5xx
NOT_JUDGED_OUTCOMES = frozenset(("refused", "client_gone"))
SKIP_ROUTES = {"/health", "/ready", "/metrics"}
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


def _failed(outcome: str, code: str) -> bool:
    return outcome in FAILED_OUTCOMES or (outcome == "upstream_failed" and code.startswith("5"))


def aggregate(samples: list[Sample]) -> dict[str, Any] | None:
    """One server's numbers, or None when the text has none of the ``aicore_proxy_*`` series."""
    agg: dict[str, Any] = {key: {} for key in HISTOGRAMS.values()}
    agg.update(
        outcomes={},
        requests=0.0,
        judged=0.0,
        failures=0.0,
        mid_stream=0.0,
        retries=0.0,
        token_failures=0.0,
        streams_in_flight=0.0,
    )
    seen = False
    for name, labels, value in samples:
        if not name.startswith(PREFIX) or labels.get("route") in SKIP_ROUTES:
            continue
        seen = True
        key = HISTOGRAMS.get(name)
        if key is not None:
            le = labels.get("le", "+Inf")
            agg[key][le] = agg[key].get(le, 0.0) + value
        elif name == REQUESTS:
            outcome = labels.get("outcome", "")
            agg["outcomes"][outcome] = agg["outcomes"].get(outcome, 0.0) + value
            agg["requests"] += value
            if outcome not in NOT_JUDGED_OUTCOMES:
                agg["judged"] += value
            if _failed(outcome, labels.get("code", "")):
                agg["failures"] += value
            if outcome in MID_STREAM_OUTCOMES:
                agg["mid_stream"] += value
        elif name == f"{PREFIX}upstream_retries_total":
            agg["retries"] += value
        elif name == f"{PREFIX}token_fetches_total" and labels.get("result") == "failed":
            agg["token_failures"] += value
        elif name == f"{PREFIX}streams_in_flight":
            agg["streams_in_flight"] += value
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
