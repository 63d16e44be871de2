"""``proxyctl bench``: the Locust benchmark (``python -m loadtests.bench``), run as its own process.

The benchmark lives in ``loadtests/`` and imports ``proxyctl`` to start the servers; this
command only hands its arguments over, so ``proxyctl`` never imports ``loadtests`` (no
import circle) and the profile names are kept once, in ``loadtests/bench/profiles.py``,
which also checks them.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

from proxyctl.runstate import CliError

__all__ = ["add_parser"]

# Runs the benchmark's own entry point under this command's name (the report quotes it).
_ENTRY = "import sys; from loadtests.bench.__main__ import main; sys.exit(main(sys.argv[1:], 'proxyctl bench'))"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark both stacks and the baselines with Locust; write docs/benchmarks/<profile>.md",
        description=(
            "Start the simulator with the profile's latency, both stacks (one worker each), the baselines and "
            "HAProxy, run Locust headless against each, and write a report with charts and the raw CSVs "
            "(python -m loadtests.bench)."
        ),
    )
    p.add_argument(
        "--profile",
        action="append",
        required=True,
        help="a profile of loadtests/bench/profiles.py, or all (repeatable)",
    )
    p.add_argument("--out", help="report directory (default docs/benchmarks; .run/bench-quick with --quick)")
    p.add_argument("--quick", action="store_true", help="seconds-long runs with few users: checks the pipeline only")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("loadtests") is None or importlib.util.find_spec("locust") is None:
        raise CliError("the benchmark needs a source checkout with the bench extra: pip install -e '.[bench]'", 1)
    argv = [f"--profile={name}" for name in args.profile]
    argv += ([f"--out={args.out}"] if args.out else []) + (["--quick"] if args.quick else [])
    return subprocess.run([sys.executable, "-c", _ENTRY, *argv], check=False).returncode
