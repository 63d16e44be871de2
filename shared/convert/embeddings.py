"""OpenAI ``/v1/embeddings`` <-> Azure OpenAI embeddings behind SAP AI Core.

Azure takes the OpenAI body minus ``model`` (the deployment is the model, and the
field is refused as an unknown argument), so the request is rebuilt from the four
fields Azure knows after checking them here: a malformed ``input`` otherwise comes back
as Azure's generic ``'$.input' is invalid``. The answer is Azure's JSON with the
client's model name put back and ``usage`` guaranteed, copied from upstream — one old
proxy reported the sum of vector lengths as token usage, another read the wrong path.
"""

from __future__ import annotations

from typing import Any

from shared.errors import InvalidRequest, UpstreamProtocolError

__all__ = ["ENCODING_FORMATS", "azure_embeddings_to_openai", "openai_to_azure_embeddings"]

ENCODING_FORMATS = ("float", "base64")
_INPUT_HELP = (
    "'input' must be a non-empty string, a non-empty array of non-empty strings, "
    "an array of token ids, or an array of non-empty token-id arrays"
)


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _valid_input(value: Any) -> bool:
    """The four shapes OpenAI accepts; empty strings and empty arrays are refused upstream too."""
    if isinstance(value, str):
        return bool(value)
    if not isinstance(value, list) or not value:
        return False
    if all(isinstance(v, str) for v in value):
        return all(value)
    if all(_is_token(v) for v in value):
        return True
    return all(isinstance(v, list) and v and all(_is_token(t) for t in v) for v in value)


def openai_to_azure_embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """The Azure body: ``input`` plus the optional ``dimensions``, ``encoding_format``, ``user``."""
    if "input" not in body:
        raise InvalidRequest("'input' is required", param="input")
    value = body["input"]
    if not _valid_input(value):
        raise InvalidRequest(_INPUT_HELP, param="input")
    out: dict[str, Any] = {"input": list(value) if isinstance(value, list) else value}
    dims = body.get("dimensions")
    if dims is not None:
        if not _is_token(dims) or dims < 1:
            raise InvalidRequest("'dimensions' must be a positive integer", param="dimensions")
        out["dimensions"] = dims
    fmt = body.get("encoding_format")
    if fmt is not None:
        if fmt not in ENCODING_FORMATS:
            raise InvalidRequest("'encoding_format' must be 'float' or 'base64'", param="encoding_format")
        out["encoding_format"] = fmt
    user = body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise InvalidRequest("'user' must be a string", param="user")
        out["user"] = user
    return out


def _count(usage: dict[str, Any], key: str) -> int | None:
    value = usage.get(key)
    if value is None:
        return None
    if not _is_token(value):
        raise UpstreamProtocolError(f"the embeddings answer has a malformed usage.{key}")
    return int(value)


def azure_embeddings_to_openai(resp: dict[str, Any], *, model: str) -> dict[str, Any]:
    """Azure's answer as the client expects it: requested model name, ``object: list``, ``usage``.

    Vectors are passed on as they are (float lists or base64 strings, as requested).
    Missing token counts become 0 rather than an invented number.
    """
    if not isinstance(resp, dict) or not isinstance(resp.get("data"), list):
        raise UpstreamProtocolError("the embeddings answer has no 'data' array")
    for i, item in enumerate(resp["data"]):
        if not isinstance(item, dict) or not isinstance(item.get("embedding"), list | str):
            raise UpstreamProtocolError(f"the embeddings answer has a malformed data[{i}]")
    raw = resp.get("usage")
    if raw is not None and not isinstance(raw, dict):
        raise UpstreamProtocolError("the embeddings answer has a malformed 'usage'")
    prompt = _count(raw or {}, "prompt_tokens")
    total = _count(raw or {}, "total_tokens")
    usage = {
        **(raw or {}),
        "prompt_tokens": prompt or 0,
        "total_tokens": total if total is not None else prompt or 0,
    }
    return {**resp, "object": "list", "model": model, "usage": usage}
