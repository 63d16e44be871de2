"""Embeddings: request validation, the model field dropped, and the answer's model and usage."""

import copy

import pytest

from shared.convert.embeddings import azure_embeddings_to_openai, openai_to_azure_embeddings
from shared.errors import InvalidRequest, UpstreamProtocolError


@pytest.mark.parametrize(
    "value",
    [
        "hello",
        ["a", "b"],
        [1, 2, 3],
        [0],
        [[1, 2], [3]],
    ],
)
def test_valid_inputs_are_forwarded(value):
    body = {"model": "text-embedding-3-small", "input": value}
    before = copy.deepcopy(body)
    out = openai_to_azure_embeddings(body)
    assert out == {"input": value}
    assert body == before


@pytest.mark.parametrize(
    "value",
    [
        "",
        [],
        ["a", ""],
        ["a", 1],
        [1, -2],
        [True, False],
        [[1], []],
        [[1, "2"]],
        [[1], 2],
        [1.5],
        None,
        {"text": "a"},
        42,
    ],
)
def test_invalid_inputs_are_refused_naming_input(value):
    with pytest.raises(InvalidRequest) as err:
        openai_to_azure_embeddings({"model": "m", "input": value})
    assert err.value.param == "input"


def test_missing_input_is_refused():
    with pytest.raises(InvalidRequest) as err:
        openai_to_azure_embeddings({"model": "m"})
    assert err.value.param == "input"


def test_options_are_forwarded_and_model_is_dropped():
    body = {"model": "m", "input": "x", "dimensions": 256, "encoding_format": "base64", "user": "u-1", "extra": 1}
    assert openai_to_azure_embeddings(body) == {
        "input": "x",
        "dimensions": 256,
        "encoding_format": "base64",
        "user": "u-1",
    }
    assert openai_to_azure_embeddings({"input": "x", "dimensions": None, "encoding_format": None}) == {"input": "x"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": -3}, "dimensions"),
        ({"dimensions": "256"}, "dimensions"),
        ({"dimensions": True}, "dimensions"),
        ({"dimensions": 1.0}, "dimensions"),
        ({"encoding_format": "int8"}, "encoding_format"),
        ({"user": 7}, "user"),
    ],
)
def test_bad_options_are_refused_naming_the_field(extra, param):
    with pytest.raises(InvalidRequest) as err:
        openai_to_azure_embeddings({"input": "x", **extra})
    assert err.value.param == param


AZURE_ANSWER = {
    "object": "list",
    "data": [
        {"object": "embedding", "index": 0, "embedding": [0.0123, -0.0456, 0.0789]},
        {"object": "embedding", "index": 1, "embedding": [0.1, 0.2, 0.3]},
    ],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 7, "total_tokens": 7},
}


def test_answer_gets_the_requested_model_and_keeps_upstream_usage():
    resp = copy.deepcopy(AZURE_ANSWER)
    out = azure_embeddings_to_openai(resp, model="my-embedder")
    assert resp == AZURE_ANSWER
    assert out == {**AZURE_ANSWER, "model": "my-embedder"}
    assert out["usage"] == {"prompt_tokens": 7, "total_tokens": 7}  # not the sum of vector lengths (6)


def test_base64_vectors_pass_through():
    resp = {"data": [{"object": "embedding", "index": 0, "embedding": "AAAAPw=="}], "usage": {"prompt_tokens": 2}}
    out = azure_embeddings_to_openai(resp, model="e")
    assert out["data"] == resp["data"]
    assert out["object"] == "list" and out["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_missing_usage_is_zero_not_invented():
    resp = {"data": [{"object": "embedding", "index": 0, "embedding": [1.0, 2.0]}]}
    assert azure_embeddings_to_openai(resp, model="e")["usage"] == {"prompt_tokens": 0, "total_tokens": 0}


@pytest.mark.parametrize(
    "resp",
    [
        {},
        {"data": "x"},
        {"data": [{"index": 0}]},
        {"data": [7]},
        {"data": [], "usage": [1]},
        {"data": [], "usage": {"prompt_tokens": "7"}},
        [],
    ],
)
def test_malformed_answers_are_protocol_errors(resp):
    with pytest.raises(UpstreamProtocolError):
        azure_embeddings_to_openai(resp, model="e")
