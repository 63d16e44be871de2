"""The count_tokens estimate: deterministic, monotonic, sensible in size, never refusing a valid body."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from shared.convert.token_estimate import IMAGE_TOKENS, PDF_PAGE_TOKENS, estimate_input_tokens, text_tokens
from shared.errors import InvalidRequest
from tests.unit.feeding import fixture_bytes

PROSE = (
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch, "
    "wondering whether the weather will hold until the harvest is in. "
)
CODE = 'def add(a, b):\n    return {"sum": a + b, "args": [a, b]}\n\nprint(add(1, 2))\n'


def estimate(body: dict[str, Any]) -> int:
    before = copy.deepcopy(body)
    n = estimate_input_tokens(body)
    assert body == before and estimate_input_tokens(body) == n  # pure and deterministic
    return n


def msgs(*content: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": c} for c in content]}


def test_a_tiny_request_is_a_handful_of_tokens() -> None:
    assert 5 <= estimate(msgs("Hello, world")) <= 15


def test_prose_runs_near_three_and_a_half_characters_a_token() -> None:
    text = PROSE * 20
    assert text_tokens(text) == pytest.approx(len(text) / 3.5)
    assert estimate(msgs(text)) == pytest.approx(len(text) / 3.5, rel=0.02)


def test_code_and_json_count_denser_than_prose() -> None:
    assert text_tokens(CODE) == pytest.approx(len(CODE) / 3.0)
    assert text_tokens(CODE) > text_tokens("x" * len(CODE))


def test_non_ascii_text_counts_more_per_character() -> None:
    cjk = "東京は日本の首都です" * 10
    assert text_tokens(cjk) == pytest.approx(len(cjk) * (1 / 3.5 + 1.0))
    assert text_tokens("café") > text_tokens("cafe")


def test_more_content_never_means_fewer_tokens() -> None:
    small = estimate(msgs("a" * 100))
    assert estimate(msgs("a" * 1000)) > small
    assert estimate(msgs("a" * 100, "b")) > small
    assert estimate({**msgs("a" * 100), "system": "You are helpful."}) > small


def test_images_documents_and_search_results() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    base = estimate(msgs([{"type": "text", "text": "see"}]))
    assert estimate(msgs([{"type": "text", "text": "see"}, image])) - base == IMAGE_TOKENS + 1
    pdf = (
        b"%PDF-1.4\n1 0 obj << /Type /Pages /Count 3 >>\n"
        + b"<< /Type /Page >>\n<< /Type/Page >>\n<</Type /Page/Parent 1 0 R>>"
    )
    doc = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": base64.b64encode(pdf).decode()},
    }
    assert estimate(msgs([{"type": "text", "text": "see"}, doc])) - base == 3 * PDF_PAGE_TOKENS + 1
    compressed = {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(b"\0" * 130_000).decode(),
        },
    }
    assert estimate(msgs([{"type": "text", "text": "see"}, compressed])) - base == 3 * PDF_PAGE_TOKENS + 1
    text_doc = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": PROSE}}
    assert estimate(msgs([text_doc])) == pytest.approx(estimate(msgs(PROSE)), abs=2)
    search = {
        "type": "search_result",
        "source": "https://x",
        "title": "T",
        "content": [{"type": "text", "text": PROSE}],
    }
    assert estimate(msgs([search])) > estimate(msgs(PROSE))


def test_tools_add_their_definitions_and_the_tool_prompt() -> None:
    tool = {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    plain = estimate(msgs("Hi"))
    auto = estimate({**msgs("Hi"), "tools": [tool]})
    assert 346 + 10 < auto - plain < 346 + 60
    assert estimate({**msgs("Hi"), "tools": [tool], "tool_choice": {"type": "any"}}) == auto - (346 - 313)
    server = estimate({**msgs("Hi"), "tools": [tool, {"type": "web_search_20250305", "name": "web_search"}]})
    assert server > auto


def test_tool_use_and_results_are_counted() -> None:
    call = {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "/repo/setup.py"}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": CODE * 10}
    convo = {
        "messages": [
            {"role": "user", "content": "read it"},
            {"role": "assistant", "content": [call]},
            {"role": "user", "content": [result]},
        ]
    }
    short = copy.deepcopy(convo)
    short["messages"][2]["content"][0]["content"] = "x"
    assert estimate(convo) - estimate(short) == pytest.approx(text_tokens(CODE * 10), abs=2)
    odd = copy.deepcopy(convo)
    odd["messages"][2]["content"][0]["content"] = [{"no": "type"}, "str", {"type": "text", "text": 5}, {"answer": 1}]
    assert estimate(odd) > estimate(short)  # malformed result content is counted, not refused


def test_thinking_counts_only_in_the_last_assistant_message() -> None:
    thought = {"type": "thinking", "thinking": PROSE * 5, "signature": "s"}
    early = {
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [thought, {"type": "text", "text": "a"}]},
            {"role": "user", "content": "q2"},
            {"role": "assistant", "content": "b"},
        ]
    }
    late = copy.deepcopy(early)
    late["messages"][3]["content"] = [thought, {"type": "text", "text": "b"}]
    assert estimate(late) - estimate(early) == pytest.approx(text_tokens(PROSE * 5) + 1, abs=2)


def test_claude_code_request_estimate_is_in_a_sensible_range() -> None:
    body = json.loads(fixture_bytes("anthropic-claude-code-request.json"))
    n = estimate(body)
    text = len(json.dumps(body["system"])) + len(json.dumps(body["messages"])) + len(json.dumps(body["tools"]))
    assert 346 + text / 6 < n < 346 + text / 2


def test_no_max_tokens_needed_but_messages_are_checked() -> None:
    assert estimate({"messages": [{"role": "user", "content": "x"}]}) > 0
    for bad in (
        {},
        {"messages": []},
        {"messages": [{"role": "bot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x"}], "tools": "x"},
    ):
        with pytest.raises(InvalidRequest):
            estimate_input_tokens(bad)
    with pytest.raises(InvalidRequest):
        estimate_input_tokens([])  # type: ignore[arg-type]
