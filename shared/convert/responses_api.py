"""OpenAI Responses API requests (``POST /v1/responses``, Codex CLI) as OpenAI chat requests.

Every upstream family is reached through the Chat Completions converters, so a
Responses body becomes a chat body here; the answer goes back through
:func:`chat_to_responses` (kept with the stream translator, which reuses it). The proxy
stores nothing, so whatever needs server-side state (``previous_response_id``,
``item_reference``, files) is refused with a 400 naming the field. Tools go through
:mod:`shared.convert.responses_tools` (namespaces flattened, hosted tools left out);
fields and item types with no meaning upstream are left out and reported.

Codex sends histories that chat upstreams refuse (pjq ``9042bf8``): developer messages
between a tool call and its output, calls whose output never came (an interrupted turn)
and outputs whose call is gone; :func:`_repair` mends each.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments, dropped
from shared.convert.responses_stream import chat_to_responses
from shared.convert.responses_tools import HOSTED_TOOLS, ToolCatalog, tool_catalog
from shared.errors import InvalidRequest
from shared.jsonutil import dumps_str

__all__ = ["chat_to_responses", "responses_to_chat_request"]

_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}
_EFFORTS = {"minimal": "low", "low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_STATEFUL = ("previous_response_id", "conversation", "prompt", "background")
# Read below, or meaningless for a stateless proxy (store, include, metadata): not reported.
_READ = frozenset(
    ("model", "input", "instructions", "stream", "tools", "tool_choice", "parallel_tool_calls", "max_output_tokens")
    + ("temperature", "top_p", "reasoning", "text", "store", "include", "metadata", "truncation", *_STATEFUL)
)
# Passed on in the chat body; the target's converter keeps them where the model knows them.
_PASSED = ("prompt_cache_key", "safety_identifier", "user")


def _bad(where: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {problem}", param=where)


def _name(item: dict[str, Any], key: str, where: str = "") -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise _bad(f"{where}.{key}" if where else key, "must be a non-empty string")
    return value


def responses_to_chat_request(body: dict[str, Any], adjustments: Adjustments | None = None) -> dict[str, Any]:
    """A Responses body as a Chat Completions body the chat converters understand (input left alone)."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = _name(body, "model")
    for key in body:
        if key not in _READ and key not in _PASSED:
            dropped(adjustments, key, "no equivalent in a chat request")
    for key in _STATEFUL:
        if body.get(key) not in (None, False):
            raise _bad(key, "needs state stored by the server, which the proxy does not keep; send the full input")
    instructions = body.get("instructions")
    if not isinstance(instructions, str | None):
        raise _bad("instructions", "must be a string")
    catalog = tool_catalog(body.get("tools"), adjustments)
    messages = [{"role": "system", "content": instructions}] if instructions else []
    messages += _repair(_input_messages(body.get("input"), catalog, adjustments))
    if all(m["role"] == "system" for m in messages):
        raise _bad("input", "at least one user or assistant item with content is required")
    out: dict[str, Any] = {"model": model, "messages": messages}
    _parameters(body, out)
    _tools(body, catalog, out)
    out |= {key: body[key] for key in _PASSED if body.get(key) is not None}
    return out


def _input_messages(items: Any, catalog: ToolCatalog, adjustments: Adjustments | None) -> list[dict[str, Any]]:
    """Input items -> chat messages in order; tool calls join the assistant message right before them."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise _bad("input", "must be a string or a list of input items")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if isinstance(item, str):
            out.append({"role": "user", "content": item})
            continue
        if not isinstance(item, dict):
            raise _bad(where, "must be a string or an input item object")
        kind = item.get("type", "message")
        if kind == "message":
            out += _message(item, where)
        elif kind in ("function_call", "custom_tool_call"):
            call = _call(item, where, catalog)
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":  # our own dict: safe to extend
                last["tool_calls"] = [*last.get("tool_calls", ()), call]
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            out.append(_output(item, where))
        elif kind == "item_reference":
            raise _bad(where, "item_reference needs stored responses, which the proxy does not keep; send the item")
        elif kind != "reasoning":  # reasoning items carry OpenAI's encrypted state: meaningless upstream
            # Calls of hosted tools (web_search_call ...) and item types newer than this proxy.
            dropped(adjustments, "input", f"{where}: item type {kind!r} has no equivalent upstream")
    return out


def _message(item: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role = item.get("role", "user")
    if role not in _ROLES:
        raise _bad(f"{where}.role", "must be user, assistant, system or developer")
    content = item.get("content")
    if isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content", "must be a string or a list of content parts")
    parts = [p for j, c in enumerate(content) if (p := _part(c, f"{where}.content[{j}]")).get("text") != ""]
    if role != "user" and any(p["type"] != "text" for p in parts):
        raise _bad(f"{where}.content", "images are accepted in user messages only")
    single = len(parts) == 1 and parts[0]["type"] == "text"
    return [{"role": _ROLES[role], "content": parts[0]["text"] if single else parts}] if parts else []


def _part(part: Any, at: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text", "refusal"):
        text = part.get("refusal" if kind == "refusal" else "text")
        if not isinstance(text, str):
            raise _bad(f"{at}.{'refusal' if kind == 'refusal' else 'text'}", "must be a string")
        return {"type": "text", "text": text}
    if kind == "input_image":
        url, detail = part.get("image_url"), part.get("detail")
        if part.get("file_id") is not None and not url:
            raise _bad(f"{at}.file_id", "files are not supported through SAP AI Core; send image_url (a data URL)")
        if not isinstance(url, str) or not url:
            raise _bad(f"{at}.image_url", "must be a non-empty string")
        if detail not in (None, "auto", "low", "high"):
            raise _bad(f"{at}.detail", "must be auto, low or high")
        return {"type": "image_url", "image_url": {"url": url, **({"detail": detail} if detail else {})}}
    if kind == "input_file":
        raise _bad(at, "files are not supported through SAP AI Core")
    raise _bad(f"{at}.type", f"content part type {kind!r} is not supported")


def _call(item: dict[str, Any], where: str, catalog: ToolCatalog) -> dict[str, Any]:
    call_id, name = _name(item, "call_id", where), _name(item, "name", where)
    namespace = item.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise _bad(f"{where}.namespace", "must be a string")
    name = catalog.upstream_name(name, namespace or None)
    if item["type"] == "custom_tool_call":
        if not isinstance(item.get("input"), str):
            raise _bad(f"{where}.input", "must be a string")
        arguments = dumps_str({"input": item["input"]})  # the shape the custom tool has upstream
    else:
        arguments = item.get("arguments", "")
        if not isinstance(arguments, str):
            raise _bad(f"{where}.arguments", "must be a JSON string")
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def _output(item: dict[str, Any], where: str) -> dict[str, Any]:
    call_id, output = _name(item, "call_id", where), item.get("output")
    if isinstance(output, list):
        output = [_part(p, f"{where}.output[{j}]") for j, p in enumerate(output)]
    elif not isinstance(output, str):
        raise _bad(f"{where}.output", "must be a string or a list of content parts")
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def _repair(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each kept call directly followed by its one output; unanswered calls and stray outputs mended.

    Images in tool outputs follow in a user message: only user messages carry images in chat.
    """
    called = {c["id"] for m in messages for c in m.get("tool_calls", ())}
    outputs: dict[str, dict[str, Any]] = {}
    for msg in messages:
        if msg["role"] == "tool" and msg["tool_call_id"] in called:
            outputs.setdefault(msg["tool_call_id"], msg)
    out: list[dict[str, Any]] = []
    placed: set[str] = set()
    for msg in messages:
        if msg["role"] == "tool":
            if outputs.get(msg["tool_call_id"]) is not msg:
                text, extra = _split(msg["content"])
                note = {"type": "text", "text": f"[tool output for {msg['tool_call_id']}]: {text}"}
                out.append({"role": "user", "content": [note, *extra] if extra else note["text"]})
            continue
        if "tool_calls" not in msg:
            out.append(msg)
            continue
        calls = [c for c in msg["tool_calls"] if c["id"] in outputs and c["id"] not in placed]
        msg = {k: v for k, v in msg.items() if k != "tool_calls"}
        if calls:
            msg["tool_calls"] = calls
        elif not msg.get("content"):
            continue  # only unanswered calls: nothing left to say
        out.append(msg)
        images: list[dict[str, Any]] = []
        for call in calls:
            placed.add(call["id"])
            text, pictures = _split(outputs[call["id"]]["content"])
            out.append({"role": "tool", "tool_call_id": call["id"], "content": text})
            images += pictures
        if images:
            note = {"type": "text", "text": "[images from the tool outputs above]"}
            out.append({"role": "user", "content": [note, *images]})
    return out


def _split(content: str | list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(content, str):
        return content, []
    return "".join(p["text"] for p in content if p["type"] == "text"), [p for p in content if p["type"] != "text"]


def _parameters(body: dict[str, Any], out: dict[str, Any]) -> None:
    limit = body.get("max_output_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise _bad("max_output_tokens", "must be a positive integer")
    for key, value in (("max_tokens", limit), ("temperature", body.get("temperature")), ("top_p", body.get("top_p"))):
        if not isinstance(value, int | float | None) or isinstance(value, bool):
            raise _bad(key, "must be a number")
        if value is not None:
            out[key] = value
    reasoning = _object(body, "reasoning")
    effort = reasoning.get("effort")
    if effort not in (None, "none"):
        if effort not in _EFFORTS:
            raise _bad("reasoning.effort", "must be none, minimal, low, medium, high or xhigh")
        out["reasoning_effort"] = _EFFORTS[effort]
    if (fmt := _response_format(_object(body, "text").get("format"))) is not None:
        out["response_format"] = fmt
    if _flag(body, "stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}  # response.completed reports usage


def _flag(body: dict[str, Any], key: str) -> bool | None:
    if body.get(key) not in (None, True, False):
        raise _bad(key, "must be a boolean")
    return body.get(key)


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    if value is not None and not isinstance(value, dict):
        raise _bad(key, "must be an object")
    return value or {}


def _response_format(fmt: Any) -> dict[str, Any] | None:
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if fmt is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind != "json_schema" or not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
        raise _bad("text.format", "must be text, json_object, or json_schema with a string name and a schema object")
    spec = {k: fmt[k] for k in ("name", "description", "schema", "strict") if fmt.get(k) is not None}
    return {"type": "json_schema", "json_schema": spec}


def _tools(body: dict[str, Any], catalog: ToolCatalog, out: dict[str, Any]) -> None:
    """The catalog's tools; tool_choice and parallel_tool_calls only with tools (Azure refuses them bare)."""
    choice = _tool_choice(body.get("tool_choice"), catalog)
    parallel = _flag(body, "parallel_tool_calls")
    if catalog.chat_tools:
        out["tools"] = catalog.chat_tools
        out.update((k, v) for k, v in (("tool_choice", choice), ("parallel_tool_calls", parallel)) if v is not None)


def _tool_choice(choice: Any, catalog: ToolCatalog) -> Any:
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        name = catalog.upstream_name(str(choice.get("name")), choice.get("namespace") or None)
        if name not in catalog.by_upstream:
            raise _bad("tool_choice.name", f"{choice.get('name')!r} is not one of the tools")
        return {"type": "function", "function": {"name": name}}
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return "required" if choice.get("mode") == "required" else "auto"  # among what is left upstream
    if isinstance(choice, dict) and choice.get("type") in HOSTED_TOOLS:
        return "auto"  # a hosted tool was asked for, and is not there: the model picks among the rest
    raise _bad("tool_choice", "must be auto, none, required or {type: function, name}")
