"""``proxyctl status``: weights, health and per-stack numbers over a recent window.

Numbers come from counter *snapshots*: each stack's ``/metrics`` (``aicore_proxy_*``:
requests by outcome, the failure share — mid-stream failures included — and p50/p95 of
latency, time to first token and the proxy's own overhead; :mod:`proxyctl.metrics` says
what counts as a failure), plus HAProxy's ``show stat`` (requests, 5xx and average response
time per server, always there; the fallback when a stack serves no metrics). The
FastAPI/Flask ratios of those quantiles are what ``promote`` gates on. Every ``status``
stores its snapshot in the run directory; the window is measured against the newest stored
snapshot at least ``--window`` seconds old (or the oldest one there is), and when there is
none ``status`` samples for ``--sample`` seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from proxyctl import metrics
from proxyctl.haproxy import BACKEND, STACKS, Runtime
from proxyctl.runstate import CliError, RunDir, add_common, add_socket

__all__ = ["RATIO_KEYS", "add_parser", "connect", "direct_health", "ratios", "run", "take_snapshot", "window_stats"]

PROXIES = (BACKEND, "be_flask", "be_fastapi")
COUNTERS = ("req_tot", "hrsp_5xx", "eresp", "econ")
# The quantiles compared FastAPI/Flask: (key, histogram in the metrics aggregate, q).
QUANTILES = (
    ("p50_s", "duration", 0.5),
    ("p95_s", "duration", 0.95),
    ("ttft_p50_s", "ttft", 0.5),
    ("ttft_p95_s", "ttft", 0.95),
    ("overhead_p50_s", "overhead", 0.5),
    ("overhead_p95_s", "overhead", 0.95),
    ("upstream_ttfb_p50_s", "upstream_ttfb", 0.5),
)
RATIO_KEYS = ("p95_s", "ttft_p50_s", "ttft_p95_s", "overhead_p50_s", "overhead_p95_s")


def connect(args: argparse.Namespace) -> tuple[RunDir, Runtime]:
    """The running HAProxy's Runtime API, or a clear CliError when nothing is up."""
    rd = RunDir(args.run_dir)
    address = getattr(args, "socket", None) or (rd.state() or {}).get("socket") or str(rd.socket)
    rt = Runtime(address)
    if not rt.alive():
        raise CliError(
            f"nothing is up: no HAProxy answers on {address} (start it with `proxyctl up`, "
            "or pass --run-dir/--socket of the running one)"
        )
    return rd, rt


def take_snapshot(rt: Runtime, with_metrics: bool = True) -> dict[str, Any]:
    rows = [r for r in rt.show_stat() if r["pxname"] in PROXIES and r["svname"] not in ("FRONTEND", "BACKEND")]
    servers = {}
    for r in rows:
        entry: dict[str, Any] = {k: int(r.get(k) or 0) for k in COUNTERS}
        entry.update(stack=r["svname"].split("_")[0], ttime=int(r.get("ttime") or 0), addr=r.get("addr", ""))
        servers[f"{r['pxname']}/{r['svname']}"] = entry
    info = dict(ln.split(": ", 1) for ln in rt.command("show info").splitlines() if ": " in ln)
    snap: dict[str, Any] = {"t": time.time(), "haproxy_pid": info.get("Pid"), "servers": servers, "metrics": {}}
    if with_metrics:
        for stack in STACKS:
            addrs = sorted({s["addr"] for s in servers.values() if s["stack"] == stack and s["addr"]})
            snap["metrics"][stack] = metrics.scrape_stack(addrs)
    return snap


def window_stats(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per stack over the window between two snapshots.

    ``requests``/``failures`` come from the stack's metrics when it serves them (the
    failure share of :mod:`proxyctl.metrics`), plus the exchanges HAProxy itself turned
    into a 502/503 (the request never reached a record); otherwise from HAProxy alone
    (5xx answers). ``source`` says which.
    """
    out: dict[str, dict[str, Any]] = {}
    for stack in STACKS:
        answered = errors_5xx = lost = 0
        weighted_ms = 0.0
        for key, now in after["servers"].items():
            if now["stack"] != stack:
                continue
            old = before["servers"].get(key)
            if old is None or now["req_tot"] < old["req_tot"] or before.get("haproxy_pid") != after.get("haproxy_pid"):
                # a new server, or HAProxy reloaded/restarted (counters start again at zero)
                old = {k: 0 for k in COUNTERS}
            n = now["req_tot"] - old["req_tot"]
            answered += n
            errors_5xx += now["hrsp_5xx"] - old["hrsp_5xx"]
            # failed exchanges HAProxy answered with its own 502/503
            lost += sum(now[k] - old[k] for k in ("eresp", "econ"))
            weighted_ms += n * now["ttime"]
        st: dict[str, Any] = {
            "source": "haproxy",
            "requests": answered + lost,
            "failures": errors_5xx + lost,
            "mid_stream_failures": None,
            "retries": None,
            "token_failures": None,
            "avg_s": weighted_ms / answered / 1000 if answered else None,
            "streams_in_flight": None,
            **{key: None for key, _, _ in QUANTILES},
        }
        m_now = (after.get("metrics") or {}).get(stack)
        if m_now:
            m = metrics.delta(m_now, (before.get("metrics") or {}).get(stack))
            st.update(
                source="metrics",
                requests=int(m["judged"]) + lost,
                failures=int(m["failures"]) + lost,
                mid_stream_failures=int(m["mid_stream"]),
                retries=int(m["retries"]),
                token_failures=int(m["token_failures"]),
                streams_in_flight=m["streams_in_flight"],
                **{key: metrics.quantile(q, m[hist]) for key, hist, q in QUANTILES},
            )
        st["failure_rate"] = st["failures"] / st["requests"] if st["requests"] else None
        out[stack] = st
    return out


def ratios(stacks: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """FastAPI/Flask of each compared quantile (None where either has no data)."""
    fa, fl = stacks["fastapi"], stacks["flask"]
    return {key: (fa[key] / fl[key] if fa.get(key) is not None and fl.get(key) else None) for key in RATIO_KEYS}


def direct_health(addr: str, timeout: float = 2.0, path: str = "/health") -> str:
    """The status code of ``GET path`` on one server, or ``down (why)``."""
    try:
        with urllib.request.urlopen(f"http://{addr}{path}", timeout=timeout) as resp:
            return str(resp.status)
    except urllib.error.HTTPError as err:
        return str(err.code)
    except (urllib.error.URLError, OSError) as exc:
        return f"down ({getattr(exc, 'reason', exc)})"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("status", help="weights, health and per-stack requests, errors, latency over a window")
    add_common(p)
    add_socket(p)
    p.add_argument("--window", type=float, default=60.0, help="seconds to report over (default 60)")
    p.add_argument("--sample", type=float, default=5.0, help="seconds to sample when no earlier snapshot exists")
    p.add_argument("--watch", type=float, metavar="SECONDS", help="repeat every SECONDS until Ctrl-C")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def report(rd: RunDir, rt: Runtime, window: float, sample: float) -> dict[str, Any]:
    now = take_snapshot(rt)
    # The newest snapshot at least `window` old (but not stale), else the oldest younger one.
    ages = [(now["t"] - s["t"], s) for s in rd.snapshots() if s.get("haproxy_pid") == now["haproxy_pid"]]
    ripe = [s for age, s in ages if window <= age <= 2 * window]
    partial = [s for age, s in ages if 1.0 <= age < window]
    before = ripe[-1] if ripe else (partial[0] if partial else None)
    if before is None:
        rd.add_snapshot(now)
        time.sleep(sample)
        before, now = now, take_snapshot(rt)
    rd.add_snapshot(now)
    servers = []
    for row in rt.servers():
        servers.append(
            {
                "name": row["svname"],
                "stack": row["stack"],
                "addr": row["addr"],
                "weight": int(row["weight"] or 0),
                "haproxy": f"{row['status']} {row['check_status']}".strip(),
                "health": direct_health(row["addr"]),
                "ready": direct_health(row["addr"], path="/ready"),
            }
        )
    stacks = window_stats(before, now)
    return {
        "fastapi_percent": rt.percent(),
        "persisted_percent": rd.weight(),
        "servers": servers,
        "window_s": round(now["t"] - before["t"], 1),
        "latency_source": "metrics" if all((now.get("metrics") or {}).get(s) for s in STACKS) else "haproxy",
        "stacks": stacks,
        "ratios": ratios(stacks),
    }


def _ms(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 1000:.0f}ms"


def _pair(st: dict[str, Any], key: str) -> str:
    return f"{_ms(st[f'{key}_p50_s'])}/{_ms(st[f'{key}_p95_s'])}"


def render(doc: dict[str, Any]) -> str:
    lines = [f"rollout: FastAPI {doc['fastapi_percent']}% of new requests (persisted: {doc['persisted_percent']}%)", ""]
    lines.append(f"{'server':<12} {'stack':<8} {'address':<22} {'weight':>6}  {'haproxy check':<16} /health /ready")
    for s in doc["servers"]:
        lines.append(
            f"{s['name']:<12} {s['stack']:<8} {s['addr']:<22} {s['weight']:>6}  {s['haproxy']:<16} "
            f"{s['health']:<7} {s['ready']}"
        )
    lines += [
        "",
        f"last {doc['window_s']:.0f}s (from {doc['latency_source']}; failures = no good answer, mid-stream "
        "included; p50/p95)",
    ]
    lines.append(
        f"{'stack':<8} {'requests':>8} {'failed':>6} {'fail%':>6} {'mid-stream':>10} {'latency':>13} "
        f"{'TTFT':>13} {'overhead':>13} {'HAProxy avg':>11} {'streams open':>12}"
    )
    for name, st in doc["stacks"].items():
        rate = "n/a" if st["failure_rate"] is None else f"{100 * st['failure_rate']:.2f}%"
        mid = "n/a" if st["mid_stream_failures"] is None else str(st["mid_stream_failures"])
        open_ = "n/a" if st["streams_in_flight"] is None else f"{st['streams_in_flight']:.0f}"
        latency = f"{_ms(st['p50_s'])}/{_ms(st['p95_s'])}"
        lines.append(
            f"{name:<8} {st['requests']:>8} {st['failures']:>6} {rate:>6} {mid:>10} {latency:>13} "
            f"{_pair(st, 'ttft'):>13} {_pair(st, 'overhead'):>13} {_ms(st['avg_s']):>11} {open_:>12}"
        )
    shown = [f"{key.removesuffix('_s')} {value:.2f}" for key, value in doc["ratios"].items() if value is not None]
    lines.append("FastAPI/Flask: " + (", ".join(shown) if shown else "n/a (needs both stacks' metrics and traffic)"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.window <= 0 or args.sample <= 0 or (args.watch is not None and args.watch <= 0):
        raise CliError("--window, --sample and --watch must be positive")
    rd, rt = connect(args)
    try:
        while True:
            doc = report(rd, rt, args.window, args.sample)
            print(json.dumps(doc) if args.json else render(doc), flush=True)
            if args.watch is None:
                return 0
            time.sleep(args.watch)
            if not args.json:
                print()
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"proxyctl status: lost HAProxy: {exc}", file=sys.stderr)
        return 1
