"""Anthropic Messages body -> Bedrock InvokeModel body (Claude models on ``/v1/messages``).

The recorded-style Claude Code request carries every field that made the old proxies
fail (facts §6.5, §10.1); the sanitised body must contain none of them — checked by
walking the whole document — and keep everything else.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from shared.capabilities import Capabilities, capabilities_for
from shared.convert.bedrock_sanitize import ALLOWED_KEYS, anthropic_to_bedrock_invoke
from shared.errors import InvalidRequest
from tests.unit.feeding import fixture_bytes

CLAUDE_CODE_BETAS = (
    "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
    " fine-grained-tool-streaming-2025-05-14, oauth-2025-04-20,prompt-caching-2024-07-31"
)
REFUSED_KEYS = {"model", "stream", "metadata", "context_management", "output_config", "input_examples"}
REFUSED_KEYS |= {"defer_loading", "strict", "custom", "service_tier", "container", "mcp_servers", "max_uses"}
EPHEMERAL = {"type": "ephemeral"}


def claude_code() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(fixture_bytes("anthropic-claude-code-request.json"))
    return doc


CLAUDE_4 = capabilities_for("anthropic--claude-4-sonnet", "claude")


def sanitize(body: dict[str, Any], beta_header: str | None = None, caps: Capabilities = CLAUDE_4) -> dict[str, Any]:
    """Convert, and check the rules that hold for every body: input untouched, output JSON and allowed keys."""
    before = copy.deepcopy(body)
    out = anthropic_to_bedrock_invoke(body, beta_header=beta_header, caps=caps)
    assert body == before
    assert set(out) <= ALLOWED_KEYS
    assert out["anthropic_version"] == "bedrock-2023-05-31"
    json.dumps(out)
    return out


def walk(doc: Any, path: str = "$") -> Iterator[tuple[str, Any, Any]]:
    """Every (path, key, value) pair of every object in the document."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield path, key, value
            yield from walk(value, f"{path}.{key}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from walk(value, f"{path}[{i}]")


def body(messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"max_tokens": 100, "messages": messages or [{"role": "user", "content": "Hi"}], **extra}


def cache_marks(out: dict[str, Any]) -> list[str]:
    return [p for p, key, _ in walk(out) if key == "cache_control"]


# ---------------------------------------------------------------- the Claude Code request


def test_claude_code_request_has_no_refused_field_left() -> None:
    out = sanitize(claude_code(), CLAUDE_CODE_BETAS)
    assert [(p, k) for p, k, _ in walk(out) if k in REFUSED_KEYS] == []
    assert all(set(t) <= {"name", "description", "input_schema", "cache_control"} for t in out["tools"])
    assert not [p for p, k, v in walk(out) if k == "type" and v in ("tool_reference", "custom", "web_search_20250305")]
    assert [m["role"] for m in out["messages"]] == ["user", "assistant", "user", "assistant", "user"]
    assert not [p for p, k, v in walk(out) if k == "text" and isinstance(v, str) and not v.strip()]
    for message in out["messages"]:
        for block in message["content"]:
            assert not (block["type"] in ("thinking", "redacted_thinking") and "cache_control" in block)
    assert len(cache_marks(out)) == 4


def test_claude_code_request_keeps_everything_else() -> None:
    src, out = claude_code(), sanitize(claude_code(), CLAUDE_CODE_BETAS)
    assert out["max_tokens"] == 32000 and out["temperature"] == 1
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 31999}
    assert out["tool_choice"] == {"type": "auto"}
    assert out["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]  # Bedrock offers no other of them
    # Tools: the three custom ones, rebuilt; their JSON schemas untouched ($schema, additionalProperties).
    assert [t["name"] for t in out["tools"]] == ["Glob", "Read", "Bash"]
    assert [t["input_schema"] for t in out["tools"]] == [src["tools"][i]["input_schema"] for i in (0, 1, 3)]
    assert out["tools"][1] == {k: src["tools"][1][k] for k in ("name", "description", "input_schema")}
    # System: the client's blocks, the role: system message, then output_config.format as an instruction
    # (Claude 4 has no native structured output).
    assert [b["text"] for b in out["system"]][:-1] == [b["text"] for b in src["system"]] + [
        src["messages"][1]["content"]
    ]
    assert out["system"][-1]["text"].endswith('matching this JSON schema: {"type":"object"}')
    # Messages: the two user turns around the system message merged, the empty text gone.
    texts = [b["text"] for b in out["messages"][0]["content"]]
    assert texts == [src["messages"][0]["content"][0]["text"], src["messages"][0]["content"][1]["text"]] + [
        "Start with the repo root."
    ]
    assert out["messages"][1]["content"][0]["signature"] == src["messages"][3]["content"][0]["signature"]
    assert out["messages"][1]["content"][1:] == src["messages"][3]["content"][1:]
    assert out["messages"][2]["content"][0]["content"] == [
        {"type": "text", "text": "setup.py\nsrc/app/__init__.py\nsrc/app/main.py"},
        {"type": "text", "text": "[tool_reference] Read"},
    ]
    assert out["messages"][3:] == src["messages"][5:]


def test_cache_breakpoints_keep_the_last_four_in_prompt_order() -> None:
    out = sanitize(claude_code())
    assert cache_marks(out) == [
        "$.system[1]",
        "$.messages[0].content[1]",
        "$.messages[3].content[0]",
        "$.messages[4].content[0]",
    ]


def test_four_or_fewer_breakpoints_are_all_kept_and_nested_ones_count() -> None:
    result = {"type": "tool_result", "tool_use_id": "t1", "cache_control": EPHEMERAL}
    result["content"] = [{"type": "text", "text": "r", "cache_control": EPHEMERAL}]
    messages = [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
        {"role": "user", "content": [result]},
    ]
    tool = {"name": "f", "input_schema": {"type": "object"}, "cache_control": EPHEMERAL}
    system = [{"type": "text", "text": "s", "cache_control": EPHEMERAL}]
    out = sanitize(body([{"role": "user", "content": "q"}, *messages], tools=[tool], system=system))
    assert cache_marks(out) == [
        "$.tools[0]",
        "$.system[0]",
        "$.messages[2].content[0].content[0]",
        "$.messages[2].content[0]",
    ]
    extra = {"role": "user", "content": [{"type": "text", "text": "x", "cache_control": EPHEMERAL}]}
    out = sanitize(
        body(
            [{"role": "user", "content": "q"}, *messages, {"role": "assistant", "content": "a"}, extra],
            tools=[tool],
            system=system,
        )
    )
    assert cache_marks(out)[0] == "$.system[0]" and len(cache_marks(out)) == 4


# ---------------------------------------------------------------- top level


@pytest.mark.parametrize(
    "key",
    [
        "model",
        "stream",
        "metadata",
        "context_management",
        "output_config",
        "service_tier",
        "container",
        "mcp_servers",
        "a_future_field",
    ],
)
def test_refused_top_level_keys_are_removed(key: str) -> None:
    assert key not in sanitize(body(**{key: {"x": 1}}))


def test_minimal_body_and_anthropic_version_is_always_bedrocks() -> None:
    assert sanitize(body(anthropic_version="2023-06-01")) == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi"}],
    }


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens: required"),
        (body(max_tokens=0), "max_tokens"),
        (body(max_tokens="10"), "max_tokens"),
        (body(max_tokens=True), "max_tokens"),
        ({"max_tokens": 5}, "messages"),
        (body(messages=None) | {"messages": []}, "messages"),
        (body() | {"messages": "hi"}, "messages"),
        (body() | {"messages": ["hi"]}, "messages[0]"),
        (body([{"role": "tool", "content": "x"}]), "messages[0].role"),
        (body([{"role": "user"}]), "messages[0].content"),
        (body([{"role": "user", "content": [{"text": "no type"}]}]), "messages[0].content[0]"),
        (body([{"role": "user", "content": [{"type": "text", "text": 5}]}]), "messages[0].content[0].text"),
        (body([{"role": "system", "content": "only system"}]), "messages"),
        (body(system=5), "system"),
        (body(system=[{"type": "image", "source": {}}]), "system[0]"),
        (
            body([{"role": "system", "content": [{"type": "image"}]}, {"role": "user", "content": "x"}]),
            "messages[0].content[0]",
        ),
        (body(tools="x"), "tools"),
        (body(tools=[{"input_schema": {}}]), "tools[0].name"),
        (body(tools=[{"name": "f"}]), "tools[0].input_schema"),
        (body(tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "bogus"}), "tool_choice"),
        (
            body(tools=[{"name": "f", "input_schema": {}}], tool_choice={"type": "tool", "name": "g"}),
            "tool_choice.name",
        ),
        (body(stop_sequences="STOP"), "stop_sequences"),
        (body(thinking="on"), "thinking"),
        (body(anthropic_beta="interleaved-thinking-2025-05-14"), "anthropic_beta"),
        (
            body([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]),
            "messages[0].content[0].tool_use_id",
        ),
    ],
)
def test_client_mistakes_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        anthropic_to_bedrock_invoke(doc, beta_header=None, caps=CLAUDE_4)
    assert field in exc.value.message
    with pytest.raises(InvalidRequest):
        anthropic_to_bedrock_invoke("not an object", beta_header=None, caps=CLAUDE_4)  # type: ignore[arg-type]


# ---------------------------------------------------------------- thinking and sampling


def test_thinking_budget_not_below_max_tokens_gets_room_and_sampling_goes() -> None:
    out = sanitize(
        body(max_tokens=2048, temperature=0.2, top_p=0.9, top_k=5, thinking={"type": "enabled", "budget_tokens": 4096})
    )
    assert out["max_tokens"] == 4096 + 1024
    assert not {"temperature", "top_p", "top_k"} & set(out)
    out = sanitize(body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 4096}))
    assert out["max_tokens"] == 5120  # equal is not above


def test_thinking_keeps_temperature_one_and_loses_context_management() -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024, "context_management": {"keep": "all"}}
    out = sanitize(body(max_tokens=2000, temperature=1.0, thinking=thinking))
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 1024} and out["temperature"] == 1.0
    assert out["max_tokens"] == 2000


def test_without_thinking_sampling_parameters_stay() -> None:
    out = sanitize(body(temperature=0.3, top_p=0.8, top_k=40, stop_sequences=["END"], thinking={"type": "disabled"}))
    assert (out["temperature"], out["top_p"], out["top_k"], out["stop_sequences"]) == (0.3, 0.8, 40, ["END"])
    assert out["thinking"] == {"type": "disabled"}


# ---------------------------------------------------------------- tools


SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}
SERVER_TOOLS = [
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
    {"type": "web_fetch_20250910", "name": "web_fetch"},
    {"type": "code_execution_20250825", "name": "code_execution"},
    {"type": "computer_20241022", "name": "computer", "display_width_px": 1024, "display_height_px": 768},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
    {"type": "bash_20250124", "name": "bash"},
    {"type": "memory_20250818", "name": "memory"},
    {"type": "tool_search_tool_regex_20251119", "name": "tool_search"},
]


def test_server_tools_are_dropped_and_custom_tools_rebuilt() -> None:
    mine = {
        "type": "custom",
        "name": "lookup",
        "description": "Look it up",
        "input_schema": SCHEMA,
        "input_examples": [{"q": "x"}],
        "defer_loading": False,
        "strict": True,
        "cache_control": EPHEMERAL,
    }
    out = sanitize(body(tools=[*SERVER_TOOLS, mine], tool_choice={"type": "any", "disable_parallel_tool_use": True}))
    assert out["tools"] == [
        {"name": "lookup", "description": "Look it up", "input_schema": SCHEMA, "cache_control": EPHEMERAL}
    ]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_no_tools_left_means_no_tools_and_no_tool_choice() -> None:
    out = sanitize(body(tools=SERVER_TOOLS, tool_choice={"type": "tool", "name": "web_search"}))
    assert "tools" not in out and "tool_choice" not in out
    assert "tool_choice" not in sanitize(body(tool_choice={"type": "auto"}))


def test_a_tool_choice_naming_a_dropped_tool_is_dropped() -> None:
    tools = [SERVER_TOOLS[0], {"name": "f", "input_schema": SCHEMA}]
    out = sanitize(body(tools=tools, tool_choice={"type": "tool", "name": "web_search"}))
    assert out["tools"] == [{"name": "f", "input_schema": SCHEMA}] and "tool_choice" not in out
    out = sanitize(body(tools=tools, tool_choice={"type": "tool", "name": "f", "extra": 1}))
    assert out["tool_choice"] == {"type": "tool", "name": "f"}


# ---------------------------------------------------------------- messages


def test_tool_result_content_normalisation() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}
    search = {"type": "search_result", "source": "s", "title": "t", "content": [{"type": "text", "text": "c"}]}
    results = [
        {"type": "tool_result", "tool_use_id": "a", "content": "plain"},
        {"type": "tool_result", "tool_use_id": "b", "content": ""},
        {"type": "tool_result", "tool_use_id": "c", "is_error": True, "content": [{"type": "text", "text": " "}]},
        {
            "type": "tool_result",
            "tool_use_id": "d",
            "content": [image, document, search, {"type": "text", "text": "t"}],
        },
        {
            "type": "tool_result",
            "tool_use_id": "e",
            "content": [{"type": "tool_reference", "tool_name": "Read"}, {"type": "weird", "x": 1}],
        },
        {"type": "tool_result", "tool_use_id": "f", "content": {"answer": 42}, "extra": "dropped"},
    ]
    calls = [{"type": "tool_use", "id": i, "name": "f", "input": {}} for i in "abcdef"]
    out = sanitize(
        body(
            [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": calls},
                {"role": "user", "content": results},
            ]
        )
    )
    assert out["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "a", "content": "plain"},
        {"type": "tool_result", "tool_use_id": "b"},
        {"type": "tool_result", "tool_use_id": "c", "is_error": True},
        {
            "type": "tool_result",
            "tool_use_id": "d",
            "content": [image, document, search, {"type": "text", "text": "t"}],
        },
        {
            "type": "tool_result",
            "tool_use_id": "e",
            "content": [
                {"type": "text", "text": "[tool_reference] Read"},
                {"type": "text", "text": '{"type":"weird","x":1}'},
            ],
        },
        {"type": "tool_result", "tool_use_id": "f", "content": '{"answer":42}'},
    ]


def test_empty_blocks_and_messages_go_and_neighbours_merge() -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": [{"type": "text", "text": "second"}, {"type": "text", "text": "  \n"}]},
        {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
        {"role": "assistant", "content": "   "},
        {"role": "assistant", "content": "answer"},
        {"role": "assistant", "content": [{"type": "text", "text": "more"}]},
    ]
    out = sanitize(body(messages, system="base"))
    assert out["system"] == [{"type": "text", "text": "base"}, {"type": "text", "text": "be brief"}]
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "second"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "answer"}, {"type": "text", "text": "more"}]},
    ]


def test_merged_user_turns_put_tool_results_first() -> None:
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": "note from the user"},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]},
    ]
    out = sanitize(body(messages))
    assert [b["type"] for b in out["messages"][2]["content"]] == ["tool_result", "text"]


def test_system_variants() -> None:
    assert sanitize(body(system="plain"))["system"] == "plain"
    assert "system" not in sanitize(body(system=""))
    assert "system" not in sanitize(body(system=[{"type": "text", "text": " "}]))
    moved = sanitize(body([{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]))
    assert moved["system"] == [{"type": "text", "text": "s"}] and moved["messages"] == [
        {"role": "user", "content": "u"}
    ]


def test_thinking_blocks_lose_cache_control_and_prefill_loses_trailing_space() -> None:
    thinking = {"type": "thinking", "thinking": "t", "signature": "sig", "cache_control": EPHEMERAL}
    redacted = {"type": "redacted_thinking", "data": "abc", "cache_control": EPHEMERAL}
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [thinking, redacted, {"type": "text", "text": "The answer is "}]},
    ]
    out = sanitize(body(messages))
    assert out["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "redacted_thinking", "data": "abc"},
        {"type": "text", "text": "The answer is"},
    ]
    assert sanitize(body([{"role": "user", "content": "q"}, {"role": "assistant", "content": "Sure: "}]))["messages"][
        1
    ] == {
        "role": "assistant",
        "content": "Sure:",
    }


@pytest.mark.parametrize(
    ("block", "where"),
    [
        ({"type": "image", "source": {"type": "url", "url": "https://x/cat.png"}}, "messages[0].content[0].source"),
        ({"type": "document", "source": {"type": "file", "file_id": "file_1"}}, "messages[0].content[0].source"),
        (
            {
                "type": "tool_result",
                "tool_use_id": "t",
                "content": [{"type": "image", "source": {"type": "url", "url": "u"}}],
            },
            "messages[0].content[0].content[0].source",
        ),
    ],
)
def test_url_and_file_sources_are_refused_by_name(block: dict[str, Any], where: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        anthropic_to_bedrock_invoke(body([{"role": "user", "content": [block]}]), beta_header=None, caps=CLAUDE_4)
    assert exc.value.message.startswith(where) and "base64" in exc.value.message


def test_message_fields_other_than_role_and_content_go() -> None:
    out = sanitize(body([{"role": "user", "content": "q", "id": "m1", "name": "me"}]))
    assert out["messages"] == [{"role": "user", "content": "q"}]


# ---------------------------------------------------------------- betas


@pytest.mark.parametrize(
    ("model", "header", "listed", "expected"),
    [
        ("anthropic--claude-4-sonnet", None, None, None),
        ("anthropic--claude-4-sonnet", "", None, None),
        ("anthropic--claude-4-sonnet", "claude-code-20250219", None, None),
        # fine-grained-tool-streaming, oauth, prompt-caching: not Bedrock betas, never forwarded.
        ("anthropic--claude-4-sonnet", CLAUDE_CODE_BETAS, None, ["interleaved-thinking-2025-05-14"]),
        (
            "anthropic--claude-3.7-sonnet",
            "context-1m-2025-08-07 , output-128k-2025-02-19,token-efficient-tools-2025-02-19,computer-use-2025-01-24",
            None,
            ["output-128k-2025-02-19", "token-efficient-tools-2025-02-19", "computer-use-2025-01-24"],
        ),
        (
            "anthropic--claude-4.5-sonnet",
            "interleaved-thinking-2025-05-14",
            ["context-management-2025-06-27", "context-1m-2025-08-07", "interleaved-thinking-2025-05-14"],
            ["context-management-2025-06-27", "context-1m-2025-08-07", "interleaved-thinking-2025-05-14"],
        ),
        # Opus 4.7 on Bedrock accepts interleaved thinking only (anthropics/claude-code#49370).
        (
            "anthropic--claude-4.7-opus",
            CLAUDE_CODE_BETAS + ",effort-2025-11-24",
            None,
            ["interleaved-thinking-2025-05-14"],
        ),
        ("anthropic--claude-4-sonnet", None, [], None),
    ],
)
def test_betas(model: str, header: str | None, listed: list[str] | None, expected: list[str] | None) -> None:
    doc = body() if listed is None else body(anthropic_beta=listed)
    caps = capabilities_for(model, "claude")
    assert sanitize(doc, header, caps).get("anthropic_beta") == expected


def test_the_simulators_bedrock_rules_accept_the_sanitised_claude_code_request() -> None:
    """Cross-check against the simulator's copy of Bedrock's refusals (which refuse the raw request)."""
    checks = pytest.importorskip("aicore_sim.families.claude_checks")
    with pytest.raises(Exception):  # noqa: B017 - the simulator's Refusal type is its own business
        checks.validate_invoke(claude_code())
    checks.validate_invoke(sanitize(claude_code(), CLAUDE_CODE_BETAS))
