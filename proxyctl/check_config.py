"""``proxyctl check-config PATH``: validate a config and report every problem at once."""

from __future__ import annotations

import argparse
import sys

from shared.config import config_problems

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate a config file and list every problem")
    p.add_argument("path", help="the config file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config, problems = config_problems(args.path)
    if config is None:
        print(f"{args.path}: {len(problems)} problem{'s' if len(problems) != 1 else ''}", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"OK: {len(config.model_names)} models, {len(config.sub_accounts)} sub-accounts")
    return 0
