"""Today's agents' recorded requests, converted for every simulated model, checked by the simulator's rules.

The proxy's capability table (``shared/capabilities.py``) and the simulator's rules
(``aicore_sim/families/*_rules.py``) are written apart, each from the services'
documentation; here every request Claude Code and Codex recorded
(``tests/fixtures/agents/``) is converted the way the proxy converts it — same config,
same routing — for every chat model of the simulator's default topology, and the body
must pass the simulator's validation for that model. A disagreement between the two
readings fails here, in milliseconds, before any process starts; the contract tier
(``tests/contract/test_agent_requests.py``) checks the same end to end on both stacks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aicore_sim.families.base import Refusal
from aicore_sim.families.claude_checks import validate_invoke
from aicore_sim.families.converse_checks import validate_converse
from aicore_sim.families.gemini_rules import check_thinking_config, check_thought_signatures, gemini_profile
from aicore_sim.families.openai_checks import validate_chat
from aicore_sim.families.vertex_schema import check_request
from aicore_sim.topology import load_topology, proxy_config
from shared.adjustments import Adjustments
from shared.backends import chat_backend
from shared.catalog import ModelCatalog, ModelEntry
from shared.config import parse_config
from shared.convert.anthropic_messages import anthropic_to_openai_chat
from shared.convert.bedrock_sanitize import anthropic_to_bedrock_invoke
from shared.convert.responses_api import responses_to_chat_request
from shared.flows.chat import parse_chat_request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
CATALOG = ModelCatalog(parse_config(proxy_config(load_topology(), "127.0.0.1", 8900)))
MODELS = [m for m in CATALOG.names() if CATALOG.entry(m).kind == "chat"]


def exchanges(prefix: str) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    out = []
    for path in sorted(FIXTURES.glob(f"{prefix}*.json")):
        for exchange in json.loads(path.read_text())["exchanges"]:
            out.append((f"{path.stem}#{exchange['turn']}", exchange["body"], exchange["headers"]))
    return out


CLAUDE_CODE = exchanges("claude-code-")
CODEX = exchanges("codex-")


def upstream_body(route: ModelEntry, chat: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The body the chat path sends for ``route``, and the upstream API it goes to."""
    backend = chat_backend(route)
    doc = parse_chat_request({**chat, "model": route.name}).doc
    return backend.name, backend.body(doc, route, Adjustments())


def check(route: ModelEntry, api: str, body: dict[str, Any]) -> None:
    """The simulator's validation for the model behind ``route`` (raises Refusal)."""
    model = route.upstream_model
    if api == "bedrock-invoke":
        validate_invoke(body, model)
    elif api == "bedrock-converse":
        validate_converse(body, model)
    elif api == "azure-openai":
        validate_chat(body, model, route.api_version)
    else:
        req = check_request(body)
        check_thinking_config(gemini_profile(model), req)
        check_thought_signatures(gemini_profile(model), req)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("name", "body", "headers"), CLAUDE_CODE, ids=[c[0] for c in CLAUDE_CODE])
def test_claude_code_requests_fit_every_model(
    model: str, name: str, body: dict[str, Any], headers: dict[str, str]
) -> None:
    route = CATALOG.entry(model)
    if route.family == "claude" and route.claude_api == "invoke":
        api, out = (
            "bedrock-invoke",
            anthropic_to_bedrock_invoke(body, beta_header=headers.get("anthropic-beta"), caps=route.capabilities),
        )
    else:
        api, out = upstream_body(route, anthropic_to_openai_chat(body))
    try:
        check(route, api, out)
    except Refusal as refusal:
        answer = refusal.payload or refusal.raw
        pytest.fail(f"{api} for {model} refuses the converted request: {refusal.status} {answer}")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("name", "body", "headers"), CODEX, ids=[c[0] for c in CODEX])
def test_codex_requests_fit_every_model(model: str, name: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    route = CATALOG.entry(model)
    api, out = upstream_body(route, responses_to_chat_request(body))
    try:
        check(route, api, out)
    except Refusal as refusal:
        answer = refusal.payload or refusal.raw
        pytest.fail(f"{api} for {model} refuses the converted request: {refusal.status} {answer}")


def test_every_family_and_claude_generation_is_covered() -> None:
    families = {CATALOG.entry(m).family for m in MODELS}
    generations = {CATALOG.entry(m).capabilities.generation for m in MODELS if CATALOG.entry(m).family == "claude"}
    assert families == {"openai", "claude", "gemini"}
    assert {(3, 5), (3, 7), (4, 0), (4, 5), (4, 6), (4, 7)} <= generations
