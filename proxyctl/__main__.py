"""Command line entry point: ``proxyctl <command>`` (also ``python -m proxyctl``)."""

from __future__ import annotations

import argparse
import sys

from proxyctl import bench, check_config, models, parity, promote, rollout, serve, status, up
from proxyctl.runstate import CliError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxyctl", description="Run and operate the Flask and FastAPI proxy stacks.")
    sub = parser.add_subparsers(dest="command", required=True)
    up.add_parser(sub)
    serve.add_parser(sub)
    rollout.add_parsers(sub)
    status.add_parser(sub)
    promote.add_parser(sub)
    parity.add_parser(sub)
    models.add_parser(sub)
    check_config.add_parser(sub)
    bench.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"proxyctl {args.command}: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    sys.exit(main())
