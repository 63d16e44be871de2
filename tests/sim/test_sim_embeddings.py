"""Embeddings: deterministic vectors, dimensions, float and base64 encodings, input shapes."""

from __future__ import annotations

import base64
import math
import struct

from sim_helpers import Sim

DEP = "da-embed-3-small"


def embed(sim: Sim, body: dict):
    return sim.post(DEP, "embeddings", body)


def test_float_vectors_are_deterministic_unit_vectors(sim: Sim) -> None:
    out = embed(sim, {"input": "hello"}).json()
    assert out["object"] == "list" and out["model"] == "text-embedding-3-small"
    vec = out["data"][0]["embedding"]
    assert len(vec) == 8 and out["data"][0]["index"] == 0
    assert math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-5)
    assert embed(sim, {"input": "hello"}).json()["data"][0]["embedding"] == vec
    assert embed(sim, {"input": "other"}).json()["data"][0]["embedding"] != vec
    assert out["usage"] == {"prompt_tokens": 2, "total_tokens": 2}


def test_base64_matches_float(sim: Sim) -> None:
    floats = embed(sim, {"input": ["a", "b"], "dimensions": 16, "encoding_format": "float"}).json()["data"]
    b64 = embed(sim, {"input": ["a", "b"], "dimensions": 16, "encoding_format": "base64"}).json()["data"]
    for f, b in zip(floats, b64, strict=True):
        assert len(f["embedding"]) == 16
        assert list(struct.unpack("<16f", base64.b64decode(b["embedding"]))) == f["embedding"]


def test_token_inputs(sim: Sim) -> None:
    out = embed(sim, {"input": [1, 2, 3]}).json()
    assert len(out["data"]) == 1 and out["usage"]["prompt_tokens"] == 3
    out = embed(sim, {"input": [[1, 2], [3, 4, 5]]}).json()
    assert [d["index"] for d in out["data"]] == [0, 1] and out["usage"]["prompt_tokens"] == 5


def test_refusals(sim: Sim) -> None:
    resp = embed(sim, {"input": "x", "model": "text-embedding-3-small"})
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "Unrecognized request argument supplied: model"
    assert embed(sim, {}).status_code == 400
    assert embed(sim, {"input": []}).status_code == 400
    assert embed(sim, {"input": "x", "encoding_format": "int8"}).status_code == 400
    assert embed(sim, {"input": "x", "dimensions": 0}).status_code == 400
