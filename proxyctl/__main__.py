"""Command line entry point: ``proxyctl <command>`` (also ``python -m proxyctl``)."""

from __future__ import annotations

import argparse
import sys

from proxyctl import parity, up

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="proxyctl", description="Run and operate the Flask and FastAPI proxy stacks.")
    sub = parser.add_subparsers(dest="command", required=True)
    up.add_parser(sub)
    parity.add_parser(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
