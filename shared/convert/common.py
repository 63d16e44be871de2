"""Helpers every OpenAI -> upstream converter needs, written once.

All functions are pure and never mutate their input. Problems with the client's
payload raise :class:`shared.errors.InvalidRequest` naming the field, so the client
gets a 400 that says what to fix instead of an upstream 400 it cannot interpret.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, urlsafe_b64decode, urlsafe_b64encode
from typing import Any

from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str, loads

__all__ = [
    "call_id_with_signature",
    "content_parts",
    "content_text",
    "max_output_tokens",
    "signature_from_call_id",
    "parse_data_url",
    "parse_tool_arguments",
    "split_system",
    "stop_sequences",
    "tool_name_by_call_id",
    "tool_result_text",
]


def content_parts(content: Any, where: str) -> list[dict[str, Any]]:
    """Normalise OpenAI message content to a list of part dicts (``str`` -> one text part)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest(f"{where}: content must be a string or a list of content parts", param=where)
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        if isinstance(part, str):
            parts.append({"type": "text", "text": part})
        elif isinstance(part, dict) and isinstance(part.get("type"), str):
            parts.append(part)
        else:
            raise InvalidRequest(f"{where}[{i}]: each content part must be an object with a 'type'", param=where)
    return parts


def content_text(content: Any, where: str) -> str:
    """All text of a message's content, parts joined without separators (as OpenAI concatenates)."""
    texts = []
    for part in content_parts(content, where):
        if part["type"] in ("text", "input_text", "output_text"):
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidRequest(f"{where}: text part without a string 'text'", param=where)
            texts.append(text)
        elif part["type"] == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
    return "".join(texts)


def split_system(messages: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """Take every ``system``/``developer`` message out of the list, wherever it stands.

    Returns (system texts in order, remaining messages). Claude and Gemini have one
    system prompt; OpenAI allows system messages anywhere, and agents put them late.
    """
    system: list[str] = []
    rest: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        if msg.get("role") in ("system", "developer"):
            text = content_text(msg.get("content"), f"messages[{i}].content")
            if text:
                system.append(text)
        else:
            rest.append(msg)
    return system, rest


def parse_data_url(url: Any, where: str) -> tuple[str, str]:
    """``data:<mime>;base64,<data>`` -> (mime, base64 data). Remote URLs are refused.

    Bedrock and Vertex behind SAP AI Core take inline bytes only, and the proxy does
    not fetch URLs on a client's behalf.
    """
    if not isinstance(url, str):
        raise InvalidRequest(f"{where}: image_url.url must be a string", param=where)
    if not url.startswith("data:"):
        raise InvalidRequest(
            f"{where}: only base64 data URLs (data:image/png;base64,...) are supported for this model; "
            "remote image URLs are not fetched",
            param=where,
        )
    header, sep, data = url[5:].partition(",")
    mime, _, encoding = header.partition(";")
    if not sep or encoding != "base64" or not mime.startswith("image/"):
        raise InvalidRequest(f"{where}: expected data:image/<type>;base64,<data>", param=where)
    try:
        b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{where}: image data is not valid base64", param=where) from exc
    return mime, data


def parse_tool_arguments(arguments: Any, where: str) -> dict[str, Any]:
    """OpenAI tool-call ``arguments`` (a JSON string) -> the object Claude/Gemini expect."""
    if isinstance(arguments, dict):
        return arguments
    if arguments in (None, ""):
        return {}
    if not isinstance(arguments, str):
        raise InvalidRequest(f"{where}: function.arguments must be a JSON string", param=where)
    try:
        value = loads(arguments)
    except ValueError as exc:
        raise InvalidRequest(f"{where}: function.arguments is not valid JSON", param=where) from exc
    if not isinstance(value, dict):
        return {"value": value}
    return value


_SIGNATURE_MARK = "_ts_"


def call_id_with_signature(call_id: str, signature: str | None) -> str:
    """A tool-call id that carries Gemini's ``thoughtSignature`` through the client and back.

    Gemini 3 refuses a replayed function call without its signature, and clients hand
    back only ids. The signature rides in the id, base64url-encoded so the id keeps to
    ``[A-Za-z0-9_-]`` (what Claude accepts, should the conversation move there). The
    ids this proxy mints (``call_<completion id>_<n>``) never contain the mark.
    """
    if not signature:
        return call_id
    encoded = urlsafe_b64encode(signature.encode()).rstrip(b"=").decode()
    return f"{call_id}{_SIGNATURE_MARK}{encoded}"


def signature_from_call_id(call_id: Any) -> str | None:
    """The signature :func:`call_id_with_signature` put into an id, or None."""
    if not isinstance(call_id, str) or _SIGNATURE_MARK not in call_id:
        return None
    encoded = call_id.split(_SIGNATURE_MARK, 1)[1]
    try:
        return urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, ValueError):
        return None


def tool_name_by_call_id(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Map each assistant tool-call id to its function name (Gemini needs names on results)."""
    names: dict[str, str] = {}
    for msg in messages:
        for call in msg.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", ""))
    return names


def max_output_tokens(body: dict[str, Any]) -> int | None:
    """``max_completion_tokens`` (newer name) wins over ``max_tokens``."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"{key} must be a positive integer", param=key)
        return value
    return None


def stop_sequences(body: dict[str, Any]) -> list[str] | None:
    """``stop`` as a list (OpenAI allows a string or a list of up to 4 strings)."""
    stop = body.get("stop")
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return list(stop)
    raise InvalidRequest("stop must be a string or a list of strings", param="stop")


def tool_result_text(content: Any, where: str) -> str:
    """The text of a ``role: tool`` message (string or text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return content_text(content, where)
    if content is None:
        return ""
    return dumps_str(content)
