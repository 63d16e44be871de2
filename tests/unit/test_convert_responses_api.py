"""Responses API requests -> chat requests, and chat completions -> Responses ``response`` objects.

Every response object is validated with the official ``openai`` SDK types, and any key
the SDK does not know (pydantic keeps unknown keys as extras) fails the test unless it
is one the proxy adds on purpose, so a misspelt field cannot slip through as an extra.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from openai.types.responses import Response
from pydantic import BaseModel

from shared.adjustments import Adjustments
from shared.convert.responses_api import chat_to_responses, responses_to_chat_request
from shared.errors import InvalidRequest, UpstreamError, UpstreamProtocolError
from shared.openai_chunks import chat_completion, make_usage
from tests.unit.feeding import fixture_bytes

# Keys outside the SDK types that the proxy sends deliberately: the concatenated text
# (pjq sent it and some clients read it) and store=false (the proxy keeps nothing).
ALLOWED_EXTRAS = {"output_text", "store"}
CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


def unknown_keys(value: Any, path: str = "") -> list[str]:
    """Paths of every key the SDK models kept as an extra, anywhere in the tree."""
    found: list[str] = []
    if isinstance(value, BaseModel):
        found += [f"{path}.{key}" for key in value.model_extra or {}]
        for name in type(value).model_fields:
            found += unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += unknown_keys(item, f"{path}[{i}]")
    return found


def check_extras(model: BaseModel) -> None:
    assert {p.rsplit(".", 1)[-1] for p in unknown_keys(model)} <= ALLOWED_EXTRAS, unknown_keys(model)


def valid_response(doc: dict[str, Any]) -> Response:
    """The SDK's own ``Response`` type accepts it, with no unknown keys, and agrees on output_text."""
    model = Response.model_validate(doc)
    check_extras(model)
    if "output_text" in doc:
        assert model.output_text == doc["output_text"]
    return model


def convert(body: dict[str, Any]) -> dict[str, Any]:
    before = copy.deepcopy(body)
    out = responses_to_chat_request(body)
    assert body == before, "the converter mutated its input"
    return out


def messages(input_: Any, **extra: Any) -> list[dict[str, Any]]:
    return convert({"model": "m", "input": input_, **extra})["messages"]


def refused(body: dict[str, Any], param: str, *needles: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        convert({"model": "m", "input": "hi", **body})
    assert info.value.param == param
    assert param in info.value.message
    for needle in needles:
        assert needle in info.value.message


def call(call_id: str, name: str = "shell", arguments: str = "{}") -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def output(call_id: str, text: Any = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def chat_call(call_id: str, name: str = "shell", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def tool_msg(call_id: str, text: str = "ok") -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


# ------------------------------------------------------------------ input mapping


def test_string_input_and_instructions() -> None:
    out = convert({"model": "gpt-4o", "instructions": "Be brief.", "input": "Hello"})
    assert out == {
        "model": "gpt-4o",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    }


def test_list_items_strings_and_messages_with_and_without_type_or_role() -> None:
    assert messages(
        [
            "plain",
            {"role": "user", "content": "no type"},
            {"type": "message", "content": "no role"},
            {"type": "message", "role": "assistant", "content": "answer"},
            {"role": "system", "content": "sys"},
            {"role": "developer", "content": "dev"},
        ]
    ) == [
        {"role": "user", "content": "plain"},
        {"role": "user", "content": "no type"},
        {"role": "user", "content": "no role"},
        {"role": "assistant", "content": "answer"},
        {"role": "system", "content": "sys"},
        {"role": "system", "content": "dev"},
    ]


def test_content_parts() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}
    out = messages(
        [
            {"role": "user", "content": [{"type": "input_text", "text": "one part"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "look"}, image]},
            {
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a"}, {"type": "refusal", "refusal": "b"}],
            },
            {
                "role": "user",
                "content": [{"type": "text", "text": "t"}, {"type": "input_image", "image_url": "https://x/y.png"}],
            },
            {"role": "user", "content": []},
            {"role": "user", "content": ""},
            {"role": "user", "content": [{"type": "input_text", "text": ""}]},
        ]
    )
    assert out == [
        {"role": "user", "content": "one part"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "t"}, {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
        },
    ]


def test_function_call_round_trip() -> None:
    out = messages([{"role": "user", "content": "run ls"}, call("c1", arguments='{"cmd":"ls"}'), output("c1", "a.py")])
    assert out == [
        {"role": "user", "content": "run ls"},
        {"role": "assistant", "content": None, "tool_calls": [chat_call("c1", arguments='{"cmd":"ls"}')]},
        tool_msg("c1", "a.py"),
    ]


def test_consecutive_calls_merge_and_join_a_preceding_assistant_text_across_reasoning() -> None:
    out = messages(
        [
            "go",
            {"role": "assistant", "content": "Running two commands."},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
            call("c1"),
            call("c2", "read"),
            output("c1", "one"),
            output("c2", "two"),
            call("c3"),
            output("c3", "three"),
        ]
    )
    assert out == [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": "Running two commands.",
            "tool_calls": [chat_call("c1"), chat_call("c2", "read")],
        },
        tool_msg("c1", "one"),
        tool_msg("c2", "two"),
        {"role": "assistant", "content": None, "tool_calls": [chat_call("c3")]},
        tool_msg("c3", "three"),
    ]


def test_custom_tool_calls_and_outputs_round_trip_as_function_calls() -> None:
    patch = "*** Begin Patch\n*** End Patch\n"
    out = messages(
        [
            "edit",
            {"type": "custom_tool_call", "call_id": "p1", "name": "apply_patch", "input": patch, "status": "completed"},
            {"type": "custom_tool_call_output", "call_id": "p1", "output": "Success"},
        ]
    )
    assert out[1]["tool_calls"] == [chat_call("p1", "apply_patch", json.dumps({"input": patch}, separators=(",", ":")))]
    assert json.loads(out[1]["tool_calls"][0]["function"]["arguments"]) == {"input": patch}
    assert out[2] == tool_msg("p1", "Success")


def test_function_call_output_parts() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    out = messages(
        [
            "look",
            call("c1"),
            output("c1", [{"type": "input_text", "text": "see "}, image, {"type": "input_text", "text": "this"}]),
        ]
    )
    assert out[2] == tool_msg("c1", "see this")
    # Chat Completions carries images in user messages only: they follow the tool outputs.
    assert out[3] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "[images from the tool outputs above]"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
    }


# ------------------------------------------------------------------ Codex repairs


def test_repair_output_separated_from_its_call_by_a_developer_message() -> None:
    dev = {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "approved"}]}
    out = messages(["run", call("c1"), dev, output("c1")])
    assert out == [
        {"role": "user", "content": "run"},
        {"role": "assistant", "content": None, "tool_calls": [chat_call("c1")]},
        tool_msg("c1"),
        {"role": "system", "content": "approved"},
    ]


def test_repair_parallel_outputs_separated_and_reordered() -> None:
    out = messages(
        ["run", call("a"), call("b"), {"role": "developer", "content": "x"}, output("b", "B"), "more", output("a", "A")]
    )
    assert out == [
        {"role": "user", "content": "run"},
        {"role": "assistant", "content": None, "tool_calls": [chat_call("a"), chat_call("b")]},
        tool_msg("a", "A"),
        tool_msg("b", "B"),
        {"role": "system", "content": "x"},
        {"role": "user", "content": "more"},
    ]


def test_repair_orphan_call_is_removed_and_an_emptied_assistant_message_dropped() -> None:
    out = messages(["run", call("lost"), "never mind"])
    assert out == [{"role": "user", "content": "run"}, {"role": "user", "content": "never mind"}]


def test_repair_orphan_call_beside_text_and_answered_calls() -> None:
    out = messages(["run", {"role": "assistant", "content": "Trying."}, call("lost"), call("kept"), output("kept")])
    assert out == [
        {"role": "user", "content": "run"},
        {"role": "assistant", "content": "Trying.", "tool_calls": [chat_call("kept")]},
        tool_msg("kept"),
    ]
    out = messages(["run", {"role": "assistant", "content": "Trying."}, call("lost"), "stop"])
    assert out[1] == {"role": "assistant", "content": "Trying."}


def test_repair_orphan_output_becomes_user_text() -> None:
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    out = messages(
        ["hi", output("gone", "stale result"), output("gone2", [{"type": "input_text", "text": "pic"}, image])]
    )
    assert out == [
        {"role": "user", "content": "hi"},
        {"role": "user", "content": "[tool output for gone]: stale result"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "[tool output for gone2]: pic"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ],
        },
    ]


def test_repair_output_before_its_call_and_duplicate_outputs() -> None:
    out = messages(["run", output("c1", "first"), call("c1"), output("c1", "second")])
    assert out == [
        {"role": "user", "content": "run"},
        {"role": "assistant", "content": None, "tool_calls": [chat_call("c1")]},
        tool_msg("c1", "first"),
        {"role": "user", "content": "[tool output for c1]: second"},
    ]


def test_repair_a_call_id_used_twice_keeps_the_first_call() -> None:
    out = messages(["run", call("c1"), output("c1"), "again", call("c1"), "x"])
    assert [m["role"] for m in out] == ["user", "assistant", "tool", "user", "user"]


def test_codex_transcript_fixture() -> None:
    body = json.loads(fixture_bytes("responses-codex-request.json"))
    out = convert(body)
    roles = [(m["role"], m.get("tool_call_id") or [c["id"] for c in m.get("tool_calls", ())]) for m in out["messages"]]
    assert roles == [
        ("system", []),  # instructions
        ("system", []),  # developer permissions
        ("user", []),
        ("user", []),
        ("assistant", ["call_read"]),  # reasoning item dropped
        ("tool", "call_read"),  # moved up past the developer message
        ("system", []),
        ("assistant", ["call_patch"]),  # the assistant text and the custom call, merged
        ("tool", "call_patch"),
        ("user", []),  # the interrupted call is gone
    ]
    assert out["messages"][7]["content"] == "Renaming now."
    patch = json.loads(out["messages"][7]["tool_calls"][0]["function"]["arguments"])["input"]
    assert patch.startswith("*** Begin Patch\n")
    assert [t["function"]["name"] for t in out["tools"]] == ["shell", "apply_patch", "update_plan"]
    assert out["tools"][1]["function"]["parameters"] == CUSTOM_PARAMETERS
    assert "lark grammar" in out["tools"][1]["function"]["description"]
    assert out["tool_choice"] == "auto" and out["parallel_tool_calls"] is False
    assert out["reasoning_effort"] == "medium"
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    for key in ("store", "include", "text", "reasoning", "instructions", "input"):
        assert key not in out
    assert out["prompt_cache_key"] == body["prompt_cache_key"]  # kept where the target model knows it


# ------------------------------------------------------------------ tools and parameters


def test_function_and_custom_tools() -> None:
    out = convert(
        {
            "model": "m",
            "input": "hi",
            "tools": [
                {
                    "type": "function",
                    "name": "f",
                    "description": "does f",
                    "parameters": {"type": "object"},
                    "strict": True,
                },
                {"type": "function", "name": "g"},
                {"type": "custom", "name": "free"},
                {"type": "custom", "name": "txt", "description": "Text in.", "format": {"type": "text"}},
                {
                    "type": "custom",
                    "name": "gram",
                    "format": {"type": "grammar", "syntax": "regex", "definition": "[a-z]+"},
                },
            ],
        }
    )
    fns = [t["function"] for t in out["tools"]]
    assert all(t["type"] == "function" for t in out["tools"])
    assert fns[0] == {"name": "f", "description": "does f", "parameters": {"type": "object"}}
    assert fns[1] == {"name": "g", "parameters": {"type": "object", "properties": {}}}
    assert fns[2]["parameters"] == CUSTOM_PARAMETERS and "`input`" in fns[2]["description"]
    assert fns[3]["description"].startswith("Text in.\n\n")
    assert fns[4]["description"].endswith("regex grammar:\n[a-z]+")


@pytest.mark.parametrize(
    "kind",
    [
        "web_search",
        "web_search_preview",
        "file_search",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "mcp",
        "local_shell",
    ],
)
def test_built_in_tools_are_left_out_and_reported(kind: str) -> None:
    fitted = Adjustments()
    out = responses_to_chat_request(
        {"model": "m", "input": "hi", "tools": [{"type": "function", "name": "f"}, {"type": kind}]}, fitted
    )
    assert [t["function"]["name"] for t in out["tools"]] == ["f"]
    assert fitted.dropped_fields() == ["tools"] and kind in fitted.summary()


@pytest.mark.parametrize(
    ("choice", "wanted"),
    [
        ("auto", "auto"),
        ("none", "none"),
        ("required", "required"),
        ({"type": "function", "name": "f"}, {"type": "function", "function": {"name": "f"}}),
        ({"type": "custom", "name": "p"}, {"type": "function", "function": {"name": "p"}}),
    ],
)
def test_tool_choice(choice: Any, wanted: Any) -> None:
    tools = [{"type": "function", "name": "f"}, {"type": "custom", "name": "p"}]
    out = convert({"model": "m", "input": "hi", "tools": tools, "tool_choice": choice, "parallel_tool_calls": True})
    assert out["tool_choice"] == wanted and out["parallel_tool_calls"] is True


def test_tool_choice_and_parallel_calls_need_tools() -> None:
    out = convert({"model": "m", "input": "hi", "tools": [], "tool_choice": "auto", "parallel_tool_calls": False})
    assert "tools" not in out and "tool_choice" not in out and "parallel_tool_calls" not in out


def test_parameters() -> None:
    out = convert(
        {
            "model": "m",
            "input": "hi",
            "max_output_tokens": 300,
            "temperature": 0.2,
            "top_p": 1,
            "reasoning": {"effort": "high", "summary": "auto"},
            "text": {"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}, "strict": True}},
            "store": True,
            "metadata": {"k": "v"},
            "user": "u",
            "include": ["reasoning.encrypted_content"],
            "truncation": "auto",
            "prompt_cache_key": "k",
            "service_tier": "auto",
            "safety_identifier": "s",
            "stream": False,
        }
    )
    assert out == {
        "model": "m",
        "prompt_cache_key": "k",
        "safety_identifier": "s",
        "user": "u",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 300,
        "temperature": 0.2,
        "top_p": 1,
        "reasoning_effort": "high",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
        },
    }


@pytest.mark.parametrize(
    ("effort", "wanted"),
    [
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
        ("none", None),
        (None, None),
    ],
)
def test_reasoning_effort(effort: Any, wanted: Any) -> None:
    assert convert({"model": "m", "input": "hi", "reasoning": {"effort": effort}}).get("reasoning_effort") == wanted


@pytest.mark.parametrize(
    ("fmt", "wanted"),
    [({"type": "text"}, None), ({"type": "json_object"}, {"type": "json_object"}), (None, None)],
)
def test_text_format(fmt: Any, wanted: Any) -> None:
    assert (
        convert({"model": "m", "input": "hi", "text": {"format": fmt, "verbosity": "low"}}).get("response_format")
        == wanted
    )


# ------------------------------------------------------------------ client errors


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"previous_response_id": "resp_1"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"background": True}, "background"),
        ({"model": None}, "model"),
        ({"model": ""}, "model"),
        ({"input": None}, "input"),
        ({"input": 5}, "input"),
        ({"input": []}, "input"),
        ({"instructions": "only", "input": [{"role": "system", "content": "sys"}]}, "input"),
        ({"input": [7]}, "input[0]"),
        ({"instructions": ["x"]}, "instructions"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 5}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "input_text"}]}]}, "input[0].content[0].text"),
        ({"input": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": ["bare"]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0]"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file_1"}]}]},
            "input[0].content[0].file_id",
        ),
        ({"input": [{"role": "user", "content": [{"type": "input_image"}]}]}, "input[0].content[0].image_url"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "u", "detail": "max"}]}]},
            "input[0].content[0].detail",
        ),
        (
            {"input": [{"role": "assistant", "content": [{"type": "input_image", "image_url": "u"}]}]},
            "input[0].content",
        ),
        ({"input": ["a", {"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[1].call_id"),
        ({"input": ["a", {"type": "function_call", "call_id": "c", "arguments": "{}"}]}, "input[1].name"),
        (
            {"input": ["a", {"type": "function_call", "call_id": "c", "name": "f", "arguments": {}}]},
            "input[1].arguments",
        ),
        ({"input": ["a", {"type": "custom_tool_call", "call_id": "c", "name": "f"}]}, "input[1].input"),
        ({"input": ["a", {"type": "function_call_output", "output": "x"}]}, "input[1].call_id"),
        ({"input": ["a", {"type": "function_call_output", "call_id": "c", "output": 3}]}, "input[1].output"),
        ({"input": ["a", {"type": "item_reference", "id": "msg_1"}]}, "input[1]"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "function", "name": "f", "description": 3}]}, "tools[0].description"),
        ({"tools": [{"type": "function", "name": "f", "parameters": "x"}]}, "tools[0].parameters"),
        ({"tools": [{"type": "custom", "name": "c", "format": {"type": "grammar"}}]}, "tools[0].format"),
        ({"tools": [{"type": "custom", "name": "c", "format": {"type": "xml"}}]}, "tools[0].format.type"),
        ({"tools": ["f"]}, "tools[0].type"),
        ({"tool_choice": "any"}, "tool_choice"),
        (
            {"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "g"}},
            "tool_choice.name",
        ),
        ({"parallel_tool_calls": "yes"}, "parallel_tool_calls"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"max_output_tokens": True}, "max_output_tokens"),
        ({"max_output_tokens": "10"}, "max_output_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": False}, "top_p"),
        ({"reasoning": "high"}, "reasoning"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"text": "json"}, "text"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format"),
        ({"stream": "yes"}, "stream"),
    ],
)
def test_client_errors_name_the_field(body: dict[str, Any], param: str) -> None:
    refused(body, param)


def test_body_must_be_an_object() -> None:
    with pytest.raises(InvalidRequest):
        responses_to_chat_request([])  # type: ignore[arg-type]


def test_stateful_refusal_says_what_to_do() -> None:
    refused({"previous_response_id": "resp_1"}, "previous_response_id", "full input")
    refused({"input": ["a", {"type": "item_reference", "id": "x"}]}, "input[1]", "item_reference")
    refused(
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        "input[0].content[0].file_id",
        "files",
    )


# ------------------------------------------------------------------ response objects


def completion(message: dict[str, Any], finish: str = "stop", usage: dict[str, Any] | None = None) -> dict[str, Any]:
    return chat_completion(
        completion_id="chatcmpl-1",
        created=1,
        model="gpt-4o-2024-08-06",
        message=message,
        finish_reason=finish,
        usage=usage,
    )


def to_response(doc: dict[str, Any], request: dict[str, Any] | None = None) -> dict[str, Any]:
    request = request or {"model": "gpt-4o", "input": "hi"}
    before, before_request = copy.deepcopy(doc), copy.deepcopy(request)
    out = chat_to_responses(doc, response_id="resp_abc123", created_at=1700000000, request=request)
    assert doc == before and request == before_request, "the converter mutated its input"
    valid_response(out)
    return out


def test_text_response() -> None:
    out = to_response(completion({"role": "assistant", "content": "Hello!"}, usage=make_usage(12, 3, cached=8)))
    assert out["id"] == "resp_abc123" and out["object"] == "response" and out["created_at"] == 1700000000
    assert out["status"] == "completed" and out["error"] is None and out["incomplete_details"] is None
    assert out["model"] == "gpt-4o"
    assert out["output"] == [
        {
            "id": "msg_abc123",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}],
        }
    ]
    assert out["output_text"] == "Hello!"
    assert out["usage"] == {
        "input_tokens": 12,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
        "output_tokens": 3,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }


def test_defaults_the_real_api_reports() -> None:
    out = to_response(completion({"role": "assistant", "content": "x"}))
    expected = {
        "instructions": None,
        "max_output_tokens": None,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "store": False,
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "truncation": "disabled",
        "user": None,
        "metadata": {},
        "usage": None,
    }
    assert {k: out[k] for k in expected} == expected


def test_request_settings_are_echoed() -> None:
    request = json.loads(fixture_bytes("responses-codex-request.json"))
    request.update(
        max_output_tokens=500,
        temperature=0.3,
        top_p=0.9,
        metadata={"k": "v"},
        text={"format": {"type": "json_schema", "name": "r", "schema": {"type": "object"}}, "verbosity": "low"},
    )
    out = to_response(completion({"role": "assistant", "content": "x"}), request)
    assert out["instructions"] == request["instructions"]
    assert (out["max_output_tokens"], out["temperature"], out["top_p"]) == (500, 0.3, 0.9)
    assert out["parallel_tool_calls"] is False and out["tool_choice"] == "auto"
    assert out["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert out["text"] == {"format": request["text"]["format"], "verbosity": "low"}
    assert out["metadata"] == {"k": "v"} and out["prompt_cache_key"] == "0199a1b2-session"
    assert [t["type"] for t in out["tools"]] == ["function", "custom", "function"]
    assert out["tools"][0]["strict"] is False and out["tools"][1]["format"]["syntax"] == "lark"


def test_tool_call_response() -> None:
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [chat_call("call_1", "shell", '{"cmd":"ls"}'), chat_call("call_2", "read")],
    }
    out = to_response(completion(message, "tool_calls"))
    assert out["output"] == [
        {
            "id": "fc_call_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "shell",
            "arguments": '{"cmd":"ls"}',
        },
        {
            "id": "fc_call_2",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_2",
            "name": "read",
            "arguments": "{}",
        },
    ]
    assert out["output_text"] == ""


def test_text_reasoning_and_calls_come_in_that_order() -> None:
    message = {
        "role": "assistant",
        "content": "Let me look.",
        "reasoning_content": "Think first.",
        "tool_calls": [chat_call("c")],
    }
    out = to_response(completion(message, "tool_calls", make_usage(5, 20, reasoning=12)))
    assert [item["type"] for item in out["output"]] == ["reasoning", "message", "function_call"]
    assert out["output"][0] == {
        "id": "rs_abc123",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Think first."}],
    }
    assert out["usage"]["output_tokens_details"] == {"reasoning_tokens": 12}


def test_custom_tool_call_response() -> None:
    request = {
        "model": "m",
        "input": "x",
        "tools": [{"type": "custom", "name": "apply_patch"}, {"type": "function", "name": "shell"}],
    }
    patch = "*** Begin Patch\n*** End Patch\n"
    calls = [
        chat_call("c1", "apply_patch", json.dumps({"input": patch})),
        chat_call("c2", "apply_patch", "not json"),
        chat_call("c3"),
    ]
    out = to_response(completion({"role": "assistant", "content": None, "tool_calls": calls}, "tool_calls"), request)
    assert out["output"][0] == {
        "id": "ctc_c1",
        "type": "custom_tool_call",
        "call_id": "c1",
        "name": "apply_patch",
        "input": patch,
    }
    assert out["output"][1]["input"] == "not json"  # nothing is lost when the model did not wrap its input
    assert out["output"][2]["type"] == "function_call"


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_incomplete_responses(finish: str, reason: str) -> None:
    out = to_response(
        completion({"role": "assistant", "content": "Trunc", "tool_calls": [chat_call("c", arguments='{"a":')]}, finish)
    )
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": reason}
    assert {item["status"] for item in out["output"]} == {"incomplete"}


def test_refusal_and_list_content_become_text() -> None:
    out = to_response(completion({"role": "assistant", "content": None, "refusal": "I can't help with that."}))
    assert out["output_text"] == "I can't help with that."
    out = to_response(
        completion({"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
    )
    assert out["output_text"] == "ab"


def test_empty_answer_and_ids_without_prefix() -> None:
    out = chat_to_responses(
        completion({"role": "assistant", "content": ""}), response_id="r1", created_at=1, request={"model": "m"}
    )
    valid_response(out)
    assert out["output"] == [] and out["output_text"] == ""
    out = chat_to_responses(
        completion({"role": "assistant", "content": "x"}), response_id="r1", created_at=1, request={"model": "m"}
    )
    assert out["output"][0]["id"] == "msg_r1"


def test_tool_call_arguments_as_an_object_are_encoded() -> None:
    call_ = {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}
    out = to_response(completion({"role": "assistant", "content": None, "tool_calls": [call_]}, "tool_calls"))
    assert json.loads(out["output"][0]["arguments"]) == {"a": 1}


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ({"error": {"message": "overloaded"}}, UpstreamError),
        ({"choices": []}, UpstreamProtocolError),
        ({"choices": [{"message": "text"}]}, UpstreamProtocolError),
        ([], UpstreamProtocolError),
        ({"choices": [{"message": {"role": "assistant", "tool_calls": "x"}}]}, UpstreamProtocolError),
        (
            {"choices": [{"message": {"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}}]},
            UpstreamProtocolError,
        ),
        ({"choices": [{"message": {"role": "assistant", "tool_calls": ["x"]}}]}, UpstreamProtocolError),
    ],
)
def test_upstream_errors(doc: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        chat_to_responses(doc, response_id="resp_1", created_at=1, request={"model": "m"})
