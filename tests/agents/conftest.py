"""Agent-tier fixtures: the contract suite's processes, the models to cover, one run's bookkeeping.

The simulator and both stacks come from ``tests/contract/conftest.py`` (imported, not copied:
the same processes, config and ``PROXY_TEST_*_URL`` overrides). Each test module
parametrizes over ``stack`` × ``model``; the models are every chat model of the
simulator's topology — ``GET /__sim/topology`` of ``PROXY_TEST_SIM_URL`` when given, else the
built-in topology the suite's simulator serves — so a deployment added there is covered
without editing this tier (``test_every_served_model_is_covered`` checks the running
simulator against the collected list).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from aicore_sim.topology import DEFAULT_TOPOLOGY
from tests.agents import agent_cli
from tests.contract.conftest import STACKS, Sim, proxy_config, run_dir, sim, stack_urls

__all__ = ["AgentRunRecord", "chat_models", "proxy_config", "run_dir", "sim", "stack_urls"]

RUN_TAG = "agent-run-"  # every prompt carries RUN_TAG + a unique id: it marks the run's upstream calls


def chat_models(topology: dict[str, Any]) -> list[str]:
    """Every chat model of a topology document (the shape of ``GET /__sim/topology``), in order."""
    seen: dict[str, None] = {}
    for sub in topology.get("subaccounts") or []:
        for dep in sub.get("deployments") or []:
            if dep.get("kind", "chat") == "chat":
                seen.setdefault(dep["model"], None)
    return list(seen)


def collected_topology() -> dict[str, Any]:
    external = os.environ.get("PROXY_TEST_SIM_URL")
    if external:
        return dict(httpx.get(f"{external}/__sim/topology", timeout=10).json())
    return DEFAULT_TOPOLOGY


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model" in metafunc.fixturenames:
        metafunc.parametrize("model", chat_models(collected_topology()))
    if "stack_name" in metafunc.fixturenames:
        metafunc.parametrize("stack_name", STACKS)


@pytest.fixture(scope="session")
def agents_ready() -> None:
    """Skip only without npm; with npm, the pinned agents must be installed (``make agents``)."""
    reason = agent_cli.npm_missing()
    if reason:
        pytest.skip(reason)
    missing = agent_cli.missing_agents()
    if missing:
        pytest.fail(missing, pytrace=False)


@dataclass
class AgentRunRecord:
    """One agent run's identity and what the simulator saw during it."""

    sim: Sim
    stack: str
    stack_url: str
    model: str
    home: Path
    log_dir: Path
    run_id: str = field(default_factory=lambda: RUN_TAG + uuid.uuid4().hex[:12])
    since: int = 0

    @property
    def expected_output(self) -> str:
        """What the shell command prints; the prompt holds the command, never this text."""
        return f"tool-ran-42-{self.run_id}"

    @property
    def shell_command(self) -> str:
        return f"echo tool-ran-$((40+2))-{self.run_id}"

    def upstream_calls(self) -> list[dict[str, Any]]:
        """Deployment calls since the run started that belong to it.

        A call belongs to the run when its body carries the run's id, or no run id at all
        (a background call without the prompt) — so runs in parallel do not see each other.
        """
        mine = []
        for entry in self.sim.calls(self.since):
            text = json.dumps(entry.get("json"))
            if self.run_id in text or RUN_TAG not in text:
                mine.append(entry)
        return mine

    def problems(self, run: agent_cli.AgentRun, final_text: str | None, tool: str) -> list[str]:
        """Everything that keeps this run from being a clean tool round trip (empty: all good)."""
        found = []
        if run.returncode is None:
            found.append(f"the agent did not finish within {run.seconds:.0f} s and was killed")
        elif run.returncode != 0:
            found.append(f"the agent exited with {run.returncode}")
        calls = self.upstream_calls()
        if not calls:
            found.append("no call reached the simulator")
        found += [f"refused upstream call: {r}" for r in self.sim.refusals(calls)[:5]]
        answered = [e for e in calls if e.get("status") == 200]
        if not any(self.expected_output in json.dumps(e.get("json")) for e in answered):
            found.append(f"no answered upstream call carried the tool's output {self.expected_output!r}: no round trip")
        answer = f"Tool {tool} returned:"
        if final_text is None or answer not in final_text or self.expected_output not in final_text:
            found.append(f"the agent's final text is not the simulator's answer ({answer} ...): {final_text!r}")
        return found

    def report(self, run: agent_cli.AgentRun, problems: list[str]) -> str:
        """The failure message: what went wrong, the agent's own output, the stack's log."""
        return "\n".join(
            [
                f"{self.stack} / {self.model}:",
                *(f"- {p}" for p in problems),
                run.describe(),
                f"--- {self.stack} log (tail) ---",
                self.stack_log_tail(),
            ]
        )

    def stack_log_tail(self, lines: int = 25) -> str:
        path = self.log_dir / f"{self.stack}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no stack log: the stack was started outside the suite)"


@pytest.fixture
def agent_run(
    agents_ready: None,
    sim: Sim,
    stack_urls: dict[str, str],
    stack_name: str,
    model: str,
    run_dir: Path,
    tmp_path: Path,
) -> Iterator[AgentRunRecord]:
    record = AgentRunRecord(sim, stack_name, stack_urls[stack_name], model, tmp_path / "home", run_dir)
    record.since = sim.mark()
    yield record
