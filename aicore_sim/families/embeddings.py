"""Azure OpenAI embeddings with deterministic vectors.

Vectors come from a hash of each input, so the same text always embeds the same way
and tests can compare vectors across calls. ``encoding_format: base64`` matters because
the official OpenAI Python SDK asks for it by default.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

from aicore_sim.families.base import Call, Outcome, Refusal, json_outcome
from aicore_sim.families.openai_checks import openai_error as _err

__all__ = ["embed", "handle_embeddings"]

_ALLOWED = frozenset(("input", "dimensions", "encoding_format", "user"))
DEFAULT_DIMENSIONS = 8


def embed(text: str, dimensions: int) -> list[float]:
    """A unit-length vector derived from a hash of ``text``."""
    raw = b""
    counter = 0
    seed = text.encode()
    while len(raw) < dimensions * 4:
        raw += hashlib.blake2b(seed + counter.to_bytes(4, "little"), digest_size=64).digest()
        counter += 1
    ints = struct.unpack(f"<{dimensions}I", raw[: dimensions * 4])
    vec = [(i / 0xFFFFFFFF) * 2.0 - 1.0 for i in ints]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    # Round-trip through float32 so float and base64 answers carry the same numbers.
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *(v / norm for v in vec))))


def _inputs(value: Any) -> tuple[list[str], int]:
    """Normalise ``input`` to hashable strings and count its tokens (chars / 4, or the token ids)."""
    if isinstance(value, str):
        return [value], max(1, math.ceil(len(value) / 4))
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return list(value), max(1, math.ceil(sum(len(v) for v in value) / 4))
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return [repr(value)], len(value)
        if all(isinstance(v, list) and v and all(isinstance(i, int) for i in v) for v in value):
            return [repr(v) for v in value], sum(len(v) for v in value)
    raise _err(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        "input",
        "invalid_type",
    )


def _validate(body: Any) -> tuple[list[str], int, int, str]:
    if not isinstance(body, dict):
        raise _err("We could not parse the JSON body of your request. Expected an object.")
    for key in body:
        if key not in _ALLOWED:
            raise _err(f"Unrecognized request argument supplied: {key}")
    if "input" not in body:
        raise _err("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    texts, tokens = _inputs(body["input"])
    if any(t == "" for t in texts):
        raise _err("'$.input' is invalid: empty strings are not allowed.", "input", "invalid_value")
    dims = body.get("dimensions")
    if dims is None:
        dims = DEFAULT_DIMENSIONS
    elif not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= 3072:
        raise _err(f"Invalid value for 'dimensions': {dims!r}.", "dimensions", "invalid_value")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise _err(
            f"Invalid value: '{fmt}'. Supported values are: 'float' and 'base64'.", "encoding_format", "invalid_value"
        )
    return texts, tokens, dims, fmt


def handle_embeddings(call: Call) -> Outcome:
    """Validate and answer one ``embeddings`` call."""
    try:
        texts, tokens, dims, fmt = _validate(call.body)
    except Refusal as refusal:
        return refusal.outcome()
    data = []
    for index, text in enumerate(texts):
        vec = embed(text, dims)
        value: Any = vec
        if fmt == "base64":
            value = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode()
        data.append({"object": "embedding", "index": index, "embedding": value})
    return json_outcome(
        {
            "object": "list",
            "data": data,
            "model": call.dep.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )
