"""Record what today's coding agents send, as fixtures for the proxy's translation tests.

    .venv/bin/python -m tests.agents.record_fixtures            # after `make agents`

Runs each installed agent (``.cache/agents``) once per variant against
:mod:`tests.agents.scripted_upstream` with a prompt that asks for one shell tool call, so
every fixture holds the first turn and the second turn that carries the tool result. Writes
``tests/fixtures/agents/<agent>-<version>-<api>[-<variant>].json``; the run's temporary
directory is replaced by ``/tmp/agent-run`` so re-recording the same version changes only
ids. Secrets are redacted by the scripted upstream; ``host`` and ``content-length`` are
left out (they differ per run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.agents import agent_cli
from tests.agents.scripted_upstream import ScriptedUpstream

__all__ = ["VARIANTS", "Variant", "record"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
PLACEHOLDER = "/tmp/agent-run"
MARKER = "agent-tool-ran"
KEY = "sim-key"
CLAUDE_PROMPT = f'Use the Bash tool with {{"command": "echo {MARKER}", "description": "Print a marker"}} and report.'
CODEX_PROMPT = f'Use the exec_command tool with {{"cmd": "echo {MARKER}"}} and report its output.'
_DROPPED_HEADERS = frozenset(("host", "content-length"))


@dataclass(frozen=True)
class Variant:
    """One recorded run: which agent, which model setting, and the file-name suffix."""

    agent: str  # "claude-code" | "codex"
    suffix: str  # "" for the main fixture
    model: str | None
    note: str


VARIANTS = [
    Variant("claude-code", "", "anthropic--claude-4-sonnet",
            "ANTHROPIC_MODEL set to an SAP name, unknown to Claude Code: it sends its newest request shape"),
    Variant("claude-code", "default-model", None,
            "no model configured: the names Claude Code picks by itself"),
    Variant("claude-code", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
            "a name Claude Code knows as a budget-thinking generation"),
    Variant("claude-code", "claude-opus-4-7", "claude-opus-4-7",
            "a name Claude Code knows as an adaptive-only generation"),
    Variant("claude-code", "claude-3-7-sonnet", "claude-3-7-sonnet-20250219",
            "a name Claude Code knows as a generation without thinking or context management"),
    Variant("codex", "", "gpt-5",
            "Codex sends the same request for every model of a custom provider (it has no metadata for them)"),
]  # fmt: skip


def _file_name(variant: Variant, version: str) -> str:
    api = "messages" if variant.agent == "claude-code" else "responses"
    suffix = f"-{variant.suffix}" if variant.suffix else ""
    return f"{variant.agent}-{version}-{api}{suffix}.json"


def _turn_label(exchange: dict[str, Any]) -> str:
    body = exchange.get("body") or {}
    path = exchange["path"].split("?")[0]
    if path.endswith("/count_tokens"):
        return "count_tokens"
    text = json.dumps(body.get("messages") or body.get("input") or [])
    if '"tool_result"' in text or '"function_call_output"' in text:
        return "tool result turn"
    return "first turn"


def record(variant: Variant, timeout: float = 120) -> tuple[Path, dict[str, Any]]:
    """Run one variant against the scripted upstream and return (fixture path, fixture)."""
    package = agent_cli.CLAUDE_PACKAGE if variant.agent == "claude-code" else agent_cli.CODEX_PACKAGE
    version = agent_cli.installed_version(package)
    with ScriptedUpstream() as upstream, tempfile.TemporaryDirectory(prefix="agent-run-") as tmp:
        home = Path(tmp)
        if variant.agent == "claude-code":
            env = agent_cli.claude_env(home, upstream.url, KEY, variant.model, variant.model)
            argv = agent_cli.claude_argv(CLAUDE_PROMPT)
        else:
            agent_cli.write_codex_config(home / ".codex", upstream.url + "/v1", variant.model or "gpt-5")
            env = agent_cli.codex_env(home, KEY)
            argv = agent_cli.codex_argv(CODEX_PROMPT)
        run = agent_cli.run_agent(argv, env, home / "work", timeout)
        if run.returncode != 0 or MARKER not in run.stdout:
            raise RuntimeError(f"{variant.agent} did not finish the tool round trip:\n{run.describe()}")
        exchanges = []
        for exchange in upstream.exchanges:
            headers = {k: v for k, v in sorted(exchange["headers"].items()) if k not in _DROPPED_HEADERS}
            exchanges.append({"turn": _turn_label(exchange), **exchange, "headers": headers})
        shown_env = {k: v for k, v in env.items() if k not in ("PATH", "TMPDIR")}
        fixture = {
            "agent": variant.agent,
            "package": package,
            "version": version,
            "recorded": datetime.date.today().isoformat(),
            "note": variant.note,
            "recorded_by": "python -m tests.agents.record_fixtures (tests/agents/scripted_upstream.py answered)",
            "argv": [Path(argv[0]).name, *argv[1:]],
            "env": {k: ("<redacted>" if "KEY" in k else v) for k, v in shown_env.items()},
            "codex_config": (home / ".codex" / "config.toml").read_text() if variant.agent == "codex" else None,
            "exchanges": exchanges,
        }
        text = json.dumps(fixture, indent=1, ensure_ascii=False).replace(str(home), PLACEHOLDER)
        text = text.replace(upstream.url, "http://127.0.0.1:8080")
    return FIXTURES / _file_name(variant, version), json.loads(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["claude-code", "codex"], help="record one agent only")
    args = parser.parse_args(argv)
    problem = agent_cli.missing_agents()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for variant in VARIANTS:
        if args.only and variant.agent != args.only:
            continue
        path, fixture = record(variant)
        path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n")
        turns = ", ".join(e["turn"] for e in fixture["exchanges"])
        print(f"{path.relative_to(FIXTURES.parents[2])}: {len(fixture['exchanges'])} requests ({turns})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
