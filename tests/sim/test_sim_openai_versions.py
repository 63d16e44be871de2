"""Azure chat completions: arguments per api-version, reasoning_effort values and output limits per model."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from sim_helpers import Sim, user


def chat(sim: Sim, dep: str, api_version: str, **extra: Any):
    url = f"/v2/inference/deployments/{dep}/chat/completions?api-version={api_version}"
    body = {"messages": [user("hi")], **extra}
    return sim.client.post(url, content=orjson.dumps(body), headers=sim.headers(dep))


def error(resp) -> dict:
    assert resp.status_code == 400, resp.text
    return resp.json()["error"]


@pytest.mark.parametrize(
    ("argument", "value", "first_version"),
    [
        ("stream_options", {"include_usage": True}, "2024-09-01-preview"),
        ("max_completion_tokens", 10, "2024-09-01-preview"),
        ("store", False, "2024-12-01-preview"),
        ("metadata", {"k": "v"}, "2024-12-01-preview"),
        ("user_security_context", {"application_name": "x"}, "2024-12-01-preview"),
        ("modalities", ["text"], "2025-01-01-preview"),
        ("prediction", {"type": "content", "content": "x"}, "2025-01-01-preview"),
    ],
)
def test_arguments_appear_with_their_api_version(sim: Sim, argument: str, value: Any, first_version: str) -> None:
    extra = {argument: value, "stream": True} if argument == "stream_options" else {argument: value}
    assert chat(sim, "da-gpt-4o", first_version, **extra).status_code == 200
    assert chat(sim, "da-gpt-4o", "2025-04-01-preview", **extra).status_code == 200
    # GA 2024-10-21 (stable/2024-10-21/inference.json) knows none of them
    err = error(chat(sim, "da-gpt-4o", "2024-10-21", **extra))
    assert err["message"] == f"Unrecognized request argument supplied: {argument}"
    assert err["type"] == "invalid_request_error"


@pytest.mark.parametrize("argument", ["prompt_cache_key", "verbosity", "safety_identifier", "service_tier"])
@pytest.mark.parametrize("version", ["2024-10-21", "2024-12-01-preview", "2025-03-01-preview", "2025-04-01-preview"])
def test_arguments_no_dated_version_defines(sim: Sim, argument: str, version: str) -> None:
    value = "low" if argument == "verbosity" else "x"
    err = error(chat(sim, "da-gpt-5", version, **{argument: value}))
    assert err["message"] == f"Unrecognized request argument supplied: {argument}"


def test_reasoning_effort_needs_2024_12_01_preview(sim: Sim) -> None:
    assert chat(sim, "da-gpt-5", "2024-12-01-preview", reasoning_effort="low").status_code == 200
    assert error(chat(sim, "da-gpt-5", "2024-10-21", reasoning_effort="low"))["message"] == (
        "Unrecognized request argument supplied: reasoning_effort"
    )


@pytest.mark.parametrize("effort", ["minimal", "low", "medium", "high"])
def test_gpt_5_reasoning_effort_values(sim: Sim, effort: str) -> None:
    assert chat(sim, "da-gpt-5", "2025-04-01-preview", reasoning_effort=effort).status_code == 200


def test_gpt_5_refuses_other_effort_values(sim: Sim) -> None:
    err = error(chat(sim, "da-gpt-5", "2025-04-01-preview", reasoning_effort="xhigh"))
    assert err["message"] == (
        "Unsupported value: 'reasoning_effort' does not support 'xhigh' with this model. "
        "Supported values are: 'minimal', 'low', 'medium', and 'high'."
    )
    assert err["param"] == "reasoning_effort" and err["code"] == "unsupported_value"


def test_reasoning_effort_refused_for_non_reasoning_models(sim: Sim) -> None:
    err = error(chat(sim, "da-gpt-4o", "2025-04-01-preview", reasoning_effort="low"))
    assert err["message"] == "Unsupported parameter: 'reasoning_effort' is not supported with this model."


@pytest.mark.parametrize("key", ["max_tokens", "max_completion_tokens"])
def test_gpt_4o_output_limit(sim: Sim, key: str) -> None:
    assert chat(sim, "da-gpt-4o", "2025-04-01-preview", **{key: 16384}).status_code == 200
    err = error(chat(sim, "da-gpt-4o", "2025-04-01-preview", **{key: 32000}))
    assert err["message"] == (
        f"{key} is too large: 32000. This model supports at most 16384 completion tokens, whereas you provided 32000."
    )
    assert err["param"] == key and err["code"] == "invalid_value"


def test_gpt_5_output_limit(sim: Sim) -> None:
    assert chat(sim, "da-gpt-5", "2025-04-01-preview", max_completion_tokens=128000).status_code == 200
    assert chat(sim, "da-gpt-5", "2025-04-01-preview", max_completion_tokens=128001).status_code == 400


def test_model_in_the_body_is_ignored_on_every_version(sim: Sim) -> None:
    for version in ("2024-10-21", "2024-12-01-preview", "2025-04-01-preview", "preview"):
        assert chat(sim, "da-gpt-4o", version, model="gpt-4o").status_code == 200


def test_same_body_different_version_is_not_replayed(sim: Sim) -> None:
    """The replay cache must not hand a 200 of one api-version to another that refuses the body."""
    assert chat(sim, "da-gpt-4o", "2025-04-01-preview", store=False).status_code == 200
    assert chat(sim, "da-gpt-4o", "2024-10-21", store=False).status_code == 400
