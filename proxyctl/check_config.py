"""``proxyctl check-config PATH``: validate a config offline and report every problem at once.

Reads the environment like start-up does (``AICORE_SERVICE_KEY_<SUBACCOUNT>``,
``PROXY_API_KEYS``), so a config that keeps its secrets there checks the same. What only
start-up can check — the deployment listing, the service keys' credentials — is listed
as not verified.
"""

from __future__ import annotations

import argparse
import os
import sys

from shared.config import check_config_file

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-config", help="validate a config file and list every problem")
    p.add_argument("path", help="the config file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = check_config_file(args.path, os.environ)
    if report.config is None:
        count = len(report.problems)
        print(f"{args.path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        for problem in report.problems:
            print(f"  {problem}", file=sys.stderr)
    else:
        config = report.config
        print(f"OK: {len(config.model_names)} models, {len(config.sub_accounts)} sub-accounts")
        for notice in config.notices:
            print(f"note: {notice}")
    if report.unverified:
        out = sys.stdout if report.config is not None else sys.stderr
        print("not verified offline (start-up checks these with SAP AI Core):", file=out)
        for item in report.unverified:
            print(f"  {item}", file=out)
    return 0 if report.config is not None else 1
