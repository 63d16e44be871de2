"""Gemini per generation: thinking configuration (2.5 budgets, 3 levels) and Gemini 3 thought signatures."""

from __future__ import annotations

from typing import Any

import pytest
from sim_helpers import WEATHER_SCHEMA, Sim, sse_json

G3, G3_DEP = "gemini-3-pro", "da-gemini-3-pro"
PRO25, PRO25_DEP = "gemini-2.5-pro", "da-gemini-2-5-pro"
FLASH25, FLASH25_DEP = "gemini-2.5-flash", "db-gemini-2-5-flash"
TOOLS = [{"functionDeclarations": [{"name": "get_weather", "description": "weather", "parameters": WEATHER_SCHEMA}]}]
VERTEX_DOCS = "https://docs.cloud.google.com/vertex-ai/generative-ai/docs/thought-signatures"


def gen(sim: Sim, dep: str, model: str, body: dict, stream: bool = False):
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return sim.post(dep, f"models/{model}:{method}", body)


def thinking(**config: Any) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"thinkingConfig": config}}


def error(resp) -> str:
    assert resp.status_code == 400, resp.text
    err = resp.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT"
    return str(err["message"])


# --- thinking configuration -----------------------------------------------------------------


@pytest.mark.parametrize("level", ["low", "high", "LOW", "HIGH"])
def test_gemini_3_pro_thinking_levels(sim: Sim, level: str) -> None:
    assert gen(sim, G3_DEP, G3, thinking(thinkingLevel=level)).status_code == 200


@pytest.mark.parametrize("level", ["minimal", "medium"])
def test_gemini_3_pro_refuses_flash_levels(sim: Sim, level: str) -> None:
    assert error(gen(sim, G3_DEP, G3, thinking(thinkingLevel=level))) == (
        f"Thinking level {level.upper()} is not supported by this model."
    )


def test_unknown_thinking_level(sim: Sim) -> None:
    assert "Invalid value at 'generation_config.thinking_config.thinking_level'" in error(
        gen(sim, G3_DEP, G3, thinking(thinkingLevel="extreme"))
    )


def test_level_and_budget_together_refused(sim: Sim) -> None:
    for dep, model in ((G3_DEP, G3), (PRO25_DEP, PRO25)):
        assert error(gen(sim, dep, model, thinking(thinkingLevel="low", thinkingBudget=1024))) == (
            "You can only set only one of thinking budget and thinking level."
        )


def test_gemini_3_still_takes_a_budget(sim: Sim) -> None:
    assert gen(sim, G3_DEP, G3, thinking(thinkingBudget=1024, includeThoughts=True)).status_code == 200


@pytest.mark.parametrize(("dep", "model"), [(PRO25_DEP, PRO25), (FLASH25_DEP, FLASH25)])
def test_gemini_2_5_has_no_thinking_level(sim: Sim, dep: str, model: str) -> None:
    assert error(gen(sim, dep, model, thinking(thinkingLevel="low"))) == "thinking_level is not supported by this model"


def test_gemini_2_5_pro_budgets(sim: Sim) -> None:
    for ok in (128, 32768, -1):
        assert gen(sim, PRO25_DEP, PRO25, thinking(thinkingBudget=ok)).status_code == 200
    assert error(gen(sim, PRO25_DEP, PRO25, thinking(thinkingBudget=0))) == (
        "Budget 0 is invalid. This model only works in thinking mode."
    )
    too_big = gen(sim, PRO25_DEP, PRO25, thinking(thinkingBudget=52428))
    assert error(too_big) == "The thinking budget (52428) is invalid."


def test_gemini_2_5_flash_budgets(sim: Sim) -> None:
    for ok in (0, 24576, -1):
        assert gen(sim, FLASH25_DEP, FLASH25, thinking(thinkingBudget=ok)).status_code == 200
    assert error(gen(sim, FLASH25_DEP, FLASH25, thinking(thinkingBudget=24577))) == (
        "The thinking budget (24577) is invalid."
    )


# --- thought signatures -----------------------------------------------------------------------


def ask_weather() -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": "get_weather in Paris"}]}], "tools": TOOLS}


def test_gemini_3_signs_function_calls_and_text(sim: Sim) -> None:
    call = gen(sim, G3_DEP, G3, ask_weather()).json()["candidates"][0]["content"]["parts"][0]
    assert call["functionCall"]["name"] == "get_weather" and call["thoughtSignature"]
    text_parts = gen(sim, G3_DEP, G3, thinking()).json()["candidates"][0]["content"]["parts"]
    assert text_parts[-1]["thoughtSignature"]


def test_gemini_3_streams_signatures(sim: Sim) -> None:
    chunks = sse_json(gen(sim, G3_DEP, G3, ask_weather(), stream=True).content)
    calls = [p for c in chunks for p in c["candidates"][0]["content"]["parts"] if "functionCall" in p]
    assert len(calls) == 1 and calls[0]["thoughtSignature"]
    chunks = sse_json(gen(sim, G3_DEP, G3, thinking(), stream=True).content)
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert "thoughtSignature" in parts[-1] and all("thoughtSignature" not in p for p in parts[:-1])


def test_gemini_2_5_answers_unsigned(sim: Sim) -> None:
    call = gen(sim, PRO25_DEP, PRO25, ask_weather()).json()["candidates"][0]["content"]["parts"][0]
    assert "thoughtSignature" not in call


def replay(signature: str | None, *, second_call: bool = False) -> dict:
    """Two tool turns: user asks, model calls (signed or not), user answers[, model calls again, user answers]."""
    call: dict[str, Any] = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
    if signature is not None:
        call["thoughtSignature"] = signature
    answer = {"functionResponse": {"name": "get_weather", "response": {"result": "22C"}}}
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": "get_weather in Paris"}]},
        {"role": "model", "parts": [call]},
        {"role": "user", "parts": [answer]},
    ]
    if second_call:
        unsigned = {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}}
        contents += [{"role": "model", "parts": [unsigned]}, {"role": "user", "parts": [answer]}]
    return {"contents": contents, "tools": TOOLS}


def test_gemini_3_requires_the_signature_back(sim: Sim) -> None:
    signature = gen(sim, G3_DEP, G3, ask_weather()).json()["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
    ok = gen(sim, G3_DEP, G3, replay(signature))
    assert ok.status_code == 200, ok.text
    assert ok.json()["candidates"][0]["content"]["parts"][0]["text"] == "Tool get_weather returned: 22C"
    assert error(gen(sim, G3_DEP, G3, replay(None))) == (
        "Unable to submit request because function call `get_weather` in the 2. content block is missing a "
        f"`thought_signature`. Learn more: {VERTEX_DOCS}"
    )


def test_every_step_of_the_current_turn_is_checked(sim: Sim) -> None:
    assert "in the 4. content block" in error(gen(sim, G3_DEP, G3, replay("sig", second_call=True)))


def test_snake_case_signature_is_accepted(sim: Sim) -> None:
    body = replay(None)
    body["contents"][1]["parts"][0]["thought_signature"] = "sig"
    assert gen(sim, G3_DEP, G3, body).status_code == 200


def test_signature_inside_function_call_is_an_unknown_field(sim: Sim) -> None:
    body = replay(None)
    body["contents"][1]["parts"][0]["functionCall"]["thoughtSignature"] = "sig"
    assert 'Unknown name "thoughtSignature"' in error(gen(sim, G3_DEP, G3, body))


def test_previous_turns_are_not_validated(sim: Sim) -> None:
    body = replay(None)
    body["contents"] += [
        {"role": "model", "parts": [{"text": "It is 22C."}]},
        {"role": "user", "parts": [{"text": "thanks"}]},
    ]
    assert gen(sim, G3_DEP, G3, body).status_code == 200


def test_only_the_first_parallel_call_needs_the_signature(sim: Sim) -> None:
    first = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}, "thoughtSignature": "sig"}
    second = {"functionCall": {"name": "get_weather", "args": {"city": "Lyon"}}}
    answer = {"functionResponse": {"name": "get_weather", "response": {"result": "22C"}}}
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "get_weather in Paris and Lyon"}]},
            {"role": "model", "parts": [first, second]},
            {"role": "user", "parts": [answer, answer]},
        ],
        "tools": TOOLS,
    }
    assert gen(sim, G3_DEP, G3, body).status_code == 200


def test_gemini_2_5_takes_unsigned_replays(sim: Sim) -> None:
    assert gen(sim, PRO25_DEP, PRO25, replay(None)).status_code == 200
