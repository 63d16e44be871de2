"""OpenAI Chat Completions <-> Gemini on Vertex AI (``generateContent``), both directions.

Vertex is strict where OpenAI is lenient: it refuses unknown fields, wants turns that
alternate between ``user`` and ``model``, takes one system instruction, needs the
function *name* on every tool result and accepts only an OpenAPI subset in schemas.
So the request is rebuilt from the fields Vertex knows (never forwarded), and every
client mistake becomes an :class:`InvalidRequest` naming the field instead of an
opaque upstream 400. In the other direction Gemini gives function calls no ids and
repeats ``usageMetadata`` cumulatively, so ids are derived from the completion id and
only the last usage is kept. Gemini 3's ``thoughtSignature`` on a function call rides in
the call's id (:func:`~shared.convert.common.call_id_with_signature`) and goes back on the
call's part when the history is replayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared.adjustments import Adjustments, adapted
from shared.capabilities import Capabilities
from shared.convert import common
from shared.convert.gemini_schema import function_declarations, generation_config, tool_config
from shared.errors import InvalidRequest, UpstreamProtocolError, UpstreamStatusError
from shared.json_stream import JsonObjectDecoder
from shared.jsonutil import dumps_str, loads
from shared.openai_chunks import ChunkFactory, assistant_message, chat_completion, make_usage
from shared.streams import Decoder

__all__ = ["GeminiStream", "finish_reason", "gemini_to_openai", "openai_to_gemini", "stream_decoder", "upstream_error"]

_TEXT_PARTS = ("text", "input_text", "output_text")
_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY")
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length", **dict.fromkeys(_FILTERED, "content_filter")}
_ERROR_STATUS: dict[Any, int] = {"RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "INVALID_ARGUMENT": 400}
_USAGE_KEYS = ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount")


def openai_to_gemini(
    body: dict[str, Any],
    *,
    default_max_tokens: int | None,
    caps: Capabilities,
    adjustments: Adjustments | None = None,
) -> dict[str, Any]:
    """The Vertex ``generateContent`` body for an OpenAI chat request."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise InvalidRequest("'messages' must be an array of message objects", param="messages")
    system, _ = common.split_system(messages)
    contents = _contents(messages, caps.thought_signatures, adjustments)
    if not contents:
        raise InvalidRequest("messages: Gemini needs a non-empty user or assistant message", param="messages")
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    declarations = function_declarations(body.get("tools"))
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    choice = tool_config(body.get("tool_choice"), {d["name"] for d in declarations})
    if choice:
        out["toolConfig"] = choice
    config = generation_config(body, default_max_tokens, caps, adjustments)
    if config:
        out["generationConfig"] = config
    return out


def _contents(
    messages: list[dict[str, Any]], signatures: bool, adjustments: Adjustments | None
) -> list[dict[str, Any]]:
    """Turns in Vertex shape; same-role neighbours merged because Vertex wants alternation."""
    names = common.tool_name_by_call_id(messages)
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        role, where = msg.get("role"), f"messages[{i}]"
        if role in ("system", "developer"):
            continue
        if role == "user":
            kind, parts = "user", _parts(msg.get("content"), where)
        elif role == "assistant":
            kind, parts = "model", _parts(msg.get("content"), where) + _calls(msg, where, signatures, adjustments)
        elif role in ("tool", "function"):
            kind, parts = "user", [_function_response(msg, names, where)]
        else:
            raise InvalidRequest(f"{where}.role '{role}' is not supported", param=f"{where}.role")
        if not parts:
            continue  # Vertex refuses turns without parts; an empty message says nothing anyway
        if turns and turns[-1]["role"] == kind:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": kind, "parts": parts})
    return turns


def _parts(content: Any, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, part in enumerate(common.content_parts(content, f"{where}.content")):
        kind, at = part["type"], f"{where}.content[{j}]"
        if kind in _TEXT_PARTS or kind == "refusal":
            text = part.get("refusal" if kind == "refusal" else "text")
            if not isinstance(text, str):
                raise InvalidRequest(f"{at}: text part without a string text", param=at)
            if text:  # Vertex refuses empty text parts
                out.append({"text": text})
        elif kind == "image_url":
            image = part.get("image_url")
            mime, data = common.parse_data_url(image.get("url") if isinstance(image, dict) else image, at)
            out.append({"inlineData": {"mimeType": mime, "data": data}})
        else:
            raise InvalidRequest(f"{at}: content part type '{kind}' is not supported for Gemini models", param=at)
    return out


# Google's documented placeholder for a replayed call whose signature was never seen (a
# history begun on another model): https://ai.google.dev/gemini-api/docs/thought-signatures
SKIP_SIGNATURE = "skip_thought_signature_validator"


def _calls(msg: dict[str, Any], where: str, signatures: bool, adjustments: Adjustments | None) -> list[dict[str, Any]]:
    """Function-call parts; with ``signatures`` (Gemini 3) each carries its ``thoughtSignature`` back.

    Gemini 3 checks the first call of each step, so a call whose id carries no signature
    gets the documented placeholder there.
    """
    calls = msg.get("tool_calls") or []
    if not isinstance(calls, list):
        raise InvalidRequest(f"{where}.tool_calls must be an array", param=f"{where}.tool_calls")
    if isinstance(msg.get("function_call"), dict):  # the pre-tools OpenAI field
        calls = [*calls, {"type": "function", "function": msg["function_call"]}]
    out = []
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise InvalidRequest(f"{at}.function.name is required", param=at)
        args = common.parse_tool_arguments(fn.get("arguments"), f"{at}.function.arguments")
        part: dict[str, Any] = {"functionCall": {"name": fn["name"], "args": args}}
        if signatures:
            signature = common.signature_from_call_id(call.get("id"))
            if signature is None and k == 0:
                adapted(adjustments, f"{at}.id", "no thought signature: Gemini's placeholder sent")
                signature = SKIP_SIGNATURE
            if signature is not None:
                part["thoughtSignature"] = signature
        out.append(part)
    return out


def _function_response(msg: dict[str, Any], names: dict[str, str], where: str) -> dict[str, Any]:
    """A tool result; Vertex matches results to calls by function name, so the name is looked up."""
    if msg.get("role") == "function":
        name = msg.get("name")
    else:
        name = names.get(str(msg.get("tool_call_id")))
        if not name:
            raise InvalidRequest(
                f"{where}.tool_call_id does not match a tool call of an earlier assistant message",
                param=f"{where}.tool_call_id",
            )
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{where}.name is required for role 'function'", param=f"{where}.name")
    text = common.tool_result_text(msg.get("content"), f"{where}.content")
    try:
        response = loads(text) if text.lstrip().startswith("{") else None
    except ValueError:
        response = None
    if not isinstance(response, dict):
        response = {"content": text}  # Vertex wants an object here
    return {"functionResponse": {"name": name, "response": response}}


def finish_reason(reason: Any, has_calls: bool) -> str:
    """Gemini ``finishReason`` -> OpenAI; a normal stop after function calls is ``tool_calls``."""
    mapped = _FINISH.get(reason, "stop") if isinstance(reason, str) else "stop"
    return "tool_calls" if mapped == "stop" and has_calls else mapped


def upstream_error(err: Any) -> UpstreamStatusError:
    """The client-facing error for a Vertex ``{"error": {code, message, status}}`` object."""
    doc = err if isinstance(err, dict) else {"message": err}
    code, state, message = doc.get("code"), doc.get("status"), doc.get("message")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    state = state if isinstance(state, str) else None
    status = _ERROR_STATUS.get(state) or (code if code in (400, 429, 503) else 502)
    text = message if isinstance(message, str) and message else "Vertex AI reported an error"
    return UpstreamStatusError(
        f"Gemini upstream error ({state or code or 'unknown'}): {text}", upstream_status=code or status, status=status
    )


def _check(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise UpstreamProtocolError(f"Gemini sent {type(doc).__name__} where an object was expected")
    if doc.get("error") is not None:
        raise upstream_error(doc["error"])
    return doc


def _candidate(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The first candidate, or None when there is none (usage-only chunk, blocked prompt)."""
    candidates = doc.get("candidates")
    if not candidates:
        return None
    if not isinstance(candidates, list) or not isinstance(candidates[0], dict):
        raise UpstreamProtocolError("Gemini sent malformed 'candidates'")
    return candidates[0]


def _blocked(doc: dict[str, Any]) -> bool:
    feedback = doc.get("promptFeedback")
    return isinstance(feedback, dict) and feedback.get("blockReason") is not None


def _read_parts(candidate: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """("text"|"thought", str) and ("call", (name, args, signature)) for each part worth passing on."""
    content = candidate.get("content") or {}
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list | None):
        raise UpstreamProtocolError("Gemini sent malformed 'content.parts'")
    for part in parts or []:
        if not isinstance(part, dict):
            raise UpstreamProtocolError("Gemini sent a part that is not an object")
        call = part.get("functionCall")
        if call is not None:
            args = call.get("args", {}) if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not isinstance(args, dict):
                raise UpstreamProtocolError("Gemini sent a malformed functionCall part")
            signature = part.get("thoughtSignature")
            yield "call", (call["name"], args, signature if isinstance(signature, str) else None)
        elif isinstance(part.get("text"), str) and part["text"]:
            yield ("thought" if part.get("thought") is True else "text"), part["text"]


def _usage(meta: Any) -> dict[str, Any]:
    """OpenAI usage; thinking tokens are billed as output, so they count as completion tokens."""
    counts = [meta.get(key, 0) for key in _USAGE_KEYS] if isinstance(meta, dict) else None
    if counts is None or not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        raise UpstreamProtocolError("Gemini sent malformed 'usageMetadata'")
    prompt, candidates, thoughts, cached = counts
    return make_usage(prompt, candidates + thoughts, cached=cached, reasoning=thoughts)


def gemini_to_openai(resp: dict[str, Any], *, completion_id: str, created: int, model: str) -> dict[str, Any]:
    """A ``chat.completion`` for a non-streaming Vertex answer; a blocked prompt is a content_filter finish."""
    doc = _check(resp)
    candidate = _candidate(doc)
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []  # Gemini gives calls no ids: derive unique ones from the completion id
    if candidate is None:
        if not _blocked(doc):
            raise UpstreamProtocolError("Gemini answered without candidates and without a block reason")
        reason = "content_filter"
    else:
        for kind, value in _read_parts(candidate):
            if kind == "call":
                name, args, signature = value
                function = {"name": name, "arguments": dumps_str(args)}
                call_id = common.call_id_with_signature(f"call_{completion_id}_{len(calls)}", signature)
                calls.append({"id": call_id, "type": "function", "function": function})
            else:
                (thoughts if kind == "thought" else texts).append(value)
        reason = finish_reason(candidate.get("finishReason"), bool(calls))
    message = assistant_message(texts, thoughts, calls)
    meta = doc.get("usageMetadata")
    usage = _usage(meta) if meta is not None else None
    return chat_completion(
        completion_id=completion_id, created=created, model=model, message=message, finish_reason=reason, usage=usage
    )


class GeminiStream:
    """Translator for ``streamGenerateContent``: each upstream object is a delta of one answer.

    The finish reason is held until :meth:`finish` so that exactly one finish chunk goes
    out, after every content chunk, whatever order Vertex puts usage and reasons in.
    """

    __slots__ = ("_chunks", "_include_usage", "_started", "_reason", "_calls", "_usage")

    def __init__(self, chunks: ChunkFactory, *, include_usage: bool) -> None:
        self._chunks, self._include_usage = chunks, include_usage
        self._started, self._calls = False, 0
        self._reason: str | None = None  # mapped, before the tool_calls adjustment
        self._usage: dict[str, Any] | None = None

    def feed(self, event: Any) -> list[dict[str, Any]]:
        doc = _check(event)
        if doc.get("usageMetadata") is not None:
            self._usage = _usage(doc["usageMetadata"])  # cumulative: the last one wins
        candidate = _candidate(doc)
        if candidate is None:
            if _blocked(doc):
                self._reason = "content_filter"
            return []
        chunks, out = self._chunks, []
        for kind, value in _read_parts(candidate):
            if kind == "text":
                out.append(chunks.text(value))
            elif kind == "thought":
                out.append(chunks.reasoning(value))
            else:
                name, args, signature = value
                index, self._calls = self._calls, self._calls + 1
                call_id = common.call_id_with_signature(f"call_{chunks.completion_id}_{index}", signature)
                out.append(chunks.tool_call_start(index, call_id, name, dumps_str(args)))
        if candidate.get("finishReason") is not None:
            self._reason = finish_reason(candidate["finishReason"], False)
        if out and not self._started:
            self._started = True
            out.insert(0, chunks.role())
        return out

    def finish(self) -> list[dict[str, Any]]:
        if self._reason is None:
            raise UpstreamProtocolError("the Gemini stream ended before the answer was complete (no finishReason)")
        out = [] if self._started else [self._chunks.role()]
        reason = "tool_calls" if self._reason == "stop" and self._calls else self._reason
        out.append(self._chunks.finish(reason))
        if self._include_usage:
            out.append(self._chunks.usage(self._usage or make_usage(0, 0)))
        return out


def stream_decoder() -> Decoder:
    """SSE frames, JSON lines or a streamed JSON array: whichever framing the deployment uses."""
    return JsonObjectDecoder()
