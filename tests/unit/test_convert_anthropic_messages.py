"""Anthropic Messages <-> OpenAI chat hub, for models reached through the chat converters.

Requests: a matrix of Anthropic fields to the OpenAI body, which must then pass the
chat route's own validation and the Azure and Gemini converters. Answers: a matrix of
``chat.completion`` shapes to Anthropic ``message`` documents, each one validated by
the anthropic SDK's ``Message`` model. Inputs are never mutated.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import anthropic
import pytest

from shared.capabilities import capabilities_for
from shared.convert.anthropic_messages import anthropic_to_openai_chat, openai_chat_to_anthropic
from shared.convert.azure_openai import openai_to_azure_chat
from shared.convert.gemini import openai_to_gemini
from shared.errors import InvalidRequest, UpstreamError, UpstreamProtocolError
from shared.flows.chat import parse_chat_request
from shared.openai_chunks import chat_completion, make_usage
from tests.unit.feeding import fixture_bytes

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}
SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def convert(body: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(body)
    out = anthropic_to_openai_chat(body)
    assert body == before
    json.dumps(out)
    assert "cache_control" not in json.dumps(out)
    return out


def req(messages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4.1", "max_tokens": 256, "messages": messages or [{"role": "user", "content": "Hi"}], **extra}


# ---------------------------------------------------------------- requests


def test_minimal_request() -> None:
    assert convert(req()) == {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 256}


def test_system_prompt_string_blocks_and_system_messages() -> None:
    system = [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "B"}]
    messages = [
        {"role": "user", "content": "u1"},
        {"role": "system", "content": [{"type": "text", "text": "late rule"}]},
        {"role": "user", "content": "u2"},
    ]
    out = convert(req(messages, system=system))
    assert out["messages"] == [
        {"role": "system", "content": "A\n\nB"},
        {"role": "user", "content": "u1"},
        {"role": "system", "content": "late rule"},
        {"role": "user", "content": "u2"},
    ]
    assert convert(req(system="plain"))["messages"][0] == {"role": "system", "content": "plain"}
    assert convert(req(system=""))["messages"] == [{"role": "user", "content": "Hi"}]


def test_user_blocks_text_and_images() -> None:
    url_image = {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}
    content = [{"type": "text", "text": "Look:"}, IMAGE, url_image, {"type": "text", "text": ""}]
    assert convert(req([{"role": "user", "content": content}]))["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        }
    ]


def tool_history() -> list[dict[str, Any]]:
    results = [
        {"type": "text", "text": "Here you go, and also:"},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18°C"},
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "is_error": True,
            "content": [{"type": "text", "text": "timeout"}, IMAGE, {"type": "search_result", "title": "t"}],
        },
    ]
    calls = [
        {"type": "thinking", "thinking": "need both", "signature": "sig"},
        {"type": "redacted_thinking", "data": "xyz"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}},
    ]
    return [
        {"role": "user", "content": "Weather and time in Paris?"},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": results},
    ]


def test_tool_use_and_results_become_tool_calls_and_tool_messages_first() -> None:
    out = convert(req(tool_history()))
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {"id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18°C"},
        {
            "role": "tool",
            "tool_call_id": "toolu_2",
            "content": "Error: timeout\n[an image from the tool result was left out: this model reads images in user"
            ' messages only]\n{"type":"search_result","title":"t"}',
        },
        {"role": "user", "content": "Here you go, and also:"},
    ]


def test_assistant_with_only_tool_calls_or_only_thinking() -> None:
    calls = [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": [1, 2]}}]
    messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}]},
        {"role": "assistant", "content": calls},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
    ]
    assert convert(req(messages))["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": '{"a":[1,2]}'}}],
        },
        {"role": "tool", "tool_call_id": "t", "content": ""},
    ]


TOOLS = [
    {"name": "get_weather", "description": "Weather", "input_schema": SCHEMA, "cache_control": {"type": "ephemeral"}},
    {"type": "custom", "name": "get_time", "input_schema": {"type": "object"}, "input_examples": [{}]},
    {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
]


def test_tools_become_functions_and_server_tools_go() -> None:
    assert convert(req(tools=TOOLS))["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": SCHEMA}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
    ]
    out = convert(req(tools=TOOLS[2:], tool_choice={"type": "any"}))
    assert "tools" not in out and "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "get_time"}, {"type": "function", "function": {"name": "get_time"}}),
        ({"type": "tool", "name": "web_search"}, None),  # names a dropped server tool: the model chooses
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    out = convert(req(tools=TOOLS, tool_choice=choice))
    assert out.get("tool_choice") == expected and "parallel_tool_calls" not in out
    out = convert(req(tools=TOOLS, tool_choice={**choice, "disable_parallel_tool_use": True}))
    assert out["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4096, "low"), (4097, "medium"), (16384, "medium"), (16385, "high"), (31999, "high")],
)
def test_thinking_budget_becomes_reasoning_effort(budget: int, effort: str) -> None:
    assert convert(req(thinking={"type": "enabled", "budget_tokens": budget}))["reasoning_effort"] == effort


def test_sampling_stop_stream_and_ignored_fields() -> None:
    body = req(
        temperature=0.4,
        top_p=0.9,
        top_k=20,
        stop_sequences=["END", "STOP"],
        stream=True,
        metadata={"user_id": "u"},
        context_management={"edits": []},
        output_config={"effort": "low"},
        service_tier="auto",
        thinking={"type": "disabled"},
    )
    out = convert(body)
    assert {k: v for k, v in out.items() if k != "messages"} == {
        "model": "gpt-4.1",
        "max_tokens": 256,
        "stop": ["END", "STOP"],
        "temperature": 0.4,
        "top_p": 0.9,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "stream" not in convert(req(stream=False))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            req([{"role": "user", "content": [{"type": "document", "source": {}}]}]),
            "documents are supported for Claude",
        ),
        (
            req([{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]),
            "messages[0].content[0].source",
        ),
        (req([{"role": "user", "content": [{"type": "container_upload"}]}]), "messages[0].content[0]"),
        (req([{"role": "assistant", "content": [{"type": "server_tool_use"}]}]), "messages[0].content[0]"),
        (req([{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]), "messages[0].content[0]"),
        (req([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]), "tool_use_id"),
        (req([{"role": "system", "content": "only"}]), "messages"),
        (req([{"role": "developer", "content": "x"}]), "messages[0].role"),
        (req() | {"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "x"}]}, "max_tokens: required"),
        (req(tools=[{"name": "f"}]), "tools[0].input_schema"),
        (req(tools=[{"name": "", "input_schema": {}}]), "tools[0].name"),
        (req(tools=TOOLS, tool_choice={"type": "tool", "name": "nope"}), "tool_choice.name"),
        (req(tools=TOOLS, tool_choice="auto"), "tool_choice"),
        (req(stop_sequences=[1]), "stop_sequences"),
    ],
)
def test_client_mistakes_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        anthropic_to_openai_chat(body)
    assert field in exc.value.message


def test_claude_code_request_is_accepted_by_the_chat_route_and_both_converters() -> None:
    body = json.loads(fixture_bytes("anthropic-claude-code-request.json"))
    out = convert(body)
    assert [m["role"] for m in out["messages"]] == [
        "system",
        "user",
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "tool",
    ]
    assert [t["function"]["name"] for t in out["tools"]] == ["Glob", "Read", "Bash"]
    assert out["reasoning_effort"] == "high" and out["stream_options"] == {"include_usage": True}
    assert (
        out["messages"][5]["content"]
        == 'setup.py\nsrc/app/__init__.py\nsrc/app/main.py\n{"type":"tool_reference","tool_name":"Read"}'
    )
    assert parse_chat_request(out).include_usage
    azure = openai_to_azure_chat(out, caps=capabilities_for("gpt-5", "openai"))
    assert azure["max_completion_tokens"] == 32000 and "temperature" not in azure
    gemini = openai_to_gemini(out, default_max_tokens=None, caps=capabilities_for("gemini-2.5-pro", "gemini"))
    assert [c["role"] for c in gemini["contents"]] == ["user", "model", "user", "model", "user"]


# ---------------------------------------------------------------- answers


def completion(message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return chat_completion(
        completion_id="chatcmpl-1",
        created=1,
        model="gpt-4.1-2025-04-14",
        message=message,
        finish_reason=finish,
        usage=usage,
    )


def answer(doc: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(doc)
    out = openai_chat_to_anthropic(doc, message_id="msg_1", model="gpt-4.1")
    assert doc == before
    anthropic.types.Message.model_validate(out)
    return out


def test_text_answer_is_a_full_message() -> None:
    out = answer(completion({"role": "assistant", "content": "Hello!"}, usage=make_usage(20, 5, cached=8)))
    assert out == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "gpt-4.1",
        "content": [{"type": "text", "text": "Hello!"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "output_tokens": 5,
            "cache_read_input_tokens": 8,
            "cache_creation_input_tokens": 0,
        },
    }


def test_reasoning_text_and_tool_calls_in_anthropic_order() -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "not json"}},
        {"id": "call_3", "type": "function", "function": {"name": "h", "arguments": ""}},
        {"id": "call_4", "type": "function", "function": {"name": "k", "arguments": "[1]"}},
    ]
    message = {"role": "assistant", "content": "", "reasoning_content": "hmm", "tool_calls": calls}
    out = answer(completion(message, "tool_calls"))
    assert out["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": ""},
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_2", "name": "g", "input": {"_raw": "not json"}},
        {"type": "tool_use", "id": "call_3", "name": "h", "input": {}},
        {"type": "tool_use", "id": "call_4", "name": "k", "input": {"_raw": "[1]"}},
    ]
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }


@pytest.mark.parametrize(
    ("finish", "reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        ("function_call", "tool_use"),
        ("something_new", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_stop_reasons(finish: Any, reason: str) -> None:
    assert answer(completion({"role": "assistant", "content": "x"}, finish))["stop_reason"] == reason


def test_refusal_and_part_list_content_become_text() -> None:
    out = answer(completion({"role": "assistant", "content": None, "refusal": "I can't."}, "content_filter"))
    assert out["content"] == [{"type": "text", "text": "I can't."}] and out["stop_reason"] == "refusal"
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert answer(completion({"role": "assistant", "content": parts}))["content"] == [{"type": "text", "text": "ab"}]
    assert answer(completion({"role": "assistant", "content": ""}, "length"))["content"] == []


@pytest.mark.parametrize(
    "doc",
    [
        "text",
        {"choices": []},
        {"choices": [{"message": "x"}]},
        {"choices": ["x"]},
        {"choices": [{"message": {"tool_calls": [{"id": 1, "function": {"name": "f"}}]}}]},
        {"choices": [{"message": {"tool_calls": [{"id": "c"}]}}]},
    ],
)
def test_malformed_answers(doc: Any) -> None:
    with pytest.raises(UpstreamProtocolError):
        openai_chat_to_anthropic(doc, message_id="m", model="x")


def test_error_document_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="quota"):
        openai_chat_to_anthropic({"error": {"message": "quota exceeded"}}, message_id="m", model="x")
