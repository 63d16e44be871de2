"""OpenAI-family models (Azure OpenAI behind SAP AI Core): a passthrough with the fewest edits.

The client already speaks the upstream's language, so the request is forwarded as it
is except for the few things Azure refuses and clients nonetheless send:
``stream_options`` without ``stream``, Anthropic-style ``cache_control`` markers that
Cline and Kilo Code attach to content parts, message fields that clients echo back from
earlier answers (``annotations`` from the OpenAI SDK, ``reasoning_content`` from our own
Gemini/Claude answers), ``max_tokens``/``temperature``/``top_p`` on reasoning models,
and ``reasoning_effort`` on models that do not reason. Answers
are not converted at all: non-streaming bytes go back untouched, and a stream is only
re-framed (not parsed as JSON) so that it ends in exactly one ``data: [DONE]`` whatever
the upstream did — the old proxies sent two, or none when the upstream broke off — and
without Azure's ``prompt_filter_results`` preamble, whose empty ``id``/``object`` and
``choices: []`` break the one-id-per-stream rule and clients that read ``choices[0]``.
"""

from __future__ import annotations

from typing import Any

from shared.errors import ProxyError, UpstreamProtocolError
from shared.jsonutil import loads
from shared.sse import DONE, SSEDecoder, SSEEvent
from shared.streams import openai_error_frame

__all__ = ["MESSAGE_KEYS", "REASONING_PREFIXES", "AzurePassthroughStream", "is_reasoning_model", "openai_to_azure_chat"]

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")
# Azure validates messages with additionalProperties: false ("'annotations' was unexpected").
MESSAGE_KEYS = frozenset(("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio"))
_DONE_DATA = b"[DONE]"
MAX_STOP = 4


def is_reasoning_model(name: str) -> bool:
    """True for the o-series and GPT-5 models, which take different sampling parameters.

    Accepts a plain name (``o3-mini``) or one with a provider prefix (``azure/gpt-5``).
    """
    return name.rsplit("/", 1)[-1].lower().startswith(REASONING_PREFIXES)


def openai_to_azure_chat(body: dict[str, Any], *, reasoning_model: bool) -> dict[str, Any]:
    """The client's body with the edits Azure needs; a new dict, the input is left alone.

    Messages are copied only when something in them has to go, so the common case costs
    one shallow dict copy and a look at each message's keys.
    """
    out = dict(body)
    if out.get("stream") is not True:
        out.pop("stream_options", None)  # Azure: "only allowed when 'stream' is enabled"
    messages = out.get("messages")
    if isinstance(messages, list) and any(_needs_edit(m) for m in messages):
        out["messages"] = [_edited(m) for m in messages]
    if reasoning_model:
        limit = out.pop("max_tokens", None)
        if limit is not None and out.get("max_completion_tokens") is None:
            out["max_completion_tokens"] = limit
        # Reasoning models refuse any value but the default 1, so the default is what they get.
        out.pop("temperature", None)
        out.pop("top_p", None)
    else:
        out.pop("reasoning_effort", None)  # refused by models that do not reason
    stop = out.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP:
        out["stop"] = stop[:MAX_STOP]  # Azure refuses more; Anthropic-API clients may send more
    return out


def _needs_edit(msg: Any) -> bool:
    if not isinstance(msg, dict):
        return False
    content = msg.get("content")
    parts = content if isinstance(content, list) else ()
    return any(k not in MESSAGE_KEYS for k in msg) or any(isinstance(p, dict) and "cache_control" in p for p in parts)


def _edited(msg: Any) -> Any:
    """The message without keys Azure refuses and without ``cache_control`` in its parts."""
    if not _needs_edit(msg):
        return msg
    out = {k: v for k, v in msg.items() if k in MESSAGE_KEYS}
    if isinstance(out.get("content"), list):
        out["content"] = [
            {k: v for k, v in p.items() if k != "cache_control"} if isinstance(p, dict) else p for p in out["content"]
        ]
    return out


class AzurePassthroughStream:
    """Re-frames Azure's SSE for the client without looking inside the JSON (the hot path).

    Every upstream data event is written as ``data: <payload>\\n\\n``; comments,
    keep-alives and Azure's prompt-filter preamble (checked for only until the first
    forwarded event) are dropped; the upstream ``[DONE]`` is swallowed and the relay writes
    its own, exactly once, at :meth:`finish` or after the error frame of :meth:`fail`.
    An upstream that closes without ``[DONE]`` cut the answer short: :meth:`finish` then
    raises :class:`UpstreamProtocolError` and keeps what it had flushed for :meth:`fail`,
    so the client gets every byte that did arrive, then the error, then ``[DONE]``.
    """

    __slots__ = ("_sse", "_started", "_seen_done", "_closed", "_pending")

    def __init__(self) -> None:
        self._sse = SSEDecoder()
        self._started = False  # an event has been forwarded: no preamble can follow
        self._seen_done = False
        self._closed = False
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if self._closed:
            return b""
        return self._frame(self._sse.feed(chunk))

    def finish(self) -> bytes:
        if self._closed:
            return b""
        out = self._pending + self._frame(self._sse.flush())
        if not self._seen_done:
            self._pending = out
            raise UpstreamProtocolError("the upstream stream ended without its DONE marker: the answer is incomplete")
        self._closed, self._pending = True, b""
        return out + DONE

    def fail(self, exc: ProxyError) -> bytes:
        if self._closed:
            return b""  # [DONE] is already out: nothing may follow it
        self._closed = True
        out, self._pending = self._pending, b""
        return out + openai_error_frame(exc) + DONE

    def _frame(self, events: list[SSEEvent]) -> bytes:
        out = bytearray()
        for event in events:
            data = event.data
            if self._seen_done or not data:
                continue  # nothing after [DONE] belongs to the answer; empty data is no chunk
            if data == _DONE_DATA:
                self._seen_done = True
                continue
            if not self._started:
                if _is_preamble(data):
                    continue
                self._started = True
            if b"\n" in data:  # a multi-line event: keep each line a data line
                data = data.replace(b"\n", b"\ndata: ")
            out += b"data: "
            out += data
            out += b"\n\n"
        return bytes(out)


def _is_preamble(data: bytes) -> bool:
    """Azure's first frame: ``choices: []`` with ``prompt_filter_results`` and no id. Parsed once at most."""
    if b'"prompt_filter_results"' not in data:
        return False
    try:
        doc = loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("choices") == [] and "prompt_filter_results" in doc
