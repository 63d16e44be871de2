"""``proxyctl promote``: an automated canary in the manner of Flagger / Argo Rollouts.

Before the first step it checks that both stacks are healthy and scraped — every server UP
in HAProxy, ``GET /ready`` 200 on each, and ``aicore_proxy_*`` series in each stack's
``/metrics`` — and refuses to start otherwise (exit 2): a canary that cannot see the stacks
would pass anything. Then, for each step: set the FastAPI weight, hold, and compare FastAPI
with Flask over the hold window (docs/rollout.md lists every gate and its default).

Checked every ``--interval`` during the hold: FastAPI's failure share — requests whose user
got no good answer, streams that broke after their first byte included
(:mod:`proxyctl.metrics`) — once it has ``--min-requests``, and HAProxy's health checks of
the FastAPI servers. Checked at the end of the hold: enough FastAPI requests, then each
FastAPI/Flask ratio: p95 latency (``--max-latency-ratio``), p50 and p95 time to first token
(``--max-ttft-ratio``), p50 and p95 of the proxy's own overhead (``--max-overhead-ratio``).
Values under a floor count as the floor (``--latency-floor``, ``--overhead-floor``), so a
few milliseconds of noise cannot fail a step. At 100 % Flask has no traffic; its numbers
from the previous step are the baseline. Any breach sets the FastAPI weight to 0 at once
and exits 1; Ctrl-C also rolls back (exit 130).
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
from proxyctl.status import connect, direct_health, take_snapshot, window_stats

__all__ = ["COMPARED", "add_parser", "judge", "preflight", "run"]

# The end-of-hold comparisons: (stats key, ratio option, floor option).
COMPARED = (
    ("p95_s", "max_latency_ratio", "latency_floor"),
    ("ttft_p50_s", "max_ttft_ratio", "latency_floor"),
    ("ttft_p95_s", "max_ttft_ratio", "latency_floor"),
    ("overhead_p50_s", "max_overhead_ratio", "overhead_floor"),
    ("overhead_p95_s", "max_overhead_ratio", "overhead_floor"),
)


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
    p.add_argument(
        "--max-failure-rate",
        "--max-error-rate",
        dest="max_failure_rate",
        type=rate_arg,
        default=0.01,
        help="FastAPI failure share, mid-stream failures included (default 1%%)",
    )
    p.add_argument("--min-requests", type=int, default=20, help="FastAPI requests needed per step (default 20)")
    p.add_argument("--max-latency-ratio", type=ratio_arg, default=1.25, help="FastAPI/Flask p95 latency (default 1.25)")
    p.add_argument(
        "--max-ttft-ratio", type=ratio_arg, default=1.25, help="FastAPI/Flask time to first token, p50 and p95 (1.25)"
    )
    p.add_argument(
        "--max-overhead-ratio", type=ratio_arg, default=1.5, help="FastAPI/Flask proxy overhead, p50 and p95 (1.5)"
    )
    p.add_argument("--latency-floor", type=duration_arg, default=0.05, help="latency/TTFT below count as this (50ms)")
    p.add_argument("--overhead-floor", type=duration_arg, default=0.01, help="overhead below counts as this (10ms)")
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
    if fa["requests"] >= max(args.min_requests, 1) and (fa["failure_rate"] or 0.0) > args.max_failure_rate:
        mid = fa.get("mid_stream_failures")
        where = f", {mid} of them mid-stream" if mid else ""
        return (
            f"FastAPI failure rate {100 * fa['failure_rate']:.2f}% ({fa['failures']}/{fa['requests']}{where}) > "
            f"{100 * args.max_failure_rate:.2f}% (Flask: {fl['failures']}/{fl['requests']})"
        )
    if not final:
        return None
    if fa["requests"] < args.min_requests:
        return (
            f"only {fa['requests']} FastAPI requests during the hold (--min-requests {args.min_requests}); "
            "not enough traffic to judge — hold longer or lower --min-requests"
        )
    with_metrics = fa.get("source") == "metrics" and (fl.get("source") == "metrics" or not fl["requests"])
    compared = COMPARED if with_metrics else (("avg_s", "max_latency_ratio", "latency_floor"),)
    for key, ratio_name, floor_name in compared:
        ref = fl[key] if fl["requests"] and fl.get(key) is not None else baseline.get(key)
        if fa.get(key) is None or ref is None:
            continue
        ratio, floor = getattr(args, ratio_name), getattr(args, floor_name)
        if max(fa[key], floor) > ratio * max(ref, floor):
            return (
                f"FastAPI {key[:-2]} {fa[key] * 1000:.1f}ms > {ratio} x Flask {ref * 1000:.1f}ms "
                f"(floor {floor * 1000:.0f}ms)"
            )
    return None


def preflight(rt: Runtime, snapshot: dict[str, Any]) -> str | None:
    """Why the stacks cannot be judged (None: both healthy and scraped)."""
    problems = []
    for row in rt.servers():
        if not row["status"].startswith("UP"):
            problems.append(f"{row['svname']} is {row['status']} in HAProxy")
        elif (ready := direct_health(row["addr"], path="/ready")) != "200":
            problems.append(f"{row['svname']} ({row['addr']}) answers GET /ready with {ready}")
    for stack, found in (snapshot.get("metrics") or {}).items():
        if found is None:
            problems.append(f"the {stack} stack serves no aicore_proxy_* metrics on GET /metrics")
    return "; ".join(problems) or None


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
        rate = "n/a" if fa["failure_rate"] is None else f"{100 * fa['failure_rate']:.2f}%"
        print(
            f"  {time.monotonic() - t0:5.1f}s  fastapi {fa['requests']} req, {rate} failed "
            f"({fa['mid_stream_failures']} mid-stream), p95 {_fmt(fa, 'p95_s')}, TTFT p95 {_fmt(fa, 'ttft_p95_s')}, "
            f"overhead p95 {_fmt(fa, 'overhead_p95_s')} | flask {fl['requests']} req, {fl['failures']} failed, "
            f"p95 {_fmt(fl, 'p95_s')}, TTFT p95 {_fmt(fl, 'ttft_p95_s')}, overhead p95 {_fmt(fl, 'overhead_p95_s')}",
            flush=True,
        )
        down = _down_servers(rt)
        reason = f"FastAPI server(s) {', '.join(down)} failing HAProxy's health check" if down else None
        reason = reason or judge(stats, args, final, baseline)
        if reason or final:
            if final:
                rd.add_snapshot(now)
                for key in (*(c[0] for c in COMPARED), "avg_s"):
                    if fl["requests"] and fl.get(key) is not None:
                        baseline[key] = fl[key]
            return reason


def run(args: argparse.Namespace) -> int:
    if args.min_requests < 0:
        raise CliError("--min-requests must be 0 or more")
    rd, rt = connect(args)
    problem = preflight(rt, take_snapshot(rt))
    if problem:
        raise CliError(f"promote refused before the first step: {problem}", 2)
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
