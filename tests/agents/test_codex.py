"""Codex (the real CLI, pinned in tests/agents/package.json) against both stacks.

For every chat model of the simulator: ``codex exec --json …`` with the proxy as its only
model provider (``wire_api = "responses"``) asks for one ``exec_command`` call, Codex runs
it, sends the output back and ends with the simulator's answer. The run must exit 0, the
command must have run, the last agent message must be the simulator's
``Tool exec_command returned: …`` text, and every upstream call of the run must have been
accepted by the simulator.
"""

from __future__ import annotations

import json

from tests.agents import agent_cli
from tests.agents.conftest import AgentRunRecord

TIMEOUT = 120


def test_codex_runs_a_tool_round_trip(agent_run: AgentRunRecord) -> None:
    prompt = f'Use the exec_command tool with {{"cmd": "{agent_run.shell_command}"}} and report its output.'
    agent_cli.write_codex_config(agent_run.home / ".codex", f"{agent_run.stack_url}/v1", agent_run.model)
    env = agent_cli.codex_env(agent_run.home, "sim-key")
    run = agent_cli.run_agent(agent_cli.codex_argv(prompt), env, agent_run.home / "work", TIMEOUT)
    events = run.json_lines()
    items = [e["item"] for e in events if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)]
    messages = [i.get("text") for i in items if i.get("type") == "agent_message"]
    problems = agent_run.problems(run, messages[-1] if messages else None, "exec_command")
    commands = [i for i in items if i.get("type") == "command_execution"]
    if not any(
        c.get("exit_code") == 0 and agent_run.expected_output in (c.get("aggregated_output") or "") for c in commands
    ):
        problems.append(f"Codex did not run the command successfully: {json.dumps(commands)[:800]}")
    failures = [e for e in events if e.get("type") in ("turn.failed", "error")]
    if failures or not any(e.get("type") == "turn.completed" for e in events):
        problems.append(f"Codex did not complete the turn: {json.dumps(failures)[:1500]}")
    assert not problems, agent_run.report(run, problems)
