"""OpenAI Responses API answers from the chat hub: the ``response`` object and its events.

:class:`ChatToResponsesStream` ends with a ``response.completed`` whose object *is* what
:func:`chat_to_responses` makes of the same content, so the shape is written once; item
ids are derived (``msg_``/``rs_`` + the response id's suffix, ``fc_``/``ctc_`` + the call
id), so events and objects agree. Calls to tools declared ``custom`` (Codex's
``apply_patch``) go back as ``custom_tool_call`` items with the ``input`` argument
unwrapped; a stream sends their input whole at the end, as a fragment of
``{"input": "...`` is not yet the raw text. A chat ``refusal`` joins the message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from shared.convert.responses_tools import ClientTool, ToolCatalog, tool_catalog
from shared.errors import ProxyError, UpstreamError, UpstreamProtocolError
from shared.jsonutil import dumps_str, loads

__all__ = ["ChatToResponsesStream", "chat_to_responses", "response_envelope"]

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_DELTAS = {"reasoning_content": "reasoning", "content": "text", "refusal": "text"}
# kind -> (part event, text event, index field, extra text-event fields)
_EVENTS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "reasoning": ("response.reasoning_summary_part", "response.reasoning_summary_text", "summary_index", {}),
    "text": ("response.content_part", "response.output_text", "content_index", {"logprobs": []}),
}
_TOOL_DEFAULTS: dict[str, dict[str, Any]] = {
    "function": {"description": None, "parameters": None, "strict": True},
    "custom": {"description": None, "format": {"type": "text"}},
}
Key = str | int  # an output item: "reasoning", "text" (the message) or a tool call's position


def _catalog(request: Any) -> ToolCatalog:
    """The request's tool catalog: calls go back under the client's names (and namespaces)."""
    return tool_catalog(request.get("tools") if isinstance(request, dict) else None)


def response_envelope(*, response_id: str, created_at: int, request: Any, status: str) -> dict[str, Any]:
    """The response object without output: the request's settings echoed, with the defaults OpenAI reports."""
    req = request if isinstance(request, dict) else {}
    reasoning, text, tools = _obj(req.get("reasoning")), _obj(req.get("text")), req.get("tools")
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": req.get("instructions"),
        "max_output_tokens": req.get("max_output_tokens"),
        "model": req.get("model") or "",
        "output": [],
        "parallel_tool_calls": req.get("parallel_tool_calls") is not False,
        "previous_response_id": None,
        "prompt_cache_key": req.get("prompt_cache_key"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "safety_identifier": req.get("safety_identifier"),
        "service_tier": "default",
        "store": False,  # the proxy keeps nothing, whatever the client asked for
        "temperature": req.get("temperature", 1.0),
        "text": {"format": text.get("format") or {"type": "text"}, "verbosity": text.get("verbosity") or "medium"},
        "tool_choice": req.get("tool_choice") or "auto",
        "tools": [_echo_tool(t) for t in tools] if isinstance(tools, list) else [],
        "top_p": req.get("top_p", 1.0),
        "truncation": req.get("truncation") or "disabled",
        "usage": None,
        "user": req.get("user"),
        "metadata": _obj(req.get("metadata")),
    }


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _echo_tool(tool: Any) -> Any:
    defaults = _TOOL_DEFAULTS.get(str(tool.get("type"))) if isinstance(tool, dict) else None
    return {**defaults, **tool} if defaults else tool


def _text_part(kind: str, text: str) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {"type": "summary_text", "text": text} if kind == "reasoning" else part


def _text_item(kind: str, response_id: str, text: str, status: str) -> dict[str, Any]:
    """The reasoning item (summary text) or the message item; empty ``text`` makes the streamed opening item."""
    suffix, parts = response_id.removeprefix("resp_"), [_text_part(kind, text)] if text else []
    if kind == "reasoning":
        return {"id": f"rs_{suffix}", "type": "reasoning", "summary": parts}
    return {"id": f"msg_{suffix}", "type": "message", "status": status, "role": "assistant", "content": parts}


def _call_item(call_id: str, tool: ClientTool, arguments: str, *, status: str) -> dict[str, Any]:
    """A call item under the client's tool name; a namespaced tool's call names its namespace."""
    named = {"name": tool.name, **({"namespace": tool.namespace} if tool.namespace else {})}
    if not tool.custom:
        return {"id": f"fc_{call_id}", "type": "function_call", "status": status, "call_id": call_id, **named} | {
            "arguments": arguments
        }
    try:  # upstream saw a function with one string argument, "input"
        value = loads(arguments)
    except ValueError:
        value = None
    text = value["input"] if isinstance(value, dict) and isinstance(value.get("input"), str) else arguments
    return {"id": f"ctc_{call_id}", "type": "custom_tool_call", "call_id": call_id, **named, "input": text}


def chat_to_responses(
    completion: dict[str, Any], *, response_id: str, created_at: int, request: dict[str, Any], order: Sequence[Key] = ()
) -> dict[str, Any]:
    """A ``chat.completion`` as a ``response`` (``request``: the client's Responses body).

    Output: reasoning, the message, the calls, unless a stream passes the ``order`` its items appeared in.
    """
    message, calls, finish_reason, usage = _read(completion)
    reason = _INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
    status = "incomplete" if reason else "completed"
    texts: dict[str, Any] = {"reasoning": message.get("reasoning_content"), "text": message.get("content")}
    if isinstance(texts["text"], list):
        texts["text"] = "".join(str(_obj(p).get("text") or "") for p in texts["text"])
    if isinstance(refusal := message.get("refusal"), str):
        texts["text"] = (texts["text"] or "") + refusal
    catalog, output = _catalog(request), []
    for key in dict.fromkeys([*order, "reasoning", "text", *range(len(calls))]):
        if isinstance(key, int):
            call_id, name, arguments = calls[key]
            output.append(_call_item(call_id, catalog.client_tool(name), arguments, status=status))
        elif isinstance(texts[key], str) and texts[key]:
            output.append(_text_item(key, response_id, texts[key], status))
    doc = response_envelope(response_id=response_id, created_at=created_at, request=request, status=status)
    doc["incomplete_details"] = {"reason": reason} if reason else None
    doc["output"], doc["usage"], doc["output_text"] = output, _usage(usage), texts["text"] or ""
    return doc


def _read(completion: Any) -> tuple[dict[str, Any], list[tuple[str, str, str]], Any, Any]:
    """(message, calls as (id, name, arguments), finish_reason, usage) of a checked completion."""
    if isinstance(completion, dict) and completion.get("error") is not None:
        raise UpstreamError(f"upstream error: {_obj(completion['error']).get('message') or completion['error']}")
    choices = completion.get("choices") if isinstance(completion, dict) else None
    choice = _obj(choices[0]) if isinstance(choices, list) and choices else {}
    message = choice.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("tool_calls") or [], list):
        raise UpstreamProtocolError("upstream sent a malformed chat completion: no choices[0].message")
    calls = []
    for call in message.get("tool_calls") or ():
        fn = _obj(_obj(call).get("function"))
        if not isinstance(_obj(call).get("id"), str) or not isinstance(fn.get("name"), str):
            raise UpstreamProtocolError("upstream sent a tool call without a string id and function name")
        arguments = fn.get("arguments")
        calls.append((call["id"], fn["name"], arguments if isinstance(arguments, str) else dumps_str(arguments or {})))
    return message, calls, choice.get("finish_reason"), completion.get("usage")


def _usage(usage: Any) -> dict[str, Any] | None:
    """Chat usage in Responses words; both count cached tokens inside the input tokens."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens"))
    cache, out = _obj(usage.get("prompt_tokens_details")), _obj(usage.get("completion_tokens_details"))
    cached, written = _count(cache.get("cached_tokens")), _count(cache.get("cache_write_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": _count(out.get("reasoning_tokens"))},
        "total_tokens": _count(usage.get("total_tokens")) or prompt + completion,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ChatToResponsesStream:
    """Translator: ``chat.completion.chunk`` dicts in, Responses events out (``type`` is the SSE event name).

    Items open as content first arrives, indexed in that order, and close in :meth:`finish`
    (usage follows the finish chunk); the order goes to :func:`chat_to_responses`, so the
    final ``output`` matches every index sent, even if text follows a tool call.
    """

    __slots__ = ("_id", "_catalog", "_seq", "_envelope", "_convert", "_items", "_texts", "_calls", "_at", "_end")

    def __init__(self, *, response_id: str, created_at: int, request: dict[str, Any]) -> None:
        self._id, self._catalog, self._seq = response_id, _catalog(request), 0
        self._envelope = partial(response_envelope, response_id=response_id, created_at=created_at, request=request)
        self._convert = partial(chat_to_responses, response_id=response_id, created_at=created_at, request=request)
        self._items: dict[Key, str] = {}  # item -> its id, in order of output index
        self._texts: dict[str, list[str]] = {"reasoning": [], "text": []}
        self._calls: list[tuple[str, str, list[str]]] = []  # (call id, name, argument fragments) by position
        self._at: dict[int, int] = {}  # the chunks' tool-call index -> position
        self._end: list[Any] = [None, None]  # finish_reason, usage

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        self._seq += 1
        return {"type": kind, "sequence_number": self._seq - 1, **fields}

    def _start(self) -> list[dict[str, Any]]:
        kinds = () if self._seq else ("response.created", "response.in_progress")
        return [self._event(kind, response=self._envelope(status="in_progress")) for kind in kinds]

    def _open(self, key: Key, item: dict[str, Any]) -> dict[str, Any]:
        self._items[key] = item["id"]
        return self._event("response.output_item.added", output_index=len(self._items) - 1, item=item)

    def _where(self, key: Key) -> dict[str, Any]:
        return {"item_id": self._items[key], "output_index": list(self._items).index(key)}

    def feed(self, chunk: Any) -> list[dict[str, Any]]:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("choices") or [], list):
            raise UpstreamProtocolError(f"upstream sent a malformed chat chunk: {str(chunk)[:200]}")
        if chunk.get("error") is not None:
            raise UpstreamError(f"upstream error: {_obj(chunk['error']).get('message') or chunk['error']}")
        out = self._start()
        if isinstance(chunk.get("usage"), dict):
            self._end[1] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = _obj(choice).get("delta") or {}
            if not isinstance(delta, dict):
                raise UpstreamProtocolError("upstream sent a chat chunk whose delta is not an object")
            for field, kind in _DELTAS.items():
                if isinstance(piece := delta.get(field), str) and piece:
                    out += self._text(kind, piece)
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
            if isinstance(reason := _obj(choice).get("finish_reason"), str):
                self._end[0] = reason
        return out

    def _text(self, kind: str, piece: str) -> list[dict[str, Any]]:
        part_event, text_event, index_field, extra = _EVENTS[kind]
        out = [] if kind in self._items else [self._open(kind, _text_item(kind, self._id, "", "in_progress"))]
        at = {**self._where(kind), index_field: 0}
        if out:
            out.append(self._event(f"{part_event}.added", **at, part=_text_part(kind, "")))
        self._texts[kind].append(piece)
        return [*out, self._event(f"{text_event}.delta", **at, delta=piece, **extra)]

    def _call(self, call: Any) -> list[dict[str, Any]]:
        index, fn = _obj(call).get("index"), _obj(_obj(call).get("function"))
        if not isinstance(index, int):
            raise UpstreamProtocolError("upstream sent a streamed tool call without an index")
        out = []
        if index not in self._at:
            call_id, name = call.get("id"), fn.get("name")
            if not isinstance(call_id, str) or not call_id or not isinstance(name, str) or not name:
                raise UpstreamProtocolError("upstream started a streamed tool call without an id and a function name")
            position = self._at[index] = len(self._calls)
            self._calls.append((call_id, name, []))
            item = _call_item(call_id, self._catalog.client_tool(name), "", status="in_progress")
            out.append(self._open(position, item))
        position, fragment = self._at[index], fn.get("arguments")
        if isinstance(fragment, str) and fragment:
            self._calls[position][2].append(fragment)
            if not self._catalog.client_tool(self._calls[position][1]).custom:
                at = self._where(position)
                out.append(self._event("response.function_call_arguments.delta", **at, delta=fragment))
        return out

    def finish(self) -> list[dict[str, Any]]:
        finish_reason, usage = self._end
        if finish_reason is None:
            raise UpstreamProtocolError("the upstream stream ended without a finish_reason: the answer is incomplete")
        text, reasoning = "".join(self._texts["text"]), "".join(self._texts["reasoning"])
        calls = [{"id": i, "function": {"name": n, "arguments": "".join(a)}} for i, n, a in self._calls]
        message = {"role": "assistant", "content": text or None, "reasoning_content": reasoning, "tool_calls": calls}
        completion = {"choices": [{"index": 0, "message": message, "finish_reason": finish_reason}], "usage": usage}
        response = self._convert(completion, order=list(self._items))
        out = self._start()
        for index, item in enumerate(response["output"]):
            out += self._close(index, item)
        return [*out, self._event(f"response.{response['status']}", response=response)]

    def _close(self, index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
        where, kind, out = {"item_id": item["id"], "output_index": index}, item["type"], []
        if kind in ("reasoning", "message"):
            part_event, text_event, index_field, extra = _EVENTS["reasoning" if kind == "reasoning" else "text"]
            for j, part in enumerate(item["summary"] if kind == "reasoning" else item["content"]):
                out.append(self._event(f"{text_event}.done", **where, **{index_field: j}, text=part["text"], **extra))
                out.append(self._event(f"{part_event}.done", **where, **{index_field: j}, part=part))
        elif kind == "function_call":
            out.append(self._event("response.function_call_arguments.done", **where, arguments=item["arguments"]))
        else:
            out.append(self._event("response.custom_tool_call_input.delta", **where, delta=item["input"]))
            out.append(self._event("response.custom_tool_call_input.done", **where, input=item["input"]))
        return [*out, self._event("response.output_item.done", output_index=index, item=item)]

    def fail(self, exc: ProxyError) -> list[dict[str, Any]]:
        """The events that end a broken stream: ``response.failed``, which Codex reads (and retries on)."""
        code = "rate_limit_exceeded" if exc.status == 429 else "server_error"
        response = {**self._envelope(status="failed"), "error": {"code": code, "message": exc.message}}
        return [*self._start(), self._event("response.failed", response=response)]
