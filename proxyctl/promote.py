"""``proxyctl promote``: an automated canary in the manner of Flagger / Argo Rollouts.

For each step: set the FastAPI weight, hold, and compare FastAPI with Flask over the
hold window. Checked every ``--interval`` during the hold: FastAPI's error rate (5xx
share, once it has ``--min-requests``) and HAProxy's health checks of the FastAPI
servers. Checked at the end of the hold: enough FastAPI requests, and latency —
p95 (and p95 time-to-first-token) from the stacks' ``/metrics`` histograms when both
stacks have them, else HAProxy's average response time — at most
``--max-latency-ratio`` times Flask's (latencies under ``--latency-floor`` count as the
floor, so a few milliseconds of noise cannot fail a step). At 100 % Flask has no
traffic; its latency from the previous step is the baseline. Any breach sets the
FastAPI weight to 0 at once and exits 1; Ctrl-C also rolls back (exit 130).
"""

from __future__ import annotations

import argparse
import fcntl
import re
import time
from typing import Any

from proxyctl.haproxy import Runtime
from proxyctl.rollout import apply_percent
from proxyctl.runstate import CliError, RunDir, add_common, add_socket
from proxyctl.status import connect, take_snapshot, window_stats

__all__ = ["add_parser", "judge", "run"]


def duration_arg(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*", text)
    if not m or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 500ms, 30s, 5m)")
    return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]


def rate_arg(text: str) -> float:
    pct = text.strip().endswith("%")
    try:
        value = float(text.strip().removesuffix("%")) / (100 if pct else 1)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate (e.g. 1% or 0.01)")
    return value


def ratio_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio >= 1 (e.g. 1.25)")
    return value


def steps_arg(text: str) -> list[int]:
    try:
        steps = [int(s.strip().removesuffix("%")) for s in text.split(",")]
    except ValueError:
        steps = []
    if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise argparse.ArgumentTypeError(f"{text!r}: give increasing percentages 1-100, e.g. 10,50,100")
    return steps


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("promote", help="automated canary: step the FastAPI weight up, roll back on a breach")
    add_common(p)
    add_socket(p)
    p.add_argument("--steps", type=steps_arg, default=[10, 50, 100], help="percentages (default 10,50,100)")
    p.add_argument("--hold", type=duration_arg, default=60.0, help="time at each step (default 60s)")
    p.add_argument("--max-error-rate", type=rate_arg, default=0.01, help="FastAPI 5xx share (default 1%%)")
    p.add_argument("--max-latency-ratio", type=ratio_arg, default=1.25, help="FastAPI/Flask latency (default 1.25)")
    p.add_argument("--min-requests", type=int, default=20, help="FastAPI requests needed per step (default 20)")
    p.add_argument("--latency-floor", type=duration_arg, default=0.05, help="latencies below count as this (50ms)")
    p.add_argument("--interval", type=duration_arg, default=5.0, help="check period during a hold (default 5s)")
    p.set_defaults(func=run)


def _fmt(st: dict[str, Any], key: str) -> str:
    v = st.get(key)
    return "n/a" if v is None else f"{v * 1000:.0f}ms"


def judge(
    stats: dict[str, dict[str, Any]], args: argparse.Namespace, final: bool, baseline: dict[str, float]
) -> str | None:
    """The reason for a breach, or None."""
    fa, fl = stats["fastapi"], stats["flask"]
    if fa["requests"] >= max(args.min_requests, 1) and fa["error_rate"] > args.max_error_rate:
        return (
            f"FastAPI error rate {100 * fa['error_rate']:.2f}% ({fa['errors']}/{fa['requests']}) > "
            f"{100 * args.max_error_rate:.2f}% (Flask: {fl['errors']}/{fl['requests']})"
        )
    if not final:
        return None
    if fa["requests"] < args.min_requests:
        return (
            f"only {fa['requests']} FastAPI requests during the hold (--min-requests {args.min_requests}); "
            "not enough traffic to judge — hold longer or lower --min-requests"
        )
    flask_p95 = fl["p95_s"] if fl["requests"] else baseline.get("p95_s")
    keys = ["p95_s", "ttft_p95_s"] if fa["p95_s"] is not None and flask_p95 is not None else ["avg_s"]
    for key in keys:
        ref = fl[key] if fl["requests"] and fl[key] is not None else baseline.get(key)
        if fa[key] is None or ref is None:
            continue
        limit = args.max_latency_ratio * max(ref, args.latency_floor)
        if fa[key] > limit:
            return (
                f"FastAPI {key[:-2]} {fa[key] * 1000:.0f}ms > {args.max_latency_ratio} x Flask "
                f"{ref * 1000:.0f}ms (floor {args.latency_floor * 1000:.0f}ms)"
            )
    return None


def _down_servers(rt: Runtime) -> list[str]:
    return [r["svname"] for r in rt.servers() if r["stack"] == "fastapi" and not r["status"].startswith("UP")]


def _hold(rd: RunDir, rt: Runtime, step: int, args: argparse.Namespace, baseline: dict[str, float]) -> str | None:
    start = take_snapshot(rt)
    rd.add_snapshot(start)
    t0 = time.monotonic()
    while True:
        remaining = args.hold - (time.monotonic() - t0)
        time.sleep(max(0.0, min(args.interval, remaining)))
        final = time.monotonic() - t0 >= args.hold
        now = take_snapshot(rt)
        current = rt.percent()
        if abs(current - step) > 1:  # weights scaled for big fleets may read 1 % off
            raise CliError(f"the FastAPI weight was changed to {current}% by someone else; promote stops here", 3)
        stats = window_stats(start, now)
        fa, fl = stats["fastapi"], stats["flask"]
        rate = "n/a" if fa["error_rate"] is None else f"{100 * fa['error_rate']:.2f}%"
        print(
            f"  {time.monotonic() - t0:5.1f}s  fastapi {fa['requests']} req, {rate} 5xx, p95 {_fmt(fa, 'p95_s')}, "
            f"avg {_fmt(fa, 'avg_s')} | flask {fl['requests']} req, {fl['errors']} 5xx, p95 {_fmt(fl, 'p95_s')}, "
            f"avg {_fmt(fl, 'avg_s')}",
            flush=True,
        )
        down = _down_servers(rt)
        reason = f"FastAPI server(s) {', '.join(down)} failing HAProxy's health check" if down else None
        reason = reason or judge(stats, args, final, baseline)
        if reason or final:
            if final:
                rd.add_snapshot(now)
                for key in ("p95_s", "ttft_p95_s", "avg_s"):
                    if fl["requests"] and fl[key] is not None:
                        baseline[key] = fl[key]
            return reason


def run(args: argparse.Namespace) -> int:
    if args.min_requests < 0:
        raise CliError("--min-requests must be 0 or more")
    rd, rt = connect(args)
    with open(rd.file("promote.lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise CliError(f"another `proxyctl promote` is running on {rd.path}") from None
        baseline: dict[str, float] = {}
        try:
            for step in args.steps:
                before, _, _ = apply_percent(rd, rt, step, "promote")
                print(f"step {step}%: FastAPI {before}% -> {step}%, holding {args.hold:g}s", flush=True)
                reason = _hold(rd, rt, step, args, baseline)
                if reason:
                    apply_percent(rd, rt, 0, "promote-rollback")
                    print(f"BREACH at {step}%: {reason}\nrolled back: FastAPI 0%, every new request goes to Flask")
                    return 1
                print(f"step {step}%: passed", flush=True)
        except KeyboardInterrupt:
            apply_percent(rd, rt, 0, "promote-interrupted")
            print("\ninterrupted: rolled back to FastAPI 0% (`proxyctl rollout N` sets a weight by hand)")
            return 130
    final = args.steps[-1]
    print(f"promoted: FastAPI serves {final}% of new requests" + (" — the rollout is complete" if final == 100 else ""))
    return 0
