"""Claude per generation (aicore_sim.families.claude_rules), on InvokeModel and Converse.

Each rule is exercised in an accepted and a refused form, on the deployments of the default
topology: 3.5 Sonnet, 3.7 Sonnet, 4 Sonnet, 4.5 Sonnet/Haiku, 4.6 Sonnet/Opus, 4.7 Opus.
"""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import Sim, sse_json, user

PREFIX = "The model returned the following errors: "
ENABLED = {"type": "enabled", "budget_tokens": 1024}
ADAPTIVE = {"type": "adaptive"}


def body(max_tokens: int = 2000, **extra: Any) -> dict:
    return {"anthropic_version": "bedrock-2023-05-31", "max_tokens": max_tokens, "messages": [user("hi")], **extra}


def invoke(sim: Sim, dep: str, b: dict, stream: bool = False):
    return sim.post(dep, "invoke-with-response-stream" if stream else "invoke", b)


def converse(sim: Sim, dep: str, max_tokens: int | None = 2000, inference: dict | None = None, **extra: Any):
    config = {"maxTokens": max_tokens} if max_tokens is not None else {}
    config.update(inference or {})
    b: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "inferenceConfig": config}
    if extra:
        b["additionalModelRequestFields"] = extra
    return sim.post(dep, "converse", b)


def message(resp) -> str:
    assert resp.status_code == 400, resp.text
    return resp.json()["message"]


@pytest.mark.parametrize(
    ("dep", "model_id"),
    [
        ("da-claude-3-5-sonnet", "claude-3-5-sonnet-20241022"),
        ("da-claude-3-7-sonnet", "claude-3-7-sonnet-20250219"),
        ("da-claude-4-sonnet", "claude-sonnet-4-20250514"),
        ("da-claude-4-5-sonnet", "claude-sonnet-4-5-20250929"),
        ("da-claude-4-5-haiku", "claude-haiku-4-5-20251001"),
        ("da-claude-4-6-sonnet", "claude-sonnet-4-6"),
        ("da-claude-4-6-opus", "claude-opus-4-6"),
        ("da-claude-4-7-opus", "claude-opus-4-7"),
    ],
)
def test_versioned_model_ids(sim: Sim, dep: str, model_id: str) -> None:
    resp = invoke(sim, dep, body())
    assert resp.status_code == 200, resp.text
    assert resp.json()["model"] == model_id


# --- thinking forms -------------------------------------------------------------------------

BUDGET_DEPS = ["da-claude-3-7-sonnet", "da-claude-4-sonnet", "da-claude-4-5-sonnet", "da-claude-4-5-haiku"]
BOTH_DEPS = ["da-claude-4-6-sonnet", "da-claude-4-6-opus"]


@pytest.mark.parametrize("dep", BUDGET_DEPS + BOTH_DEPS)
def test_budget_thinking_accepted_up_to_4_6(sim: Sim, dep: str) -> None:
    resp = invoke(sim, dep, body(thinking=ENABLED))
    assert resp.status_code == 200, resp.text
    assert resp.json()["content"][0]["type"] == "thinking"
    resp = converse(sim, dep, thinking=ENABLED)
    assert resp.status_code == 200, resp.text
    assert "reasoningContent" in resp.json()["output"]["message"]["content"][0]


@pytest.mark.parametrize("dep", BUDGET_DEPS)
def test_adaptive_thinking_refused_before_4_6(sim: Sim, dep: str) -> None:
    expected = PREFIX + "adaptive thinking is not supported on this model"
    assert message(invoke(sim, dep, body(thinking=ADAPTIVE))) == expected
    assert message(converse(sim, dep, thinking=ADAPTIVE)) == expected


@pytest.mark.parametrize("dep", BOTH_DEPS + ["da-claude-4-7-opus"])
def test_adaptive_thinking_accepted_from_4_6(sim: Sim, dep: str) -> None:
    resp = invoke(sim, dep, body(thinking={"type": "adaptive", "display": "summarized"}))
    assert resp.status_code == 200, resp.text
    block = resp.json()["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == "Thinking about: hi" and block["signature"]
    assert converse(sim, dep, thinking=ADAPTIVE).status_code == 200


def test_opus_4_7_refuses_budget_and_disabled_thinking(sim: Sim) -> None:
    for kind, extra in (("enabled", {"budget_tokens": 1024}), ("disabled", {})):
        expected = (
            PREFIX + f'"thinking.type.{kind}" is not supported for this model. Use "thinking.type.adaptive" and '
            '"output_config.effort" to control thinking behavior.'
        )
        thinking = {"type": kind, **extra}
        assert message(invoke(sim, "da-claude-4-7-opus", body(thinking=thinking))) == expected
        assert message(converse(sim, "da-claude-4-7-opus", thinking=thinking)) == expected


def test_opus_4_7_omits_thinking_text_by_default(sim: Sim) -> None:
    block = invoke(sim, "da-claude-4-7-opus", body(thinking=ADAPTIVE)).json()["content"][0]
    assert block["type"] == "thinking" and block["thinking"] == "" and block["signature"]
    events = sse_json(invoke(sim, "da-claude-4-7-opus", body(thinking=ADAPTIVE), stream=True).content)
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta" and e["index"] == 0]
    assert deltas == ["signature_delta"]


@pytest.mark.parametrize("dep", ["da-claude-3-5-sonnet"])
def test_no_thinking_at_all_on_3_5(sim: Sim, dep: str) -> None:
    assert "extraneous key [thinking]" in message(invoke(sim, dep, body(thinking=ENABLED)))


def test_thinking_display_from_claude_4(sim: Sim) -> None:
    omitted = {**ENABLED, "display": "omitted"}
    block = invoke(sim, "da-claude-4-sonnet", body(thinking=omitted)).json()["content"][0]
    assert block["thinking"] == "" and block["signature"]
    assert message(invoke(sim, "da-claude-3-7-sonnet", body(thinking=omitted))) == (
        "thinking.enabled.display: Extra inputs are not permitted"
    )
    bad = {**ENABLED, "display": "full"}
    refused = invoke(sim, "da-claude-4-5-sonnet", body(thinking=bad))
    assert "Input should be 'summarized' or 'omitted'" in message(refused)


def test_adaptive_thinking_takes_no_budget(sim: Sim) -> None:
    b = body(thinking={"type": "adaptive", "budget_tokens": 2048})
    expected = "thinking.adaptive.budget_tokens: Extra inputs are not permitted"
    assert message(invoke(sim, "da-claude-4-6-opus", b)) == expected


def test_interleaved_thinking_lets_the_budget_exceed_max_tokens(sim: Sim) -> None:
    thinking = {"type": "enabled", "budget_tokens": 4096}
    assert invoke(sim, "da-claude-4-sonnet", body(max_tokens=2000, thinking=thinking)).status_code == 400
    b = body(max_tokens=2000, thinking=thinking, anthropic_beta=["interleaved-thinking-2025-05-14"])
    assert invoke(sim, "da-claude-4-sonnet", b).status_code == 200


# --- output_config ---------------------------------------------------------------------------

SCHEMA_FORMAT = {"type": "json_schema", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}


@pytest.mark.parametrize("dep", ["da-claude-3-7-sonnet", "da-claude-4-sonnet"])
def test_output_config_unknown_before_4_5(sim: Sim, dep: str) -> None:
    assert "extraneous key [output_config]" in message(invoke(sim, dep, body(output_config={"effort": "high"})))


@pytest.mark.parametrize(
    ("dep", "levels", "refused"),
    [
        ("da-claude-4-6-sonnet", ["low", "medium", "high", "max"], "xhigh"),
        ("da-claude-4-6-opus", ["low", "medium", "high", "max"], "xhigh"),
        ("da-claude-4-7-opus", ["low", "medium", "high", "xhigh", "max"], "extreme"),
    ],
)
def test_effort_levels(sim: Sim, dep: str, levels: list[str], refused: str) -> None:
    for level in levels:
        resp = invoke(sim, dep, body(output_config={"effort": level}))
        assert resp.status_code == 200, (level, resp.text)
    assert message(invoke(sim, dep, body(output_config={"effort": refused}))).startswith(
        "output_config.effort: Input should be 'low'"
    )
    assert converse(sim, dep, output_config={"effort": levels[0]}).status_code == 200


@pytest.mark.parametrize("dep", ["da-claude-4-5-sonnet", "da-claude-4-5-haiku"])
def test_no_effort_on_sonnet_and_haiku_4_5(sim: Sim, dep: str) -> None:
    assert message(invoke(sim, dep, body(output_config={"effort": "high"}))) == (
        "output_config.effort: Extra inputs are not permitted"
    )


@pytest.mark.parametrize("dep", ["da-claude-4-5-sonnet", "da-claude-4-5-haiku", "da-claude-4-6-opus"])
def test_structured_output_where_bedrock_has_it(sim: Sim, dep: str) -> None:
    resp = invoke(sim, dep, body(output_config={"format": SCHEMA_FORMAT}))
    assert resp.status_code == 200, resp.text
    assert "output_config.format" in message(invoke(sim, dep, body(output_config={"format": {"type": "text"}})))
    fmt = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{}", "name": "x"}}}}
    ok = sim.post(dep, "converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "outputConfig": fmt})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("dep", ["da-claude-4-7-opus", "da-claude-4-6-sonnet"])
def test_structured_output_refused_elsewhere(sim: Sim, dep: str) -> None:
    assert message(invoke(sim, dep, body(output_config={"format": SCHEMA_FORMAT}))) == (
        "output_config.format: Extra inputs are not permitted"
    )
    fmt = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {"schema": "{}", "name": "x"}}}}
    bad = sim.post(dep, "converse", {"messages": [{"role": "user", "content": [{"text": "hi"}]}], "outputConfig": fmt})
    assert bad.status_code == 400


def test_output_config_unknown_member(sim: Sim) -> None:
    assert message(invoke(sim, "da-claude-4-6-opus", body(output_config={"task_budget": 5}))) == (
        "output_config.task_budget: Extra inputs are not permitted"
    )


# --- anthropic_beta ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dep", "accepted", "refused"),
    [
        ("da-claude-3-5-sonnet", "computer-use-2024-10-22", "interleaved-thinking-2025-05-14"),
        ("da-claude-3-7-sonnet", "output-128k-2025-02-19", "interleaved-thinking-2025-05-14"),
        ("da-claude-4-sonnet", "interleaved-thinking-2025-05-14", "context-management-2025-06-27"),
        ("da-claude-4-5-sonnet", "context-management-2025-06-27", "effort-2025-11-24"),
        ("da-claude-4-5-haiku", "context-management-2025-06-27", "tool-search-tool-2025-10-19"),
        ("da-claude-4-6-opus", "effort-2025-11-24", "fine-grained-tool-streaming-2025-05-14"),
        ("da-claude-4-6-sonnet", "claude-code-20250219", "mcp-servers-2025-12-04"),
        ("da-claude-4-7-opus", "interleaved-thinking-2025-05-14", "claude-code-20250219"),
        ("da-claude-4-7-opus", "interleaved-thinking-2025-05-14", "effort-2025-11-24"),
    ],
)
def test_beta_flags_per_generation(sim: Sim, dep: str, accepted: str, refused: str) -> None:
    assert invoke(sim, dep, body(anthropic_beta=[accepted])).status_code == 200
    assert message(invoke(sim, dep, body(anthropic_beta=[accepted, refused]))) == PREFIX + "invalid beta flag"
    assert message(converse(sim, dep, anthropic_beta=[refused])) == PREFIX + "invalid beta flag"
    assert converse(sim, dep, anthropic_beta=[accepted]).status_code == 200


def test_beta_flags_must_be_a_list(sim: Sim) -> None:
    assert "anthropic_beta" in message(invoke(sim, "da-claude-4-sonnet", body(anthropic_beta="x")))


def test_context_management_needs_its_beta(sim: Sim) -> None:
    cm = {"edits": [{"type": "clear_tool_uses_20250919"}]}
    assert "extraneous key [context_management]" in message(
        invoke(sim, "da-claude-4-5-sonnet", body(context_management=cm))
    )
    b = body(context_management=cm, anthropic_beta=["context-management-2025-06-27"])
    assert invoke(sim, "da-claude-4-5-sonnet", b).status_code == 200


# --- max_tokens -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dep", "limit"),
    [
        ("da-claude-3-5-sonnet", 8192),
        ("da-claude-3-7-sonnet", 64000),
        ("da-claude-4-sonnet", 64000),
        ("da-claude-4-5-sonnet", 64000),
        ("da-claude-4-5-haiku", 64000),
        ("da-claude-4-6-sonnet", 128000),
        ("da-claude-4-6-opus", 128000),
        ("da-claude-4-7-opus", 128000),
    ],
)
def test_max_tokens_limit(sim: Sim, dep: str, limit: int) -> None:
    assert invoke(sim, dep, body(max_tokens=limit)).status_code == 200
    expected = (
        f"The maximum tokens you requested exceeds the model limit of {limit}. "
        f"Try again with a maximum tokens value that is lower than {limit}."
    )
    assert message(invoke(sim, dep, body(max_tokens=limit + 1))) == expected
    assert message(converse(sim, dep, max_tokens=limit + 1)) == expected
    assert converse(sim, dep, max_tokens=limit).status_code == 200


def test_claude_3_7_output_128k_beta(sim: Sim) -> None:
    assert invoke(sim, "da-claude-3-7-sonnet", body(max_tokens=100000)).status_code == 400
    b = body(max_tokens=100000, anthropic_beta=["output-128k-2025-02-19"])
    assert invoke(sim, "da-claude-3-7-sonnet", b).status_code == 200


# --- sampling parameters ----------------------------------------------------------------------


@pytest.mark.parametrize("dep", ["da-claude-4-5-sonnet", "da-claude-4-5-haiku", "da-claude-4-6-sonnet"])
def test_temperature_or_top_p_not_both(sim: Sim, dep: str) -> None:
    assert invoke(sim, dep, body(temperature=0.5)).status_code == 200
    assert invoke(sim, dep, body(top_p=0.9)).status_code == 200
    expected = PREFIX + "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
    assert message(invoke(sim, dep, body(temperature=0.5, top_p=0.9))) == expected
    assert message(converse(sim, dep, inference={"temperature": 0.5, "topP": 0.9})) == expected


def test_both_sampling_parameters_fine_on_claude_4_sonnet(sim: Sim) -> None:
    assert invoke(sim, "da-claude-4-sonnet", body(temperature=0.5, top_p=0.9)).status_code == 200


@pytest.mark.parametrize("param", ["temperature", "top_p", "top_k"])
def test_opus_4_7_has_no_sampling_parameters(sim: Sim, param: str) -> None:
    value = 5 if param == "top_k" else 0.5
    assert message(invoke(sim, "da-claude-4-7-opus", body(**{param: value}))) == (
        PREFIX + f"{param} is deprecated for this model."
    )


def test_claude_code_request_shape_per_generation(sim: Sim) -> None:
    """Today's Claude Code body (adaptive + display + effort + betas) reaches only 4.6 as is."""
    shape: dict[str, Any] = {
        "thinking": {"type": "adaptive", "display": "omitted"},
        "output_config": {"effort": "high"},
        "anthropic_beta": ["claude-code-20250219", "interleaved-thinking-2025-05-14", "effort-2025-11-24"],
    }
    assert invoke(sim, "da-claude-4-6-opus", body(max_tokens=32000, **shape)).status_code == 200
    assert invoke(sim, "da-claude-4-sonnet", body(max_tokens=32000, **shape)).status_code == 400
    assert invoke(sim, "da-claude-4-7-opus", body(max_tokens=32000, **shape)).status_code == 400
    assert invoke(sim, "da-claude-3-5-sonnet", body(max_tokens=32000, **shape)).status_code == 400
