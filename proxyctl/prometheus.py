"""Prometheus beside HAProxy (``proxyctl up --prometheus``): a live side-by-side of the two stacks.

The Debian ``prometheus`` server (``make prometheus`` installs it) scrapes every server of
each stack directly — as docs/operations.md recommends, not through the frontend — with a
job per stack, and evaluates ``deploy/prometheus/rules.yml`` when the source tree is there
(an installed wheel has no ``deploy/``; the rules file can then be passed in by hand). Its
data lives in the run directory, so ``proxyctl down`` leaves nothing elsewhere.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from proxyctl.procs import ROOT

__all__ = ["RULES", "config", "find_binary"]

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"


def find_binary() -> str | None:
    return shutil.which("prometheus", path="/usr/bin:/usr/local/bin:/usr/sbin:/usr/local/sbin") or shutil.which(
        "prometheus"
    )


def config(stacks: dict[str, list[str]], interval_s: float, rules: Path | None = RULES) -> str:
    """A ``prometheus.yml`` (JSON is YAML) scraping ``stack -> [host:port]`` every ``interval_s``."""
    every = f"{interval_s:g}s"
    doc: dict[str, Any] = {
        "global": {"scrape_interval": every, "evaluation_interval": every},
        "scrape_configs": [
            {"job_name": f"aicore-proxy-{stack}", "static_configs": [{"targets": addrs}]}
            for stack, addrs in stacks.items()
        ],
    }
    if rules is not None and rules.is_file():
        doc["rule_files"] = [str(rules)]
    return json.dumps(doc, indent=2) + "\n"
