"""Fixtures for the simulator tests: one real ``python -m aicore_sim`` subprocess per session."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sim_helpers import Sim

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # plain `pytest` (not `python -m pytest`) does not add the repo root
    sys.path.insert(0, str(REPO))

from aicore_sim.topology import DEFAULT_TOPOLOGY  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sim(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start a simulator subprocess and wait until ``/__sim/health`` answers."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicore_sim", "--port", str(port), "--quiet", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"simulator exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{base}/__sim/health", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("simulator did not become healthy")


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
