"""``proxyctl bench``: run the Locust benchmark profiles and write the reports (docs/benchmarks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from proxyctl.runstate import CliError

__all__ = ["add_parser"]

PROFILE_NAMES = ("overhead", "realistic", "slow-upstream")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark both stacks and the baselines with Locust; write docs/benchmarks/<profile>.md",
        description=(
            "Start the simulator with the profile's latency, both stacks (one worker each), the baselines and "
            "HAProxy, run Locust headless against each, and write a report with charts and the raw CSVs."
        ),
    )
    p.add_argument(
        "--profile",
        action="append",
        required=True,
        help=f"{', '.join(PROFILE_NAMES)} or all (repeatable)",
    )
    p.add_argument("--out", type=Path, help="report directory (default docs/benchmarks; .run/bench-quick with --quick)")
    p.add_argument("--quick", action="store_true", help="seconds-long runs with few users: checks the pipeline only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names: list[str] = []
    for item in args.profile:
        for name in item.split(","):
            name = name.strip()
            chosen = list(PROFILE_NAMES) if name == "all" else [name]
            names += [n for n in chosen if n not in names]
    bad = [n for n in names if n not in PROFILE_NAMES]
    if bad:
        raise CliError(f"unknown profile {', '.join(map(repr, bad))}: choose from {', '.join(PROFILE_NAMES)} or all")
    try:
        from loadtests.bench.runner import run_profiles
    except ImportError as exc:  # locust/matplotlib missing: the bench extra is not installed
        raise CliError(f"the benchmark needs the bench extra: pip install -e '.[bench]' ({exc})", 1) from None
    command = "proxyctl bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else "proxyctl bench"
    return run_profiles(names, args.out, args.quick, command)
