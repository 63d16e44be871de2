"""A tiny stand-in for the Anthropic and OpenAI APIs that records what the coding agents send.

The fixtures in ``tests/fixtures/agents/`` must show the agents' requests exactly as they
leave the agent — before any proxy touches them — including the second turn that carries a
tool result. The proxy cannot be in between (today it refuses some of these requests, which
would end the conversation early), so this server answers the agents itself, just well enough
for one tool round trip:

* ``POST /v1/messages`` (Anthropic Messages, streamed or not): when the last user turn holds a
  ``tool_result``, the final text ``Tool <name> returned: <result>``; otherwise, when the user
  text names one of the offered tools and a JSON object follows the name, a ``tool_use`` of
  that tool with that object as input (the simulator's convention,
  :func:`aicore_sim.answers.requested_call`); otherwise a short text.
* ``POST /v1/messages/count_tokens``: ``{"input_tokens": <body bytes / 4>}``.
* ``POST /v1/responses`` (OpenAI Responses, streamed or not): the same script with a
  ``function_call`` item and ``function_call_output`` items.
* ``GET /v1/models``: an empty list.

Every request is kept (method, path, headers with secrets replaced, JSON body) in
:attr:`ScriptedUpstream.exchanges`.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aicore_sim.answers import requested_call

__all__ = ["SECRET_HEADERS", "ScriptedUpstream"]

# Headers whose values are credentials: recorded as "<redacted>".
SECRET_HEADERS = frozenset(("authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"))


def _sse(kind: str, **fields: Any) -> bytes:
    """One server-sent event whose ``event:`` name is also the payload's ``type``."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


class _Script:
    """What to answer: decided from the last user turn of either API."""

    def __init__(self, final_text: str | None, tool: tuple[str, dict[str, Any]] | None, input_chars: int) -> None:
        self.final_text = final_text
        self.tool = tool
        self.input_tokens = max(1, math.ceil(input_chars / 4))


def _anthropic_script(body: dict[str, Any], raw_size: int) -> _Script:
    messages = body.get("messages") or []
    last = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
    names = {
        b.get("id"): b.get("name")
        for m in messages
        if isinstance(m.get("content"), list)
        for b in m["content"]
        if b.get("type") == "tool_use"
    }
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if results:
        parts = []
        for r in results:
            out = r.get("content")
            if isinstance(out, list):
                out = " ".join(str(c.get("text", "")) for c in out if isinstance(c, dict))
            parts.append(f"Tool {names.get(r.get('tool_use_id'), '?')} returned: {str(out).strip()}")
        return _Script("; ".join(parts), None, raw_size)
    text = " ".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    tools = [(t.get("name", ""), t.get("input_schema") or {}) for t in body.get("tools") or []]
    tool = requested_call(text, tools)
    return _Script(None if tool else "Scripted answer.", tool, raw_size)


def _responses_tools(tools: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(name, parameters) of every named tool, the tools inside ``namespace`` tools included."""
    found = []
    for t in tools:
        if t.get("type") == "namespace":
            found.extend(_responses_tools(t.get("tools") or []))
        elif t.get("name"):
            found.append((t["name"], t.get("parameters") or {}))
    return found


def _responses_script(body: dict[str, Any], raw_size: int) -> _Script:
    items = body.get("input")
    items = [{"type": "message", "role": "user", "content": items}] if isinstance(items, str) else items or []
    calls = {i.get("call_id"): i.get("name") for i in items if i.get("type") in ("function_call", "custom_tool_call")}
    # The turn is the items after the last assistant-side item.
    tail: list[dict[str, Any]] = []
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "assistant":
            break
        if item.get("type") in ("function_call", "custom_tool_call", "reasoning"):
            break
        tail.insert(0, item)
    outputs = [i for i in tail if i.get("type") in ("function_call_output", "custom_tool_call_output")]
    if outputs:
        parts = []
        for o in outputs:
            out = o.get("output")
            if isinstance(out, list):
                out = " ".join(str(c.get("text", "")) for c in out if isinstance(c, dict))
            parts.append(f"Tool {calls.get(o.get('call_id'), '?')} returned: {str(out).strip()}")
        return _Script("; ".join(parts), None, raw_size)
    user = next((i for i in reversed(items) if i.get("type") == "message" and i.get("role") == "user"), {})
    content = user.get("content")
    text = content if isinstance(content, str) else " ".join(c.get("text", "") for c in content or [])
    tool = requested_call(text, _responses_tools(body.get("tools") or []))
    return _Script(None if tool else "Scripted answer.", tool, raw_size)


def _anthropic_message(body: dict[str, Any], script: _Script) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if script.tool:
        name, args = script.tool
        content.append({"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": name, "input": args})
    else:
        content.append({"type": "text", "text": script.final_text or ""})
    return {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": "tool_use" if script.tool else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": script.input_tokens, "output_tokens": 5},
    }


def _anthropic_events(message: dict[str, Any]) -> Iterator[bytes]:
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 1}}
    yield _sse("message_start", message=start)
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            yield _sse("content_block_start", index=index, content_block={"type": "text", "text": ""})
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            yield _sse("content_block_start", index=index, content_block={**block, "input": {}})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        yield _sse("content_block_delta", index=index, delta=delta)
        yield _sse("content_block_stop", index=index)
    stop = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    yield _sse("message_delta", delta=stop, usage={"output_tokens": message["usage"]["output_tokens"]})
    yield _sse("message_stop")


def _responses_object(body: dict[str, Any], script: _Script) -> dict[str, Any]:
    if script.tool:
        item: dict[str, Any] = {
            "type": "function_call",
            "id": "fc_" + uuid.uuid4().hex[:24],
            "call_id": "call_" + uuid.uuid4().hex[:24],
            "name": script.tool[0],
            "arguments": json.dumps(script.tool[1]),
            "status": "completed",
        }
    else:
        item = {
            "type": "message",
            "id": "msg_" + uuid.uuid4().hex[:24],
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": script.final_text or "", "annotations": []}],
        }
    return {
        "id": "resp_" + uuid.uuid4().hex[:24],
        "object": "response",
        "created_at": 0,
        "status": "completed",
        "model": body.get("model", ""),
        "output": [item],
        "usage": {
            "input_tokens": script.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 5,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": script.input_tokens + 5,
        },
    }


def _responses_events(response: dict[str, Any]) -> Iterator[bytes]:
    numbers = iter(range(1_000_000))

    def event(kind: str, **fields: Any) -> bytes:
        return _sse(kind, sequence_number=next(numbers), **fields)

    yield event("response.created", response={**response, "status": "in_progress", "output": [], "usage": None})
    for index, item in enumerate(response["output"]):
        at = {"output_index": index}
        if item["type"] == "message":
            text = item["content"][0]["text"]
            yield event("response.output_item.added", **at, item={**item, "status": "in_progress", "content": []})
            part = {**at, "item_id": item["id"], "content_index": 0}
            yield event("response.output_text.delta", **part, delta=text)
            yield event("response.output_text.done", **part, text=text)
        else:
            yield event("response.output_item.added", **at, item={**item, "status": "in_progress", "arguments": ""})
            yield event("response.function_call_arguments.delta", **at, item_id=item["id"], delta=item["arguments"])
            yield event("response.function_call_arguments.done", **at, item_id=item["id"], arguments=item["arguments"])
        yield event("response.output_item.done", **at, item=item)
    yield event("response.completed", response=response)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the exchanges are the log."""

    def _record(self) -> tuple[dict[str, Any] | None, int]:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {k.lower(): ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in self.headers.items()}
        entry = {"method": self.command, "path": self.path, "headers": headers, "body": body}
        if body is None and raw:
            entry["raw_body"] = raw.decode("utf-8", "replace")
        with self.server.lock:
            self.server.exchanges.append(entry)
        return body if isinstance(body, dict) else None, len(raw)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        for event in events:
            self.wfile.write(event)
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._record()
        if self.path.split("?")[0] == "/v1/models":
            self._json(200, {"object": "list", "data": []})
        else:
            self._json(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body, size = self._record()
        route = self.path.split("?")[0]
        if body is None:
            self._json(400, {"error": {"type": "invalid_request_error", "message": "body is not a JSON object"}})
        elif route == "/v1/messages/count_tokens":
            self._json(200, {"input_tokens": max(1, size // 4)})
        elif route == "/v1/messages":
            message = _anthropic_message(body, _anthropic_script(body, size))
            self._stream(_anthropic_events(message)) if body.get("stream") else self._json(200, message)
        elif route == "/v1/responses":
            response = _responses_object(body, _responses_script(body, size))
            self._stream(_responses_events(response)) if body.get("stream") else self._json(200, response)
        else:
            self._json(404, {"error": {"type": "not_found_error", "message": f"no route {self.path}"}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    exchanges: list[dict[str, Any]]
    lock: threading.Lock


class ScriptedUpstream:
    """Run the scripted server on a free local port in a background thread (a context manager)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.exchanges = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def exchanges(self) -> list[dict[str, Any]]:
        with self._server.lock:
            return list(self._server.exchanges)

    def __enter__(self) -> ScriptedUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
