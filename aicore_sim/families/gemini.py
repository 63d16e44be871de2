"""Gemini through Vertex AI (``models/<model>:generateContent`` / ``:streamGenerateContent``).

Streams are a sequence of ``GenerateContentResponse`` deltas with cumulative
``usageMetadata``; the framing (SSE, JSON lines or a streamed JSON array) is chosen per
deployment because real deployments differ and the proxy must decode all three.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from aicore_sim.answers import Answer, Conversation, compute_answer, count_words, split_chunks, text_chars
from aicore_sim.families.base import Call, Frames, Outcome, Refusal, iso_now, json_outcome, rand_id
from aicore_sim.families.gemini_rules import check_thinking_config, check_thought_signatures, gemini_profile
from aicore_sim.families.vertex_schema import check_request, gemini_error

__all__ = ["handle_generate"]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
_FINISH = {"stop": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS", "tool": "STOP"}


def _validate(req: dict[str, Any]) -> None:
    contents = req.get("contents")
    if not contents:
        raise gemini_error(
            "Unable to submit request because it has an empty contents field. Add at least one Content and try again."
        )
    prev_calls = 0
    for i, content in enumerate(contents):
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise gemini_error("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not parts:
            raise gemini_error(
                f"Unable to submit request because contents[{i}] must have at least one parts "
                "field, which describes the prompt input."
            )
        responses = sum(1 for p in parts if "function_response" in p)
        if responses and responses != prev_calls:
            raise gemini_error(
                "Please ensure that the number of function response parts is equal to the number of "
                "function call parts of the function call turn."
            )
        prev_calls = sum(1 for p in parts if "function_call" in p) if role == "model" else 0
    for tool in req.get("tools") or []:
        for decl in tool.get("function_declarations") or []:
            if not isinstance(decl.get("name"), str) or not _NAME_RE.match(decl["name"]):
                raise gemini_error(
                    "Invalid function name. Must start with a letter or an underscore. Must be "
                    "alphameric (a-z, A-Z, 0-9), underscores (_), dots (.) or dashes (-), with a "
                    "maximum length of 64."
                )
    limit = (req.get("generation_config") or {}).get("max_output_tokens")
    if limit is not None and int(limit) < 1:
        raise gemini_error(
            f"Unable to submit request because it has a maxOutputTokens value of {limit} but the "
            "supported range is from 1 (inclusive) to 65537 (exclusive). Update the value and try "
            "again."
        )
    mode = ((req.get("tool_config") or {}).get("function_calling_config") or {}).get("mode")
    if mode is not None and mode not in ("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"):
        raise gemini_error(
            f"Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/"
            f'google.cloud.aiplatform.v1.FunctionCallingConfig.Mode), "{mode}"'
        )


def _response_text(response: Any) -> str:
    """A function response's text: a lone string field (``{"result": "..."}``) or compact JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return orjson.dumps(response).decode()


def _conversation(req: dict[str, Any]) -> Conversation:
    contents = req["contents"]
    conv = Conversation(
        input_chars=text_chars(contents) + text_chars(req.get("system_instruction")) + text_chars(req.get("tools"))
    )
    last = next((c for c in reversed(contents) if c.get("role", "user") == "user"), None)
    if last is not None:
        parts = last["parts"]
        conv.user_text = " ".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
        conv.images = sum(
            1
            for p in parts
            for key in ("inline_data", "file_data")
            if key in p and str(p[key].get("mime_type", "")).startswith("image/")
        )
        for p in parts:
            if "function_response" in p:
                fr = p["function_response"]
                conv.tool_results.append((fr.get("name") or fr.get("id") or "?", _response_text(fr.get("response"))))
    for tool in req.get("tools") or []:
        for decl in tool.get("function_declarations") or []:
            conv.tools.append((decl["name"], decl.get("parameters") or decl.get("parameters_json_schema") or {}))
    calling = (req.get("tool_config") or {}).get("function_calling_config") or {}
    allowed = calling.get("allowed_function_names") or []
    if calling.get("mode") == "NONE":
        conv.choice = "none"
    elif allowed:
        conv.choice, conv.choice_name = "tool", allowed[0]
    elif calling.get("mode") == "ANY":
        conv.choice = "any"
    config = req.get("generation_config") or {}
    if config.get("max_output_tokens") is not None:
        conv.max_tokens = int(config["max_output_tokens"])
    conv.stop = list(config.get("stop_sequences") or [])
    conv.thinking = bool((config.get("thinking_config") or {}).get("include_thoughts"))
    return conv


def _usage(ans: Answer, thinking: bool, candidates: int | None = None, thoughts: int | None = None) -> dict[str, Any]:
    cand = ans.output_tokens - ans.thinking_tokens if candidates is None else candidates
    thought = ans.thinking_tokens if thoughts is None else thoughts
    usage: dict[str, Any] = {
        "promptTokenCount": ans.input_tokens,
        "candidatesTokenCount": cand,
        "totalTokenCount": ans.input_tokens + cand + (thought if thinking else 0),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": ans.input_tokens}],
    }
    if thinking:
        usage["thoughtsTokenCount"] = thought
    return usage


def handle_generate(call: Call) -> Outcome:
    """Validate, answer and render one ``generateContent`` / ``streamGenerateContent`` call."""
    profile = gemini_profile(call.dep.model)
    try:
        req = check_request(call.body)
        _validate(req)
        check_thinking_config(profile, req)
        check_thought_signatures(profile, req)
    except Refusal as refusal:
        return refusal.outcome()
    conv = _conversation(req)
    ans = compute_answer(call.dep.model, conv)
    finish = _FINISH[ans.finish]
    meta = {
        "modelVersion": call.dep.model,
        "createTime": iso_now(),
        "responseId": rand_id(22),
    }
    # Gemini 3 signs its answers: "Gemini 3 returns thought signatures for all model responses
    # ... with a function call" (on the first functionCall part), and "Model responses without a
    # function call will return a thought signature inside the last part returned by the model"
    # (https://ai.google.dev/gemini-api/docs/thought-signatures). Signatures are opaque base64.
    signature = "c2ltLXNpZy0" + rand_id(20) if profile.signatures_required else ""
    signed = {"thoughtSignature": signature} if signature else {}
    call_part: dict[str, Any] | None = (
        {"functionCall": {"name": ans.tool_name, "args": ans.tool_args}, **signed} if ans.tool_name else None
    )
    if not call.stream:
        parts: list[dict[str, Any]] = [{"text": ans.thinking, "thought": True}] if ans.thinking else []
        parts.append(call_part or {"text": ans.text, **signed})
        whole = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        return json_outcome({"candidates": [whole], "usageMetadata": _usage(ans, conv.thinking), **meta})
    pieces: list[tuple[dict[str, Any], int, int]] = []  # (part, candidate tokens so far, thought tokens so far)
    thoughts = 0
    for piece in split_chunks(ans.thinking, call.chunks):
        thoughts += count_words(piece)
        pieces.append(({"text": piece, "thought": True}, 0, thoughts))
    if call_part:
        pieces.append((call_part, 0, thoughts))
    else:
        written = ""
        for piece in split_chunks(ans.text, call.chunks) or [""]:
            written += piece
            pieces.append(({"text": piece}, count_words(written), thoughts))
        if signed:  # the last text part of the answer carries the signature
            pieces[-1] = ({**pieces[-1][0], **signed}, pieces[-1][1], pieces[-1][2])
    fmt = "sse" if "alt=sse" in call.query_string else call.dep.gemini_stream_format
    out = Frames()
    for n, (part, cand, thought) in enumerate(pieces):
        final = n == len(pieces) - 1
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [part]}, "index": 0}
        if final:
            candidate["finishReason"] = finish
            usage = _usage(ans, conv.thinking)
        else:
            usage = _usage(ans, conv.thinking, cand, thought)
        data = orjson.dumps({"candidates": [candidate], "usageMetadata": usage, **meta})
        if fmt == "sse":
            out.add(b"data: " + data + b"\n\n", paced=True)
        elif fmt == "jsonl":
            out.add(data + b"\n", paced=True)
        else:
            out.add((b"[" if n == 0 else b",\n") + data, paced=True)
    if fmt == "sse":
        return out.outcome()
    if fmt == "jsonl":
        return out.outcome(b"application/x-ndjson", b'{"malformed": \n')
    out.add(b"]")
    return out.outcome(b"application/json", b',\n{"malformed": ')
