"""Today's agents' recorded requests, replayed on both stacks against every simulated model.

``tests/fixtures/agents/`` holds what Claude Code and Codex sent on the day they were
recorded (first turn and tool-result turn). Each request goes to every chat model of the
simulator, with its model name swapped in, through each stack: the client must get a
complete answer and SAP AI Core (the simulator, whose rules are written from the
services' documentation) must refuse none of the calls the proxy made — the proxy fits
each request to the model instead of forwarding what the upstream would refuse. What it
left out shows in ``/metrics``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.agents.conftest import chat_models
from tests.contract.conftest import Sim, Stack
from tests.contract.test_metrics import Scrape

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents"


def recorded(prefix: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(id, body, headers) of every recorded request whose file starts with ``prefix``."""
    out = []
    for path in sorted(FIXTURES.glob(f"{prefix}*.json")):
        doc = json.loads(path.read_text())
        for exchange in doc["exchanges"]:
            headers = {k: v for k, v in exchange["headers"].items() if k.startswith("anthropic-")}
            out.append((f"{path.stem}#{exchange['turn']}", exchange["body"], headers))
    return out


CLAUDE_CODE = recorded("claude-code-")
CODEX = recorded("codex-")


@pytest.fixture(scope="module")
def models(sim: Sim) -> list[str]:
    return chat_models(sim.client.get("/__sim/topology").json())


def replay(stack: Stack, sim: Sim, path: str, body: dict[str, Any], headers: dict[str, str]) -> list[str]:
    """Send ``body`` (a stream) and read it to the end; the refusals the simulator journaled, and a failed answer."""
    mark = sim.mark()
    with stack.client() as client, client.stream("POST", path, json=body, headers=headers, timeout=60) as resp:
        text = "".join(resp.iter_text())
    problems = sim.refusals(sim.calls(mark))
    if resp.status_code != 200 or "event: error" in text or "response.failed" in text:
        problems.append(f"the client got {resp.status_code}: {text[-400:]}")
    return problems


@pytest.mark.parametrize(("name", "body", "headers"), CLAUDE_CODE, ids=[c[0] for c in CLAUDE_CODE])
def test_claude_code_requests_are_served_by_every_model(
    stack: Stack, sim: Sim, models: list[str], name: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    problems = {}
    for model in models:
        refused = replay(stack, sim, "/v1/messages?beta=true", {**body, "model": model}, headers)
        if refused:
            problems[model] = refused
    assert not problems, problems


@pytest.mark.parametrize(("name", "body", "headers"), CODEX, ids=[c[0] for c in CODEX])
def test_codex_requests_are_served_by_every_model(
    stack: Stack, sim: Sim, models: list[str], name: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    problems = {}
    for model in models:
        refused = replay(stack, sim, "/v1/responses", {**body, "model": model}, {})
        if refused:
            problems[model] = refused
    assert not problems, problems


def test_fields_the_model_does_not_know_are_dropped_and_counted(stack: Stack, sim: Sim) -> None:
    """gpt-5 on the default api-version: the GPT-5 parameters of the v1 API are left out, not refused."""
    body = {
        "model": "gpt-5",
        "messages": [{"role": "user", "content": "hello"}],
        "prompt_cache_key": "session-1",
        "verbosity": "low",
        "safety_identifier": "user-1",
    }
    with stack.client() as client:
        before = Scrape(client.get("/metrics").text)
        mark = sim.mark()
        resp = client.post("/v1/chat/completions", json=body)
        after = Scrape(client.get("/metrics").text)
    assert resp.status_code == 200, resp.text
    sent = sim.calls(mark)[-1]
    assert sent["status"] == 200
    for field in ("prompt_cache_key", "verbosity", "safety_identifier"):
        labels = {"stack": stack.name, "route": "/v1/chat/completions", "field": field}
        assert (
            after.value("aicore_proxy_dropped_fields_total", **labels)
            - before.value("aicore_proxy_dropped_fields_total", **labels)
            == 1
        ), field


def test_max_tokens_above_the_model_limit_is_capped(stack: Stack, sim: Sim) -> None:
    """Claude Code asks for 32000 output tokens whatever the model; gpt-4o allows 16384."""
    body = {"model": "gpt-4o", "max_tokens": 32000, "messages": [{"role": "user", "content": "hello"}]}
    mark = sim.mark()
    with stack.client() as client:
        resp = client.post("/v1/messages", json=body)
    assert resp.status_code == 200, resp.text
    (call,) = sim.calls(mark)
    assert call["status"] == 200


def test_claude_code_model_names_reach_the_configured_model_of_the_tier(stack: Stack, sim: Sim) -> None:
    body = {"model": "claude-sonnet-4-20250514", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
    mark = sim.mark()
    with stack.client() as client:
        resp = client.post("/v1/messages", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == "claude-sonnet-4-20250514"  # the name the client asked for
    (call,) = sim.calls(mark)
    assert call["deployment"].endswith("claude-4-sonnet")


def test_gpt5_reasoning_effort_minimal_on_gemini_is_not_refused(stack: Stack, sim: Sim) -> None:
    body = {"model": "gemini-2.5-pro", "reasoning_effort": "minimal", "messages": [{"role": "user", "content": "hi"}]}
    with stack.client() as client:
        resp = client.post("/v1/chat/completions", json=body)
    assert resp.status_code == 200, resp.text


def test_unknown_thinking_type_is_the_clients_400_naming_the_field(stack: Stack) -> None:
    body = {
        "model": "anthropic--claude-4-sonnet",
        "max_tokens": 100,
        "thinking": {"type": "sometimes"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    with stack.client() as client:
        resp = client.post("/v1/messages", json=body)
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "invalid_request_error"
    assert "thinking.type" in resp.json()["error"]["message"]
