"""OpenAI <-> Gemini (Vertex AI) conversion: requests, answers and streams."""

import copy
import json

import pytest

from shared.capabilities import capabilities_for
from shared.convert.common import call_id_with_signature
from shared.convert.gemini import (
    GeminiStream,
    finish_reason,
    gemini_to_openai,
    openai_to_gemini,
    stream_decoder,
    upstream_error,
)
from shared.convert.gemini_schema import SCHEMA_KEYS, sanitize_schema
from shared.errors import InvalidRequest, UpstreamProtocolError, UpstreamStatusError
from shared.openai_chunks import ChunkFactory
from shared.sse import SSEDecoder
from shared.streams import ChatRelay
from tests.unit.feeding import FEED_MODES, feed_relay, fixture_bytes, slices

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
CID, CREATED, MODEL = "chatcmpl-g1", 1717000000, "gemini-2.5-pro"

# ------------------------------------------------------------------ Vertex field list walker

_TOP = {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings"}
_GEN = {
    "maxOutputTokens", "temperature", "topP", "topK", "stopSequences", "candidateCount",
    "responseMimeType", "responseSchema", "thinkingConfig",
}  # fmt: skip
_PART_KINDS = {"text", "inlineData", "functionCall", "functionResponse"}

GEMINI_25 = capabilities_for("gemini-2.5-pro", "gemini")


def _keys(doc, allowed, where):
    extra = set(doc) - set(allowed)
    assert not extra, f"{where}: keys outside the Vertex field list: {extra}"


def _walk_schema(s, where):
    assert isinstance(s, dict), where
    _keys(s, SCHEMA_KEYS, where)
    if "type" in s:
        assert s["type"] in ("string", "number", "integer", "boolean", "array", "object"), where
    for name, sub in s.get("properties", {}).items():
        _walk_schema(sub, f"{where}.properties.{name}")
    if "items" in s:
        _walk_schema(s["items"], f"{where}.items")
    for k, sub in enumerate(s.get("anyOf", [])):
        _walk_schema(sub, f"{where}.anyOf[{k}]")
    if "enum" in s:
        assert all(isinstance(v, str) for v in s["enum"]), where


def assert_vertex_shape(body):
    """Every key of the body is one Vertex knows (it refuses unknown names with a 400)."""
    _keys(body, _TOP, "body")
    assert body["contents"], "contents must not be empty"
    roles = [turn["role"] for turn in body["contents"]]
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), f"roles must alternate: {roles}"
    for t, turn in enumerate(body["contents"]):
        _keys(turn, {"role", "parts"}, f"contents[{t}]")
        assert turn["role"] in ("user", "model") and isinstance(turn["parts"], list) and turn["parts"]
        for p, part in enumerate(turn["parts"]):
            kinds = set(part) & _PART_KINDS
            assert len(kinds) == 1, part
            _keys(part, _PART_KINDS | {"thought"}, f"contents[{t}].parts[{p}]")
            if "text" in part:
                assert isinstance(part["text"], str) and part["text"]
            if "inlineData" in part:
                _keys(part["inlineData"], {"mimeType", "data"}, "inlineData")
            if "functionCall" in part:
                _keys(part["functionCall"], {"name", "args"}, "functionCall")
                assert isinstance(part["functionCall"]["args"], dict)
            if "functionResponse" in part:
                _keys(part["functionResponse"], {"name", "response"}, "functionResponse")
                assert isinstance(part["functionResponse"]["response"], dict)
    if "systemInstruction" in body:
        _keys(body["systemInstruction"], {"parts"}, "systemInstruction")
    cfg = body.get("generationConfig", {})
    _keys(cfg, _GEN, "generationConfig")
    assert body.get("generationConfig", True), "an empty generationConfig must be omitted"
    if "thinkingConfig" in cfg:
        _keys(cfg["thinkingConfig"], {"thinkingBudget", "includeThoughts"}, "thinkingConfig")
    if "responseSchema" in cfg:
        _walk_schema(cfg["responseSchema"], "responseSchema")
    for i, tool in enumerate(body.get("tools", [])):
        _keys(tool, {"functionDeclarations"}, f"tools[{i}]")
        for d in tool["functionDeclarations"]:
            _keys(d, {"name", "description", "parameters"}, d["name"])
            if "parameters" in d:
                _walk_schema(d["parameters"], d["name"])
    if "toolConfig" in body:
        _keys(body["toolConfig"], {"functionCallingConfig"}, "toolConfig")
        _keys(body["toolConfig"]["functionCallingConfig"], {"mode", "allowedFunctionNames"}, "functionCallingConfig")


def convert(body, default_max_tokens=None):
    """Convert, checking the invariants every conversion must keep."""
    before = copy.deepcopy(body)
    out = openai_to_gemini(body, default_max_tokens=default_max_tokens, caps=GEMINI_25)
    assert body == before, "the converter mutated its input"
    assert_vertex_shape(out)
    json.dumps(out)  # plain JSON only
    return out


def user(text):
    return {"role": "user", "content": text}


def tool_call(call_id, name, args):
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def weather_tool(name="get_weather"):
    params = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    return {"type": "function", "function": {"name": name, "description": "Weather", "parameters": params}}


# ------------------------------------------------------------------ request: messages


def test_system_and_developer_messages_anywhere_become_one_system_instruction():
    body = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            user("Hi"),
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "system", "content": "Never use emoji."},
            user("Ça va?"),
        ]
    }
    out = convert(body)
    assert out["systemInstruction"] == {"parts": [{"text": "You are terse.\n\nAnswer in French.\n\nNever use emoji."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Bonjour"}]},
        {"role": "user", "parts": [{"text": "Ça va?"}]},
    ]


def test_consecutive_same_role_turns_are_merged_and_empty_messages_skipped():
    body = {
        "messages": [
            user("one"),
            {"role": "system", "content": "sys"},
            user([{"type": "text", "text": "two"}, {"type": "text", "text": ""}]),
            {"role": "assistant", "content": "a"},
            {"role": "assistant", "content": ""},
            {"role": "assistant", "content": [{"type": "text", "text": "b"}]},
            user("three"),
        ]
    }
    assert convert(body)["contents"] == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
        {"role": "model", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "user", "parts": [{"text": "three"}]},
    ]


def test_images_become_inline_data_and_cache_control_is_dropped():
    body = {
        "messages": [
            user(
                [
                    {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
                ]
            )
        ]
    }
    assert convert(body)["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": PNG}},
    ]


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}, "messages[0].content[0]"),
        ({"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}, "messages[0].content[0]"),
        ({"type": "file", "file": {"file_id": "f"}}, "messages[0].content[0]"),
        ({"type": "text", "text": 5}, "messages[0].content[0]"),
    ],
)
def test_unsupported_content_parts_are_refused_naming_the_field(part, param):
    with pytest.raises(InvalidRequest) as err:
        convert({"messages": [user([part])]})
    assert err.value.param == param


def test_only_system_messages_are_refused():
    with pytest.raises(InvalidRequest) as err:
        convert({"messages": [{"role": "system", "content": "x"}]})
    assert err.value.param == "messages"


# ------------------------------------------------------------------ request: tools


def test_tool_round_trip_with_parallel_calls():
    body = {
        "messages": [
            user("Weather in Paris and the time?"),
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    tool_call("call_a", "get_weather", {"city": "Paris"}),
                    tool_call("call_b", "get_time", {}),
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21, "sky": "clear"}'},
            {"role": "tool", "tool_call_id": "call_b", "content": [{"type": "text", "text": "14:05"}]},
            {"role": "assistant", "content": "21 °C and 14:05."},
            user("Thanks"),
        ],
        "tools": [weather_tool(), {"type": "function", "function": {"name": "get_time"}}],
    }
    out = convert(body)
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and the time?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"name": "get_time", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21, "sky": "clear"}}},
                {"functionResponse": {"name": "get_time", "response": {"content": "14:05"}}},
            ],
        },
        {"role": "model", "parts": [{"text": "21 °C and 14:05."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
                },
                {"name": "get_time"},
            ]
        }
    ]


@pytest.mark.parametrize(
    ("content", "response"),
    [
        ("[1, 2]", {"content": "[1, 2]"}),
        ("42", {"content": "42"}),
        ("{not json", {"content": "{not json"}),
        ("", {"content": ""}),
        (None, {"content": ""}),
        ('  {"ok": true}', {"ok": True}),
    ],
)
def test_tool_results_that_are_not_json_objects_are_wrapped(content, response):
    body = {
        "messages": [
            user("go"),
            {"role": "assistant", "tool_calls": [tool_call("c1", "run", {})]},
            {"role": "tool", "tool_call_id": "c1", "content": content},
        ]
    }
    assert convert(body)["contents"][2]["parts"] == [{"functionResponse": {"name": "run", "response": response}}]


def test_tool_result_for_an_unknown_call_id_is_refused():
    body = {"messages": [user("go"), {"role": "tool", "tool_call_id": "nope", "content": "x"}]}
    with pytest.raises(InvalidRequest) as err:
        convert(body)
    assert err.value.param == "messages[1].tool_call_id"


def test_bad_tool_call_arguments_are_refused_naming_the_field():
    body = {
        "messages": [
            user("go"),
            {
                "role": "assistant",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{"}}],
            },
        ]
    }
    with pytest.raises(InvalidRequest) as err:
        convert(body)
    assert err.value.param == "messages[1].tool_calls[0].function.arguments"


def test_legacy_function_call_and_function_role():
    body = {
        "messages": [
            user("go"),
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"x": 1}'}},
            {"role": "function", "name": "f", "content": '{"y": 2}'},
        ]
    }
    assert convert(body)["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"x": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"y": 2}}}]},
    ]


CLAUDE_CODE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "file_path": {"type": "string", "description": "Absolute path", "format": "uri", "minLength": 1},
        "edits": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Edit"}},
        "mode": {"const": "replace", "description": "Only mode"},
        "limit": {"type": ["integer", "null"], "exclusiveMinimum": 0, "maximum": 500},
        "options": {"anyOf": [{"$ref": "#/$defs/Options"}, {"type": "null"}], "description": "Extra options"},
        "tags": {"type": "array", "items": {"type": "string"}, "examples": [["a"]], "uniqueItems": True},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}, "propertyNames": {"pattern": "^x"}},
        "level": {"enum": [1, 2, 3], "type": "integer"},
        "tree": {"$ref": "#/$defs/Node"},
        "when": {"type": "string", "format": "date-time"},
        "either": {"type": ["string", "number"]},
        "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
        "both": {"allOf": [{"$ref": "#/definitions/A"}, {"properties": {"b": {"type": "string"}}, "required": ["b"]}]},
    },
    "required": ["file_path", "edits", "ghost"],
    "$defs": {
        "Edit": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "old_string": {"type": "string"},
                "new_string": {"type": "string"},
                "replace_all": {"type": "boolean", "default": False},
            },
            "required": ["old_string", "new_string"],
        },
        "Options": {"type": "object", "properties": {"dry_run": {"type": "boolean"}}, "$comment": "x", "$id": "opt"},
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        },
    },
    "definitions": {"A": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}},
}

SANITISED = {
    "type": "object",
    "properties": {
        "file_path": {"type": "string", "description": "Absolute path", "minLength": 1},
        "edits": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "old_string": {"type": "string"},
                    "new_string": {"type": "string"},
                    "replace_all": {"type": "boolean", "default": False},
                },
                "required": ["old_string", "new_string"],
            },
        },
        "mode": {"type": "string", "description": "Only mode", "enum": ["replace"]},
        "limit": {"type": "integer", "maximum": 500, "nullable": True},
        "options": {
            "type": "object",
            "properties": {"dry_run": {"type": "boolean"}},
            "description": "Extra options",
            "nullable": True,
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "metadata": {"type": "object"},
        "level": {"type": "integer", "description": "Allowed values: 1, 2, 3"},
        "tree": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "children": {"type": "array", "items": {"type": "object"}},  # recursion cut at the repeat
            },
        },
        "when": {"type": "string", "format": "date-time"},
        "either": {"anyOf": [{"type": "string"}, {"type": "number"}]},
        "choice": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "both": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
            "required": ["a", "b"],
        },
    },
    "required": ["file_path", "edits"],
}


def test_claude_code_like_schema_is_sanitised_to_the_vertex_subset():
    body = {
        "messages": [user("edit")],
        "tools": [
            {"type": "function", "function": {"name": "MultiEdit", "parameters": CLAUDE_CODE_SCHEMA, "strict": True}}
        ],
    }
    (decl,) = convert(body)["tools"][0]["functionDeclarations"]
    assert decl == {"name": "MultiEdit", "parameters": SANITISED}


@pytest.mark.parametrize(
    "params",
    [
        None,
        {"type": "object", "properties": {}, "additionalProperties": False},
        {"type": "object", "$schema": "http://json-schema.org/draft-07/schema#"},
    ],
)
def test_declarations_without_arguments_omit_parameters(params):
    fn = {"name": "ping"} if params is None else {"name": "ping", "parameters": params}
    out = convert({"messages": [user("x")], "tools": [{"type": "function", "function": fn}]})
    assert out["tools"] == [{"functionDeclarations": [{"name": "ping"}]}]


@pytest.mark.parametrize(
    ("schema", "param"),
    [
        ({"type": "object", "properties": {"a": {"$ref": "https://example.com/s.json"}}}, "x.properties.a"),
        ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}, "x.properties.a"),
        ({"type": "object", "properties": []}, "x"),
        ("string", "x"),
    ],
)
def test_unusable_schemas_are_refused_naming_the_field(schema, param):
    with pytest.raises(InvalidRequest) as err:
        sanitize_schema(schema, "x")
    assert err.value.param == param


def test_schema_nesting_is_bounded():
    deep: dict = {"type": "string"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"x": deep}}
    with pytest.raises(InvalidRequest, match="too deeply"):
        sanitize_schema(deep, "x")


@pytest.mark.parametrize("name", ["1st_tool", "has space", "a" * 65, "colon:name", ""])
def test_function_names_vertex_refuses_are_refused_naming_the_tool(name):
    body = {"messages": [user("x")], "tools": [{"type": "function", "function": {"name": name}}]}
    with pytest.raises(InvalidRequest) as err:
        convert(body)
    assert err.value.param == "tools[0].function.name"


@pytest.mark.parametrize("name", ["mcp__github__create_issue", "_private", "a.b-c", "x" * 64])
def test_function_names_vertex_accepts(name):
    body = {"messages": [user("x")], "tools": [{"type": "function", "function": {"name": name}}]}
    assert convert(body)["tools"] == [{"functionDeclarations": [{"name": name}]}]


def test_unsupported_tool_types_are_refused():
    with pytest.raises(InvalidRequest) as err:
        convert({"messages": [user("x")], "tools": [{"type": "web_search"}]})
    assert err.value.param == "tools[0]"


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"functionCallingConfig": {"mode": "AUTO"}}),
        ("required", {"functionCallingConfig": {"mode": "ANY"}}),
        ("none", {"functionCallingConfig": {"mode": "NONE"}}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        ),
        (None, None),
    ],
)
def test_tool_choice_variants(choice, config):
    body = {"messages": [user("x")], "tools": [weather_tool()], "tool_choice": choice}
    assert convert(body).get("toolConfig") == config


@pytest.mark.parametrize(
    ("tools", "choice"),
    [
        ([weather_tool()], {"type": "function", "function": {"name": "other"}}),
        ([weather_tool()], "sometimes"),
        (None, "required"),
    ],
)
def test_bad_tool_choice_is_refused(tools, choice):
    body = {"messages": [user("x")], "tool_choice": choice}
    if tools:
        body["tools"] = tools
    with pytest.raises(InvalidRequest) as err:
        convert(body)
    assert err.value.param == "tool_choice"


def test_tool_choice_without_tools_that_asks_nothing_is_ignored():
    assert "toolConfig" not in convert({"messages": [user("x")], "tool_choice": "auto"})


# ------------------------------------------------------------------ request: generation config


def test_generation_config_mapping():
    body = {
        "model": "gemini-2.5-pro",
        "messages": [user("x")],
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END", ""],
        "n": 1,
        "reasoning_effort": "medium",
        "response_format": {"type": "json_object"},
        # ignored: not Vertex fields and nothing to translate
        "user": "u1",
        "seed": 7,
        "stream": True,
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": False,
        "store": False,
        "metadata": {"a": "b"},
        "logprobs": False,
    }
    assert convert(body, default_max_tokens=4096)["generationConfig"] == {
        "maxOutputTokens": 200,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
        "candidateCount": 1,
        "responseMimeType": "application/json",
        "thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": True},
    }


def test_generation_config_is_omitted_when_empty_and_default_max_tokens_applies():
    assert "generationConfig" not in convert({"messages": [user("x")], "stop": []})
    assert convert({"messages": [user("x")], "stop": "END"}, default_max_tokens=512)["generationConfig"] == {
        "maxOutputTokens": 512,
        "stopSequences": ["END"],
    }


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 4096), ("high", 16384)])
def test_reasoning_effort_sets_a_thinking_budget(effort, budget):
    cfg = convert({"messages": [user("x")], "reasoning_effort": effort})["generationConfig"]
    assert cfg == {"thinkingConfig": {"thinkingBudget": budget, "includeThoughts": True}}


def test_json_schema_response_format_is_sanitised():
    fmt = {"type": "json_schema", "json_schema": {"name": "edit", "strict": True, "schema": CLAUDE_CODE_SCHEMA}}
    cfg = convert({"messages": [user("x")], "response_format": fmt})["generationConfig"]
    assert cfg == {"responseMimeType": "application/json", "responseSchema": SANITISED}
    text = convert({"messages": [user("x")], "response_format": {"type": "text"}})
    assert "generationConfig" not in text


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"n": 2}, "n"),
        ({"n": 0}, "n"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": True}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"stop": 5}, "stop"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
    ],
)
def test_bad_options_are_refused_naming_the_field(extra, param):
    with pytest.raises(InvalidRequest) as err:
        convert({"messages": [user("x")], **extra})
    assert err.value.param == param


def test_a_realistic_agent_request_stays_within_the_vertex_field_list():
    body = {
        "model": "gemini-2.5-pro",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {
                "role": "system",
                "content": [{"type": "text", "text": "You are Cline.", "cache_control": {"type": "ephemeral"}}],
            },
            user(
                [
                    {"type": "text", "text": "<task>fix it</task>"},
                    {"type": "image_url", "image_url": f"data:image/png;base64,{PNG}"},
                ]
            ),
            {"role": "assistant", "content": "", "tool_calls": [tool_call("t1", "MultiEdit", {"file_path": "/a"})]},
            {"role": "tool", "tool_call_id": "t1", "content": "ok"},
            {"role": "user", "content": "continue"},
        ],
        "tools": [{"type": "function", "function": {"name": "MultiEdit", "parameters": CLAUDE_CODE_SCHEMA}}],
        "tool_choice": "auto",
        "temperature": 0,
        "max_tokens": 8192,
        "reasoning_effort": "high",
    }
    out = convert(body)
    assert [t["role"] for t in out["contents"]] == ["user", "model", "user"]
    assert out["contents"][2]["parts"] == [
        {"functionResponse": {"name": "MultiEdit", "response": {"content": "ok"}}},
        {"text": "continue"},
    ]


# ------------------------------------------------------------------ non-streaming answers


def answer(name):
    resp = json.loads(fixture_bytes(name))
    before = copy.deepcopy(resp)
    out = gemini_to_openai(resp, completion_id=CID, created=CREATED, model=MODEL)
    assert resp == before
    assert out["id"] == CID and out["created"] == CREATED and out["model"] == MODEL
    assert out["object"] == "chat.completion" and len(out["choices"]) == 1
    json.dumps(out)
    return out["choices"][0], out.get("usage")


def usage(prompt, completion, cached=0, reasoning=0):
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def test_text_answer():
    choice, u = answer("gemini-text.json")
    assert choice["message"] == {
        "role": "assistant",
        "content": "Paris is the capital of France. It has about 2.1 million inhabitants.",
    }
    assert choice["finish_reason"] == "stop"
    assert u == usage(14, 17)


def test_function_call_answer_has_deterministic_unique_ids():
    choice, u = answer("gemini-function-call.json")
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "I'll check both cities.",
        "tool_calls": [
            {
                "id": f"call_{CID}_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris","unit":"celsius"}'},
            },
            {
                "id": f"call_{CID}_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Berlin","unit":"celsius"}'},
            },
        ],
    }
    assert u == usage(96, 31)


def test_only_function_calls_give_null_content():
    resp = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"}}]}, "finishReason": "STOP"}]}
    out = gemini_to_openai(resp, completion_id=CID, created=CREATED, model=MODEL)
    message = out["choices"][0]["message"]
    assert message["content"] is None
    assert message["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}
    assert "usage" not in out


def test_thoughts_go_to_reasoning_content_and_count_as_completion_tokens():
    choice, u = answer("gemini-thought.json")
    assert choice["message"]["content"] == "17 × 23 = 391."
    assert choice["message"]["reasoning_content"].startswith("**Checking the arithmetic**")
    assert u == usage(11, 9 + 142, reasoning=142)


def test_max_tokens_is_length():
    choice, _ = answer("gemini-max-tokens.json")
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == "The history of Rome begins with"


def test_safety_stop_is_content_filter_with_empty_content():
    choice, u = answer("gemini-safety.json")
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": ""},
        "finish_reason": "content_filter",
        "logprobs": None,
    }
    assert u == usage(21, 0)


def test_blocked_prompt_is_a_content_filter_finish_not_an_error():
    choice, u = answer("gemini-blocked-prompt.json")
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"] == {"role": "assistant", "content": ""}
    assert u == usage(8, 0)


def test_cached_tokens():
    _, u = answer("gemini-cached.json")
    assert u == usage(32768, 14, cached=30000)


@pytest.mark.parametrize(
    ("reason", "calls", "mapped"),
    [
        ("STOP", False, "stop"),
        ("STOP", True, "tool_calls"),
        ("MAX_TOKENS", True, "length"),
        ("SAFETY", False, "content_filter"),
        ("RECITATION", False, "content_filter"),
        ("BLOCKLIST", False, "content_filter"),
        ("PROHIBITED_CONTENT", False, "content_filter"),
        ("SPII", False, "content_filter"),
        ("IMAGE_SAFETY", False, "content_filter"),
        ("MALFORMED_FUNCTION_CALL", False, "stop"),
        ("OTHER", False, "stop"),
        (None, False, "stop"),
    ],
)
def test_finish_reason_mapping(reason, calls, mapped):
    assert finish_reason(reason, calls) == mapped


@pytest.mark.parametrize(
    "resp",
    [
        {},
        {"candidates": "x"},
        {"candidates": [{"content": {"parts": "x"}}]},
        {"candidates": [{"content": {"parts": ["x"]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]},
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": [1]}}]}}]},
        {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": "7"}},
        {"candidates": [{"finishReason": "STOP"}], "usageMetadata": []},
    ],
)
def test_malformed_answers_are_protocol_errors(resp):
    with pytest.raises(UpstreamProtocolError):
        gemini_to_openai(resp, completion_id=CID, created=CREATED, model=MODEL)


@pytest.mark.parametrize(
    ("error", "status", "upstream"),
    [
        ({"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}, 429, 429),
        ({"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}, 503, 503),
        ({"code": 400, "message": "Invalid JSON payload received.", "status": "INVALID_ARGUMENT"}, 400, 400),
        ({"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}, 502, 500),
        ({"code": 429, "message": "Quota exceeded"}, 429, 429),
        ({"message": "no code"}, 502, 502),
        ("plain string", 502, 502),
    ],
)
def test_upstream_error_mapping(error, status, upstream):
    exc = upstream_error(error)
    assert isinstance(exc, UpstreamStatusError)
    assert (exc.status, exc.upstream_status) == (status, upstream)
    with pytest.raises(UpstreamStatusError) as err:
        gemini_to_openai({"error": error}, completion_id=CID, created=CREATED, model=MODEL)
    assert err.value.status == status


# ------------------------------------------------------------------ streaming

TRAILING = {".sse": b"\r\n: keep-alive\r\n\r\n", ".jsonl": b"\n\n", ".json": b"\n"}


def relay(include_usage):
    chunks = ChunkFactory(CID, CREATED, MODEL)
    return ChatRelay(stream_decoder(), GeminiStream(chunks, include_usage=include_usage))


def parse_sse(raw):
    """The client's view: data payloads, checking that exactly one [DONE] ends the stream."""
    d = SSEDecoder()
    events = d.feed(raw) + d.flush()
    datas = [e.data for e in events]
    assert datas.count(b"[DONE]") == 1 and datas[-1] == b"[DONE]", datas[-3:]
    return [json.loads(x) for x in datas[:-1]]


def run(name, mode, include_usage, trailing=False):
    data = fixture_bytes(name) + (TRAILING[name[name.rindex(".") :]] if trailing else b"")
    return parse_sse(feed_relay(relay(include_usage), data, mode))


def check_invariants(chunks, include_usage):
    assert {c["id"] for c in chunks} == {CID}
    assert {(c["created"], c["model"], c["object"]) for c in chunks} == {(CREATED, MODEL, "chat.completion.chunk")}
    body = chunks[:-1] if include_usage else chunks
    assert body[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert sum(1 for c in chunks if "role" in (c["choices"] or [{"delta": {}}])[0]["delta"]) == 1
    finishes = [i for i, c in enumerate(chunks) if c["choices"] and c["choices"][0]["finish_reason"]]
    assert finishes == [len(body) - 1], "exactly one finish chunk, after all content"
    for c in body[1:-1]:
        delta = c["choices"][0]["delta"]
        assert delta and all(v not in ("", None, []) for v in delta.values()), f"empty delta {delta}"
    if include_usage:
        assert chunks[-1]["choices"] == [] and "usage" in chunks[-1]
    assert all("usage" not in c for c in body)


def collapse(chunks):
    text, reasoning, calls, finish, u = "", "", [], None, None
    for c in chunks:
        if not c["choices"]:
            u = c["usage"]
            continue
        choice = c["choices"][0]
        text += choice["delta"].get("content") or ""
        reasoning += choice["delta"].get("reasoning_content") or ""
        calls += choice["delta"].get("tool_calls") or []
        finish = choice["finish_reason"] or finish
    return {"text": text, "reasoning": reasoning, "calls": calls, "finish": finish, "usage": u}


TEXT = 'Sure! In JSON that is {"name": "Ada", "quote": "a \\"}\\" b"} — done. ✓'


@pytest.mark.parametrize("trailing", [False, True])
@pytest.mark.parametrize("mode", FEED_MODES)
@pytest.mark.parametrize(
    "name", ["gemini-stream-text.sse", "gemini-stream-text.jsonl", "gemini-stream-text-array.json"]
)
def test_text_stream_in_every_framing_and_slicing(name, mode, trailing):
    chunks = run(name, mode, include_usage=True, trailing=trailing)
    check_invariants(chunks, include_usage=True)
    assert collapse(chunks) == {"text": TEXT, "reasoning": "", "calls": [], "finish": "stop", "usage": usage(25, 24)}
    assert [c["choices"][0]["delta"] for c in chunks[1:4]] == [
        {"content": "Sure! In JSON that is "},
        {"content": '{"name": "Ada", "quote": "a \\"}\\" b"}'},
        {"content": " — done. ✓"},
    ]


@pytest.mark.parametrize("mode", FEED_MODES)
def test_without_include_usage_there_is_no_usage_chunk(mode):
    chunks = run("gemini-stream-text.sse", mode, include_usage=False)
    check_invariants(chunks, include_usage=False)
    assert collapse(chunks)["usage"] is None and len(chunks) == 5


@pytest.mark.parametrize("mode", FEED_MODES)
def test_function_call_stream(mode):
    chunks = run("gemini-stream-tools.sse", mode, include_usage=True)
    check_invariants(chunks, include_usage=True)
    assert collapse(chunks) == {
        "text": "Let me look that up.",
        "reasoning": "**Planning**\n\nI need the weather for two cities.",
        "calls": [
            {
                "index": 0,
                # The first call's thoughtSignature rides in its id (the second call has none).
                "id": call_id_with_signature(f"call_{CID}_0", "CiQB0e2Kb3Jk"),
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "index": 1,
                "id": f"call_{CID}_1",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            },
        ],
        "finish": "tool_calls",
        "usage": usage(96, 28 + 57, reasoning=57),
    }
    assert chunks[1]["choices"][0]["delta"] == {
        "reasoning_content": "**Planning**\n\nI need the weather for two cities."
    }


@pytest.mark.parametrize("mode", FEED_MODES)
def test_trailing_usage_only_chunk_is_kept_and_produces_no_chunk(mode):
    chunks = run("gemini-stream-usage-trailing.jsonl", mode, include_usage=True, trailing=True)
    check_invariants(chunks, include_usage=True)
    assert len(chunks) == 5  # role, two texts, finish, usage
    assert collapse(chunks) == {
        "text": "One, two, three.",
        "reasoning": "",
        "calls": [],
        "finish": "stop",
        "usage": usage(6, 5),
    }


@pytest.mark.parametrize("mode", FEED_MODES)
def test_max_tokens_stream_skips_the_empty_text_part(mode):
    chunks = run("gemini-stream-max-tokens.json", mode, include_usage=False)
    check_invariants(chunks, include_usage=False)
    assert collapse(chunks)["text"] == "Once upon a time" and collapse(chunks)["finish"] == "length"
    assert len(chunks) == 3


def test_blocked_prompt_stream_ends_with_content_filter():
    chunks = run("gemini-stream-blocked.jsonl", "whole", include_usage=True)
    check_invariants(chunks, include_usage=True)
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None, "content_filter"]
    assert chunks[-1]["usage"] == usage(12, 0)


@pytest.mark.parametrize("mode", FEED_MODES)
def test_error_object_in_the_stream_raises_the_matching_upstream_error(mode):
    r = relay(include_usage=True)
    out = bytearray()
    with pytest.raises(UpstreamStatusError) as err:
        for piece in slices(fixture_bytes("gemini-stream-error.sse"), mode):
            out += r.feed(piece)
    assert err.value.status == 429 and "Resource exhausted" in err.value.message
    out += r.fail(err.value)
    chunks = parse_sse(bytes(out))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1] == {"error": {"message": err.value.message, "type": "rate_limit_error", "code": "upstream_error"}}


@pytest.mark.parametrize("mode", FEED_MODES)
def test_truncated_stream_raises_at_finish_and_fail_closes_it(mode):
    r = relay(include_usage=True)
    with pytest.raises(UpstreamProtocolError) as err:
        feed_relay(r, fixture_bytes("gemini-stream-truncated.sse"), mode)
    tail = parse_sse(r.fail(err.value))
    assert tail[-1]["error"]["code"] == "upstream_protocol_error"


def test_stream_cut_inside_an_object_raises_at_finish():
    data = fixture_bytes("gemini-stream-text.sse")
    with pytest.raises(UpstreamProtocolError):
        feed_relay(relay(include_usage=False), data[: len(data) - 40], "whole")


def test_translator_directly_finish_reason_held_until_finish():
    t = GeminiStream(ChunkFactory(CID, CREATED, MODEL), include_usage=False)
    assert t.feed({"usageMetadata": {"promptTokenCount": 3}}) == []
    out = t.feed({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "MAX_TOKENS"}]})
    assert [c["choices"][0]["delta"] for c in out] == [{"role": "assistant", "content": ""}, {"content": "hi"}]
    assert all(c["choices"][0]["finish_reason"] is None for c in out)
    assert t.feed({"candidates": [{"content": {"parts": []}, "finishReason": "MAX_TOKENS"}]}) == []
    (end,) = t.finish()
    assert end["choices"][0]["finish_reason"] == "length"


def test_translator_refuses_non_objects():
    t = GeminiStream(ChunkFactory(CID, CREATED, MODEL), include_usage=False)
    with pytest.raises(UpstreamProtocolError):
        t.feed([1, 2])


def test_converted_bodies_pass_the_simulators_vertex_validation():
    """Cross-check with the simulator's reading of Vertex's rules (field names, schema subset, turns)."""
    vertex = pytest.importorskip("aicore_sim.families.vertex_schema")
    gemini_sim = pytest.importorskip("aicore_sim.families.gemini")
    calls = [tool_call("a", "get_weather", {"city": "P"}), tool_call("b", "t", {})]
    bodies = [
        {"messages": [user("hi")]},
        {
            "messages": [
                {"role": "system", "content": "sys"},
                user("weather?"),
                {"role": "assistant", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "a", "content": '{"t": 20}'},
                {"role": "tool", "tool_call_id": "b", "content": "noon"},
                user("thanks"),
            ],
            "tools": [
                weather_tool(),
                {"type": "function", "function": {"name": "t"}},
                {"type": "function", "function": {"name": "MultiEdit", "parameters": CLAUDE_CODE_SCHEMA}},
            ],
            "tool_choice": "required",
            "max_tokens": 100,
            "temperature": 0.5,
            "reasoning_effort": "low",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": CLAUDE_CODE_SCHEMA}},
        },
    ]
    for body in bodies:
        req = vertex.check_request(convert(body))
        gemini_sim._validate(req)


def test_odd_types_give_clean_errors_not_type_errors():
    with pytest.raises(InvalidRequest):
        convert({"messages": [user("x")], "reasoning_effort": ["high"]})
    with pytest.raises(InvalidRequest):
        convert({"messages": [user("x")], "tools": [weather_tool()], "tool_choice": {"type": "function"}})
    assert finish_reason({"weird": 1}, False) == "stop"
    exc = upstream_error({"code": True, "status": ["RESOURCE_EXHAUSTED"], "message": 5})
    assert (exc.status, exc.upstream_status) == (502, 502)
