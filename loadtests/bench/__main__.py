"""``python -m loadtests.bench`` (what ``proxyctl bench`` and ``make bench`` run): profiles to reports.

The profile names live once, in :mod:`loadtests.bench.profiles`; this is the only place
that parses a benchmark command line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .profiles import PROFILES
from .runner import run_profiles

__all__ = ["main", "parser"]


def parser(prog: str = "python -m loadtests.bench") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Start the simulator with the profile's latency, both stacks (one worker each), the baselines and "
            "HAProxy, run Locust headless against each, and write a report with charts and the raw CSVs."
        ),
    )
    p.add_argument("--profile", action="append", required=True, help=f"{', '.join(PROFILES)} or all (repeatable)")
    p.add_argument("--out", type=Path, help="report directory (default docs/benchmarks; .run/bench-quick with --quick)")
    p.add_argument("--quick", action="store_true", help="seconds-long runs with few users: checks the pipeline only")
    return p


def main(argv: list[str] | None = None, prog: str = "python -m loadtests.bench") -> int:
    args = parser(prog).parse_args(argv)
    names: list[str] = []
    for item in args.profile:
        for name in (n.strip() for n in item.split(",")):
            names += [n for n in (list(PROFILES) if name == "all" else [name]) if n not in names]
    bad = [n for n in names if n not in PROFILES]
    if bad:
        print(
            f"{prog}: unknown profile {', '.join(map(repr, bad))}: choose from {', '.join(PROFILES)} or all",
            file=sys.stderr,
        )
        return 2
    command = " ".join([prog, *(sys.argv[1:] if argv is None else argv)])
    return run_profiles(names, args.out, args.quick, command)


if __name__ == "__main__":
    sys.exit(main())
