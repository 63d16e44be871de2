"""Requests fitted to the target model: every capability rule, per route.

Each case pairs a client's request shape (what Claude Code, Codex or an SDK sends today)
with a model generation, and checks the upstream body holds only the form that
generation accepts — and that what was changed is reported.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from shared.adjustments import Adjustments
from shared.capabilities import capabilities_for
from shared.convert.azure_openai import openai_to_azure_chat
from shared.convert.bedrock_sanitize import anthropic_to_bedrock_invoke
from shared.convert.claude_converse import openai_to_claude_converse
from shared.convert.claude_invoke import openai_to_claude_invoke
from shared.convert.gemini import GeminiStream, gemini_to_openai, openai_to_gemini
from shared.convert.responses_api import chat_to_responses, responses_to_chat_request
from shared.convert.responses_stream import ChatToResponsesStream
from shared.errors import InvalidRequest
from shared.openai_chunks import ChunkFactory, chat_completion

USER = [{"role": "user", "content": "hi"}]


def messages_body(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 32000, "messages": USER, **extra}


def to_bedrock(model: str, body: dict[str, Any], beta: str | None = None) -> tuple[dict[str, Any], Adjustments]:
    fitted, before = Adjustments(), copy.deepcopy(body)
    out = anthropic_to_bedrock_invoke(
        body, beta_header=beta, caps=capabilities_for(model, "claude"), adjustments=fitted
    )
    assert body == before
    return out, fitted


ADAPTIVE_OMITTED = {"type": "adaptive", "display": "omitted"}
BUDGET_8K = {"type": "enabled", "budget_tokens": 8000}
GENERATIONS = [
    "anthropic--claude-3.5-sonnet",
    "anthropic--claude-3.7-sonnet",
    "anthropic--claude-4-sonnet",
    "anthropic--claude-4.5-sonnet",
    "anthropic--claude-4.5-opus",
    "anthropic--claude-4.6-opus",
    "anthropic--claude-4.7-opus",
]

# generation -> (thinking sent for Claude Code's adaptive+omitted+effort high,
#                thinking sent for a budget of 8000, thinking sent for disabled)
EXPECTED: dict[str, tuple[Any, Any, Any]] = {
    "anthropic--claude-3.5-sonnet": (None, None, {"type": "disabled"}),
    "anthropic--claude-3.7-sonnet": ({"type": "enabled", "budget_tokens": 16384}, BUDGET_8K, {"type": "disabled"}),
    "anthropic--claude-4-sonnet": ({"type": "enabled", "budget_tokens": 16384}, BUDGET_8K, {"type": "disabled"}),
    "anthropic--claude-4.5-sonnet": ({"type": "enabled", "budget_tokens": 16384}, BUDGET_8K, {"type": "disabled"}),
    "anthropic--claude-4.5-opus": ({"type": "enabled", "budget_tokens": 16384}, BUDGET_8K, {"type": "disabled"}),
    "anthropic--claude-4.6-opus": ({"type": "adaptive"}, BUDGET_8K, {"type": "disabled"}),
    "anthropic--claude-4.7-opus": (ADAPTIVE_OMITTED, {"type": "adaptive"}, None),
}


@pytest.mark.parametrize("model", GENERATIONS)
def test_claude_code_adaptive_thinking_on_every_generation(model: str) -> None:
    body = messages_body(thinking=ADAPTIVE_OMITTED, output_config={"effort": "high"})
    out, fitted = to_bedrock(model, body)
    assert out.get("thinking") == EXPECTED[model][0]
    effort = out.get("output_config", {}).get("effort")
    caps = capabilities_for(model, "claude")
    assert effort == ("high" if caps.effort else None)
    if model.endswith("4.5-opus"):  # effort is a beta on Opus 4.5
        assert out["anthropic_beta"] == ["effort-2025-11-24"]
    if "adaptive" not in caps.thinking:
        assert fitted.adapted or fitted.dropped  # the change is reported, never silent


@pytest.mark.parametrize("model", GENERATIONS)
def test_budget_thinking_on_every_generation(model: str) -> None:
    out, _ = to_bedrock(model, messages_body(thinking=BUDGET_8K))
    assert out.get("thinking") == EXPECTED[model][1]
    if model.endswith("4.7-opus"):  # the budget's size becomes an effort
        assert out["output_config"] == {"effort": "medium"}


@pytest.mark.parametrize("model", GENERATIONS)
def test_disabled_thinking_on_every_generation(model: str) -> None:
    out, fitted = to_bedrock(model, messages_body(thinking={"type": "disabled"}))
    assert out.get("thinking") == EXPECTED[model][2]
    if EXPECTED[model][2] is None:
        assert "thinking" in fitted.dropped_fields()


def test_display_only_where_the_generation_has_it() -> None:
    out, fitted = to_bedrock("anthropic--claude-4.6-opus", messages_body(thinking=ADAPTIVE_OMITTED))
    assert out["thinking"] == {"type": "adaptive"} and "thinking.display" in fitted.dropped_fields()
    out, fitted = to_bedrock("anthropic--claude-4.7-opus", messages_body(thinking=ADAPTIVE_OMITTED))
    assert out["thinking"] == ADAPTIVE_OMITTED and not fitted.dropped


def test_effort_levels_go_to_the_nearest_the_model_has() -> None:
    out, fitted = to_bedrock("anthropic--claude-4.5-opus", messages_body(output_config={"effort": "max"}))
    assert out["output_config"] == {"effort": "high"} and fitted.adapted
    out, fitted = to_bedrock("anthropic--claude-4.5-sonnet", messages_body(output_config={"effort": "low"}))
    assert "output_config" not in out and "output_config.effort" in fitted.dropped_fields()


def test_thinking_takes_sampling_parameters_away_in_either_form() -> None:
    body = messages_body(thinking={"type": "adaptive"}, temperature=0.2, top_k=5)
    out, _ = to_bedrock("anthropic--claude-4.6-opus", body)
    assert "temperature" not in out and "top_k" not in out


@pytest.mark.parametrize(
    ("model", "sent"),
    [
        ("anthropic--claude-4-sonnet", {"temperature": 0.2, "top_p": 0.9, "top_k": 5}),
        ("anthropic--claude-4.5-sonnet", {"temperature": 0.2, "top_k": 5}),  # temperature or top_p, not both
        ("anthropic--claude-4.7-opus", {}),  # no sampling parameters at all
    ],
)
def test_sampling_parameters_per_generation(model: str, sent: dict[str, Any]) -> None:
    out, fitted = to_bedrock(model, messages_body(temperature=0.2, top_p=0.9, top_k=5))
    assert {k: out[k] for k in ("temperature", "top_p", "top_k") if k in out} == sent
    assert len(fitted.dropped) == 3 - len(sent)


@pytest.mark.parametrize(
    ("model", "asked", "sent"),
    [
        ("anthropic--claude-3.5-sonnet", 32000, 8192),
        ("anthropic--claude-4-opus", 32000, 32000),
        ("anthropic--claude-4-opus", 64000, 32000),
        ("anthropic--claude-4.6-opus", 200000, 128000),
    ],
)
def test_max_tokens_capped_at_the_model_limit(model: str, asked: int, sent: int) -> None:
    out, fitted = to_bedrock(model, messages_body(max_tokens=asked))
    assert out["max_tokens"] == sent
    assert bool(fitted.adapted) is (asked != sent)


def test_budget_shrinks_under_a_capped_max_tokens() -> None:
    body = messages_body(max_tokens=32000, thinking={"type": "enabled", "budget_tokens": 31999})
    out, _ = to_bedrock("anthropic--claude-3.5-sonnet", body)
    assert "thinking" not in out  # 3.5 has no thinking at all
    out, _ = to_bedrock("anthropic--claude-4-opus", body)
    assert out["max_tokens"] == 32000 and out["thinking"]["budget_tokens"] < 32000


def test_structured_output_native_or_as_an_instruction() -> None:
    fmt = {"type": "json_schema", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}
    out, _ = to_bedrock("anthropic--claude-4.6-opus", messages_body(output_config={"format": fmt}))
    assert out["output_config"] == {"format": fmt} and "system" not in out
    out, _ = to_bedrock("anthropic--claude-4.7-opus", messages_body(output_config={"format": fmt}))
    assert "output_config" not in out and "JSON schema" in out["system"][-1]["text"]  # Opus 4.7 refuses it
    out, fitted = to_bedrock("anthropic--claude-4-sonnet", messages_body(output_config={"format": fmt}))
    assert "output_config" not in out and "JSON schema" in out["system"][-1]["text"] and fitted.adapted


def test_client_errors_the_proxy_cannot_repair_name_the_field() -> None:
    for body, param in (
        (messages_body(thinking={"type": "sometimes"}), "thinking.type"),
        (messages_body(thinking={"type": "enabled", "budget_tokens": 10}), "thinking.budget_tokens"),
        (messages_body(thinking={"type": "adaptive", "display": "loud"}), "thinking.display"),
        (messages_body(output_config={"effort": "extreme"}), "output_config.effort"),
        (messages_body(output_config={"format": {"type": "xml"}}), "output_config.format"),
    ):
        with pytest.raises(InvalidRequest) as info:
            to_bedrock("anthropic--claude-4.7-opus", body)
        assert info.value.param == param


def test_unknown_top_level_fields_are_dropped_and_reported() -> None:
    body = messages_body(context_management={"edits": []}, metadata={"user_id": "u"}, speed="fast")
    out, fitted = to_bedrock("anthropic--claude-4.6-opus", body)
    assert not {"context_management", "metadata", "speed"} & set(out)
    assert set(fitted.dropped_fields()) == {"context_management", "metadata", "speed"}


# ------------------------------------------------------------------ chat route to Claude


@pytest.mark.parametrize("api", ["invoke", "converse"])
@pytest.mark.parametrize(
    ("model", "thinking", "output_config"),
    [
        ("anthropic--claude-4.5-sonnet", {"type": "enabled", "budget_tokens": 4096}, None),
        ("anthropic--claude-4.6-opus", {"type": "enabled", "budget_tokens": 4096}, None),
        ("anthropic--claude-4.7-opus", {"type": "adaptive"}, {"effort": "medium"}),
        ("anthropic--claude-3.5-sonnet", None, None),
    ],
)
def test_reasoning_effort_becomes_each_generations_form(
    api: str, model: str, thinking: Any, output_config: Any
) -> None:
    body = {"messages": USER, "reasoning_effort": "medium", "max_tokens": 1000}
    caps = capabilities_for(model, "claude")
    if api == "invoke":
        out = openai_to_claude_invoke(body, default_max_tokens=4096, caps=caps)
        assert out.get("thinking") == thinking and out.get("output_config") == output_config
    else:
        out = openai_to_claude_converse(body, default_max_tokens=4096, caps=caps)
        extra = out.get("additionalModelRequestFields", {})
        assert extra.get("thinking") == thinking and extra.get("output_config") == output_config


def test_chat_max_tokens_capped_for_claude() -> None:
    caps = capabilities_for("anthropic--claude-3.5-sonnet", "claude")
    out = openai_to_claude_invoke({"messages": USER, "max_tokens": 32000}, default_max_tokens=4096, caps=caps)
    assert out["max_tokens"] == 8192


# ------------------------------------------------------------------ OpenAI family


GPT5_CHAT = {
    "model": "gpt-5",
    "messages": USER,
    "max_tokens": 200000,
    "prompt_cache_key": "k",
    "verbosity": "low",
    "safety_identifier": "s",
    "reasoning_effort": "minimal",
    "store": False,
    "prediction": {"type": "content", "content": "x"},
}


@pytest.mark.parametrize(
    ("api_version", "dropped"),
    [
        (
            "2024-10-21",
            {"prompt_cache_key", "verbosity", "safety_identifier", "reasoning_effort", "store", "prediction"},
        ),
        ("2024-12-01-preview", {"prompt_cache_key", "verbosity", "safety_identifier", "prediction"}),
        ("2025-04-01-preview", {"prompt_cache_key", "verbosity", "safety_identifier"}),
        ("preview", set()),
    ],
)
def test_openai_parameters_dropped_per_api_version(api_version: str, dropped: set[str]) -> None:
    fitted = Adjustments()
    caps = capabilities_for("gpt-5", "openai", api_version=api_version)
    out = openai_to_azure_chat(GPT5_CHAT, caps=caps, adjustments=fitted)
    assert not dropped & set(out)
    assert set(fitted.dropped_fields()) == dropped
    # max_tokens renamed for a reasoning model where the version knows the new name; capped either way
    limit_key = "max_tokens" if api_version == "2024-10-21" else "max_completion_tokens"
    assert out[limit_key] == 128000


def test_openai_reasoning_effort_to_the_nearest_level() -> None:
    fitted = Adjustments()
    caps = capabilities_for("o3", "openai", api_version="2024-12-01-preview")
    out = openai_to_azure_chat({"messages": USER, "reasoning_effort": "minimal"}, caps=caps, adjustments=fitted)
    assert out["reasoning_effort"] == "low" and fitted.adapted
    gpt4o = capabilities_for("gpt-4o", "openai", api_version="2024-12-01-preview")
    out = openai_to_azure_chat({"messages": USER, "reasoning_effort": "high", "max_tokens": 32000}, caps=gpt4o)
    assert "reasoning_effort" not in out and out["max_tokens"] == 16384


# ------------------------------------------------------------------ Gemini


@pytest.mark.parametrize(
    ("model", "effort", "config"),
    [
        ("gemini-2.5-pro", "minimal", {"thinkingBudget": 128, "includeThoughts": True}),
        ("gemini-2.5-flash", "minimal", {"thinkingBudget": 0}),
        ("gemini-2.5-flash", "high", {"thinkingBudget": 16384, "includeThoughts": True}),
        ("gemini-3-pro", "minimal", {"thinkingLevel": "low", "includeThoughts": True}),
        ("gemini-3-pro", "medium", {"thinkingLevel": "high", "includeThoughts": True}),
        ("gemini-3-pro", "high", {"thinkingLevel": "high", "includeThoughts": True}),
    ],
)
def test_gemini_thinking_per_generation(model: str, effort: str, config: dict[str, Any]) -> None:
    body = {"messages": USER, "reasoning_effort": effort}
    out = openai_to_gemini(body, default_max_tokens=None, caps=capabilities_for(model, "gemini"))
    assert out["generationConfig"]["thinkingConfig"] == config


GEMINI_3 = capabilities_for("gemini-3-pro", "gemini")
TOOLS = [{"type": "function", "function": {"name": "read", "parameters": {"type": "object"}}}]


def gemini_call_answer(signature: str, path: str) -> dict[str, Any]:
    part = {"functionCall": {"name": "read", "args": {"path": path}}, "thoughtSignature": signature}
    return {"candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP"}]}


def test_gemini_3_thought_signatures_survive_two_tool_turns() -> None:
    history: list[dict[str, Any]] = [{"role": "user", "content": "read two files"}]
    for turn, (signature, path) in enumerate((("sig-A+/=", "a.txt"), ("sig-B", "b.txt"))):
        body = openai_to_gemini({"messages": history, "tools": TOOLS}, default_max_tokens=None, caps=GEMINI_3)
        # Every replayed call goes back with its own signature.
        replayed = [p for c in body["contents"] for p in c["parts"] if "functionCall" in p]
        assert [p["thoughtSignature"] for p in replayed] == ["sig-A+/=", "sig-B"][:turn]
        answer = gemini_to_openai(
            gemini_call_answer(signature, path), completion_id=f"chatcmpl-{turn}", created=0, model="gemini-3-pro"
        )
        message = answer["choices"][0]["message"]
        call_id = message["tool_calls"][0]["id"]
        assert all(c.isalnum() or c in "_-" for c in call_id)  # an id any client (and Claude) accepts
        history += [message, {"role": "tool", "tool_call_id": call_id, "content": f"contents of {path}"}]


def test_gemini_3_streamed_call_ids_carry_the_signature() -> None:
    stream = GeminiStream(ChunkFactory("chatcmpl-s", 0, "gemini-3-pro"), include_usage=False)
    chunks = stream.feed(gemini_call_answer("sig-S", "c.txt")) + stream.finish()
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    call_id = next(d["tool_calls"][0]["id"] for d in deltas if "tool_calls" in d)
    history = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": "read", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": "ok"},
    ]
    body = openai_to_gemini({"messages": history, "tools": TOOLS}, default_max_tokens=None, caps=GEMINI_3)
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "sig-S"


def test_gemini_3_call_from_another_model_gets_the_documented_placeholder() -> None:
    history = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "read"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "ok"},
    ]
    fitted = Adjustments()
    body = openai_to_gemini(
        {"messages": history, "tools": TOOLS}, default_max_tokens=None, caps=GEMINI_3, adjustments=fitted
    )
    assert body["contents"][1]["parts"][0]["thoughtSignature"] == "skip_thought_signature_validator"
    gemini25 = openai_to_gemini(
        {"messages": history, "tools": TOOLS},
        default_max_tokens=None,
        caps=capabilities_for("gemini-2.5-pro", "gemini"),
    )
    assert "thoughtSignature" not in gemini25["contents"][1]["parts"][0]


# ------------------------------------------------------------------ Responses tools (Codex)


CODEX_TOOLS = [
    {"type": "function", "name": "shell", "parameters": {"type": "object"}},
    {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "agents",
        "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}},
            {"type": "function", "name": "wait", "parameters": {"type": "object"}},
        ],
    },
    {"type": "web_search", "external_web_access": False},
    {"type": "custom", "name": "apply_patch", "format": {"type": "text"}},
]
RESPONSES_BODY = {"model": "gpt-5", "input": "hi", "tools": CODEX_TOOLS}


def test_namespace_tools_are_flattened_and_hosted_tools_left_out() -> None:
    fitted = Adjustments()
    out = responses_to_chat_request(RESPONSES_BODY, fitted)
    names = [t["function"]["name"] for t in out["tools"]]
    assert names == ["shell", "multi_agent_v1__spawn_agent", "multi_agent_v1__wait", "apply_patch"]
    assert fitted.dropped_fields() == ["tools"] and "web_search" in fitted.summary()


def test_flat_names_keep_every_familys_rules() -> None:
    long_ns = {
        "type": "namespace",
        "name": "a.very-long namespace" * 3,
        "description": "",
        "tools": [{"type": "function", "name": "tool.one"}, {"type": "function", "name": "tool.two"}],
    }
    out = responses_to_chat_request({"model": "m", "input": "x", "tools": [long_ns]})
    names = [t["function"]["name"] for t in out["tools"]]
    assert len(set(names)) == 2
    for name in names:
        assert len(name) <= 64 and (name[0].isalpha() or name[0] == "_")
        assert all(c.isalnum() or c in "_-" for c in name)


def namespaced_completion() -> dict[str, Any]:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "apply_patch", "arguments": '{"input":"*** x"}'}},
    ]
    message = {"role": "assistant", "content": None, "tool_calls": calls}
    return chat_completion(
        completion_id="c", created=0, model="gpt-5", message=message, finish_reason="tool_calls", usage=None
    )


def test_namespaced_calls_go_back_under_the_clients_names() -> None:
    doc = chat_to_responses(namespaced_completion(), response_id="resp_1", created_at=0, request=RESPONSES_BODY)
    spawn, patch = doc["output"]
    assert (spawn["type"], spawn["name"], spawn["namespace"]) == ("function_call", "spawn_agent", "multi_agent_v1")
    assert (patch["type"], patch["name"], patch["input"]) == ("custom_tool_call", "apply_patch", "*** x")
    assert "namespace" not in patch


def test_namespaced_calls_go_back_under_the_clients_names_streamed() -> None:
    factory = ChunkFactory("c", 0, "gpt-5")
    events = ChatToResponsesStream(response_id="resp_1", created_at=0, request=RESPONSES_BODY)
    out = events.feed(factory.tool_call_start(0, "call_1", "multi_agent_v1__spawn_agent", ""))
    out += events.feed(factory.tool_call_args(0, '{"n":1}'))
    out += events.feed(factory.finish("tool_calls")) + events.finish()
    added = next(e for e in out if e["type"] == "response.output_item.added")
    assert added["item"]["name"] == "spawn_agent" and added["item"]["namespace"] == "multi_agent_v1"
    done = next(e for e in out if e["type"] == "response.completed")["response"]["output"][0]
    assert (done["name"], done["namespace"], done["arguments"]) == ("spawn_agent", "multi_agent_v1", '{"n":1}')


def test_namespaced_history_maps_back_to_the_flat_name() -> None:
    body = {
        **RESPONSES_BODY,
        "input": [
            {"type": "message", "role": "user", "content": "go"},
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "spawn_agent",
                "namespace": "multi_agent_v1",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "done"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
    }
    fitted = Adjustments()
    out = responses_to_chat_request(body, fitted)
    call = out["messages"][1]["tool_calls"][0]
    assert call["function"]["name"] == "multi_agent_v1__spawn_agent"
    assert "input" in fitted.dropped_fields()  # the hosted tool's call item
    assert json.loads(call["function"]["arguments"]) == {}
