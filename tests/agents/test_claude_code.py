"""Claude Code (the real CLI, pinned in tests/agents/package.json) against both stacks.

For every chat model of the simulator: ``claude -p … --output-format json`` asks for one
Bash call, Claude Code runs it, sends the output back and prints the simulator's answer.
The run must exit 0, finish with the simulator's ``Tool Bash returned: …`` text, and every
upstream call of the run must have been accepted by the simulator.
"""

from __future__ import annotations

import json

from tests.agents import agent_cli
from tests.agents.conftest import AgentRunRecord

TIMEOUT = 120


def test_claude_code_runs_a_tool_round_trip(agent_run: AgentRunRecord) -> None:
    prompt = (
        f'Use the Bash tool with {{"command": "{agent_run.shell_command}", "description": "Print a marker"}}'
        " and report its output."
    )
    env = agent_cli.claude_env(agent_run.home, agent_run.stack_url, "sim-key", agent_run.model, agent_run.model)
    run = agent_cli.run_agent(agent_cli.claude_argv(prompt), env, agent_run.home / "work", TIMEOUT)
    try:
        output = json.loads(run.stdout)
    except ValueError:
        output = {}
    problems = agent_run.problems(run, output.get("result"), "Bash")
    if output and (output.get("is_error") or output.get("subtype") != "success"):
        problems.append(
            f"Claude Code reports an error: subtype={output.get('subtype')!r}, is_error={output.get('is_error')}"
        )
    assert not problems, agent_run.report(run, problems)
