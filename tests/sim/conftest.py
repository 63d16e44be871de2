"""Fixtures for the simulator tests: one real ``python -m aicore_sim`` subprocess per session."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sim_helpers import REPO, Sim, start_sim

if str(REPO) not in sys.path:  # plain `pytest` (not `python -m pytest`) does not add the repo root
    sys.path.insert(0, str(REPO))

from aicore_sim.topology import DEFAULT_TOPOLOGY  # noqa: E402


def build_topology() -> dict:
    """The default topology plus two Gemini deployments with the other stream framings."""
    topo = copy.deepcopy(DEFAULT_TOPOLOGY)
    topo["subaccounts"][0]["deployments"] += [
        {"id": "da-gemini-jsonl", "model": "gemini-2.5-flash", "family": "gemini", "gemini_stream_format": "jsonl"},
        {"id": "da-gemini-array", "model": "gemini-2.5-flash", "family": "gemini", "gemini_stream_format": "array"},
    ]
    return topo


@pytest.fixture(scope="session")
def sim_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("sim") / "topology.json"
    path.write_text(json.dumps(build_topology()))
    proc, base = start_sim("--topology", str(path), "--journal-size", "5000")
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def sim(sim_process: str) -> Iterator[Sim]:
    helper = Sim(sim_process)
    helper.control("POST", "reset", {"settings": True})
    yield helper
    helper.close()
