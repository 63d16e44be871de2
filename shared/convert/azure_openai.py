"""OpenAI-family models (Azure OpenAI behind SAP AI Core): a passthrough with the fewest edits.

The client already speaks the upstream's language, so the request is forwarded as it
is except for the few things Azure refuses and clients nonetheless send:
``stream_options`` without ``stream``, Anthropic-style ``cache_control`` markers that
Cline and Kilo Code attach to content parts, message fields that clients echo back from
earlier answers (``annotations`` from the OpenAI SDK, ``reasoning_content`` from our own
Gemini/Claude answers), ``max_tokens``/``temperature``/``top_p`` on reasoning models,
``reasoning_effort`` on models that do not reason (or a level the model lacks), a
``max_tokens`` above the model's limit, and fields the deployment's api-version does not
define (``shared/capabilities.py``). Answers
are not converted at all: non-streaming bytes go back untouched, and a stream is only
re-framed (not parsed as JSON) so that it ends in exactly one ``data: [DONE]`` whatever
the upstream did — the old proxies sent two, or none when the upstream broke off — and
without Azure's ``prompt_filter_results`` preamble, whose empty ``id``/``object`` and
``choices: []`` break the one-id-per-stream rule and clients that read ``choices[0]``.
"""

from __future__ import annotations

from typing import Any

from shared.adjustments import Adjustments, adapted, dropped
from shared.capabilities import Capabilities
from shared.errors import InvalidRequest, ProxyError, UpstreamProtocolError
from shared.jsonutil import loads
from shared.sse import DONE, SSEDecoder, SSEEvent
from shared.streams import openai_error_frame
from shared.usage import Usage, UsageMeter

__all__ = ["MESSAGE_KEYS", "AzurePassthroughRelay", "openai_to_azure_chat"]

# Azure validates messages with additionalProperties: false ("'annotations' was unexpected").
MESSAGE_KEYS = frozenset(("role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio"))
_DONE_DATA = b"[DONE]"
MAX_STOP = 4
_LIMITS = ("max_completion_tokens", "max_tokens")


def openai_to_azure_chat(
    body: dict[str, Any], *, caps: Capabilities, adjustments: Adjustments | None = None
) -> dict[str, Any]:
    """The client's body with the edits Azure needs; a new dict, the input is left alone.

    Fields the deployment's api-version does not define (``caps.chat_params``) are left
    out and reported — a new client field never becomes an upstream 400. Messages are
    copied only when something in them has to go, so the common case costs one shallow
    dict copy and a look at each key.
    """
    out = dict(body)
    if out.get("stream") is not True:
        out.pop("stream_options", None)  # Azure: "only allowed when 'stream' is enabled"
    elif "stream_options" in caps.chat_params:
        # Usage on every stream, for the request's record; the relay passes the usage chunk on
        # only to a client that asked for it (AzurePassthroughRelay).
        options = out.get("stream_options")
        out["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
    messages = out.get("messages")
    if isinstance(messages, list) and any(_needs_edit(m) for m in messages):
        out["messages"] = [_edited(m) for m in messages]
    if caps.reasoning and "max_completion_tokens" in caps.chat_params:
        limit = out.pop("max_tokens", None)
        if limit is not None and out.get("max_completion_tokens") is None:
            out["max_completion_tokens"] = limit
    if caps.reasoning:
        # Reasoning models refuse any value but the default 1, so the default is what they get.
        for key in ("temperature", "top_p"):
            if out.pop(key, None) is not None:
                dropped(adjustments, key, "reasoning models take only the default")
        _fit_effort(out, caps, adjustments)
    elif out.pop("reasoning_effort", None) is not None:
        dropped(adjustments, "reasoning_effort", "the model does not reason")
    _cap_limits(out, caps, adjustments)
    stop = out.get("stop")
    if isinstance(stop, list) and len(stop) > MAX_STOP:
        out["stop"] = stop[:MAX_STOP]  # Azure refuses more; Anthropic-API clients may send more
        adapted(adjustments, "stop", f"{len(stop)} sequences cut to {MAX_STOP}")
    for key in [k for k in out if k not in caps.chat_params]:
        del out[key]
        dropped(adjustments, key, "not defined by the deployment's api-version")
    return out


def _fit_effort(out: dict[str, Any], caps: Capabilities, adjustments: Adjustments | None) -> None:
    effort = out.get("reasoning_effort")
    if effort is None:
        return
    level = caps.nearest_reasoning_effort(effort) if isinstance(effort, str) else None
    if level is None:
        raise InvalidRequest(
            f"reasoning_effort: must be one of {', '.join(sorted(caps.reasoning_effort))} for this model",
            param="reasoning_effort",
        )
    if level != effort:
        out["reasoning_effort"] = level
        adapted(adjustments, "reasoning_effort", f"{effort} -> {level}")


def _cap_limits(out: dict[str, Any], caps: Capabilities, adjustments: Adjustments | None) -> None:
    """``max_tokens`` above the model's output limit is refused by Azure; ask for the limit instead."""
    limit = caps.max_output_tokens
    if limit is None:
        return
    for key in _LIMITS:
        value = out.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > limit:
            out[key] = limit
            adapted(adjustments, key, f"{value} capped at {limit}, the model's output limit")


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


class AzurePassthroughRelay:
    """Re-frames Azure's SSE for the client without looking inside the JSON (the hot path).

    Every upstream data event is written as ``data: <payload>\\n\\n``; comments,
    keep-alives and Azure's prompt-filter preamble (checked for only until the first
    forwarded event) are dropped; the upstream ``[DONE]`` is swallowed and the relay writes
    its own, exactly once, at :meth:`finish` or after the error frame of :meth:`fail`.
    An upstream that closes without ``[DONE]`` cut the answer short: :meth:`finish` then
    raises :class:`UpstreamProtocolError` and keeps what it had flushed for :meth:`fail`,
    so the client gets every byte that did arrive, then the error, then ``[DONE]``.

    The proxy asks every stream for its usage chunk (``stream_options.include_usage``);
    that one event is parsed, for the request's record, and passed on only to a client
    that asked for it (``client_usage``).
    """

    __slots__ = ("_sse", "_started", "_seen_done", "_closed", "_pending", "_client_usage", "_usage")

    def __init__(self, *, client_usage: bool = True) -> None:
        self._sse = SSEDecoder()
        self._started = False  # an event has been forwarded: no preamble can follow
        self._seen_done = False
        self._closed = False
        self._pending = b""
        self._client_usage = client_usage
        self._usage = UsageMeter()

    @property
    def usage(self) -> Usage | None:
        return self._usage.total()

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
            if (_USAGE in data or _USAGE_SPACED in data) and self._usage_only(data):
                continue
            if not self._client_usage and b'"usage":' in data:
                data = _without_null_usage(data)
            if b"\n" in data:  # a multi-line event: keep each line a data line
                data = data.replace(b"\n", b"\ndata: ")
            out += b"data: "
            out += data
            out += b"\n\n"
        return bytes(out)

    def _usage_only(self, data: bytes) -> bool:
        """Meter a chunk that carries usage; True when it is the usage-only chunk the client did not ask for."""
        try:
            doc = loads(data)
        except ValueError:
            return False
        if not isinstance(doc, dict) or not isinstance(doc.get("usage"), dict):
            return False  # "usage": null in an ordinary chunk
        self._usage.openai_chunk(doc)
        return not self._client_usage and doc.get("choices") == []


# The usage chunk's object (every other chunk says "usage":null): compact, or as json.dumps writes it.
_USAGE, _USAGE_SPACED = b'"usage":{', b'"usage": {'
_NULL_USAGE = (b',"usage":null', b', "usage": null')


def _without_null_usage(data: bytes) -> bytes:
    """A chunk without the ``"usage": null`` that ``include_usage`` adds to every chunk.

    The proxy asked for usage, not the client, so the client gets the chunks it would have
    had without it. A byte edit, safe because a quote inside a JSON string is always escaped:
    ``,"usage":null`` can only be a key and its value.
    """
    for pattern in _NULL_USAGE:
        data = data.replace(pattern, b"")
    return data


def _is_preamble(data: bytes) -> bool:
    """Azure's first frame: ``choices: []`` with ``prompt_filter_results`` and no id. Parsed once at most."""
    if b'"prompt_filter_results"' not in data:
        return False
    try:
        doc = loads(data)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("choices") == [] and "prompt_filter_results" in doc
