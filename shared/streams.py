"""The streaming pipeline: upstream bytes -> decoded events -> OpenAI chunks -> SSE bytes.

Three pure stages, as in the design notes: a *decoder* (``feed(bytes) -> list``,
``flush() -> list``) turns upstream framing into events, a *translator*
(``feed(event) -> list[dict]``, ``finish() -> list[dict]``) keeps per-stream state and
turns events into OpenAI chunks, and the relay encodes them. Transports only pump
bytes into a :class:`Relay` and write out what it returns; they never look inside.
Whatever goes wrong mid-stream is written in-band by :meth:`~Relay.fail`, because the
HTTP status has already been sent. A relay also reads the token usage of the events it
encodes (:attr:`Relay.usage`), for the request's record.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from shared.errors import ProxyError, UpstreamProtocolError
from shared.jsonutil import loads
from shared.sse import DONE, SSEDecoder, encode_data
from shared.usage import Usage, UsageMeter

__all__ = [
    "ChatRelay",
    "Decoder",
    "Relay",
    "SSEJsonDecoder",
    "TranslatingRelay",
    "Translator",
    "openai_error_frame",
    "parse_json_or_literal",
]


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> list[Any]: ...
    def flush(self) -> list[Any]: ...


class Translator(Protocol):
    def feed(self, event: Any) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...


class Relay(Protocol):
    """What a transport drives: bytes in, bytes for the client out, and the usage seen."""

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def fail(self, exc: ProxyError) -> bytes: ...
    @property
    def usage(self) -> Usage | None: ...


def parse_json_or_literal(data: bytes) -> Any:
    """Parse one frame payload: JSON, or the Python-literal dicts some Converse deployments emit."""
    try:
        return loads(data)
    except ValueError:
        pass
    try:
        return ast.literal_eval(data.decode("utf-8"))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise UpstreamProtocolError(f"upstream sent a malformed stream frame: {data[:200]!r}") from exc


class SSEJsonDecoder:
    """SSE frames whose data is one JSON (or Python-literal) object each; ``[DONE]`` ends nothing here."""

    __slots__ = ("_sse", "_parse")

    def __init__(self, parse: Callable[[bytes], Any] = parse_json_or_literal) -> None:
        # Back-to-back ``data:`` lines split where ``parse`` accepts the first one (Python-literal frames too).
        self._sse = SSEDecoder(lambda data: _parses(parse, data))
        self._parse = parse

    def feed(self, chunk: bytes) -> list[Any]:
        return [self._parse(e.data) for e in self._sse.feed(chunk) if e.data != b"[DONE]"]

    def flush(self) -> list[Any]:
        return [self._parse(e.data) for e in self._sse.flush() if e.data != b"[DONE]"]


def _parses(parse: Callable[[bytes], Any], data: bytes) -> bool:
    if data == b"[DONE]":
        return True
    try:
        parse(data)
    except (ValueError, ProxyError):
        return False
    return True


def openai_error_frame(exc: ProxyError) -> bytes:
    """The in-band error chunk the OpenAI SDKs raise on (``{"error": {...}}``)."""
    return encode_data({"error": {"message": exc.message, "type": exc.openai_type, "code": exc.code}})


Meter = Callable[[UsageMeter, dict[str, Any]], None]


class TranslatingRelay:
    """Decode upstream bytes, run the events through translator stages, encode, terminate once.

    Stages chain: every dict one stage emits is fed to the next, and at the end each
    stage's ``finish()`` output flows through the stages after it. The last stage's
    dicts are metered (``meter`` reads their usage), encoded (``data:`` frames for Chat
    Completions, named events for the Anthropic and Responses APIs) unless ``keep`` says
    otherwise, and ``terminator`` (``data: [DONE]`` or nothing) is written exactly once,
    after the answer or after the in-band error.
    """

    __slots__ = (
        "_decoder",
        "_stages",
        "_encode",
        "_error_frame",
        "_terminator",
        "_meter",
        "_keep",
        "_usage",
        "_closed",
        "_pending",
    )

    def __init__(
        self,
        decoder: Decoder,
        stages: Sequence[Translator],
        *,
        encode: Callable[[dict[str, Any]], bytes] = encode_data,
        error_frame: Callable[[ProxyError], bytes] = lambda exc: openai_error_frame(exc),
        terminator: bytes = DONE,
        meter: Meter = UsageMeter.openai_chunk,
        keep: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self._decoder = decoder
        self._stages = tuple(stages)
        self._encode = encode
        self._error_frame = error_frame
        self._terminator = terminator
        self._meter = meter
        self._keep = keep
        self._usage = UsageMeter()
        self._closed = False
        # Output made before an error in the same read; fail() sends it first so no text is lost.
        self._pending = b""

    @property
    def usage(self) -> Usage | None:
        return self._usage.total()

    def _run(self, events: list[Any], first: int, out: bytearray) -> None:
        # Depth first, one event at a time: whatever was encoded before a stage raises stays in ``out``.
        if first == len(self._stages):
            keep = self._keep
            for doc in events:
                self._meter(self._usage, doc)
                if keep is None or keep(doc):
                    out += self._encode(doc)
            return
        feed = self._stages[first].feed
        for event in events:
            self._run(feed(event), first + 1, out)

    def feed(self, chunk: bytes) -> bytes:
        out = bytearray()
        try:
            self._run(self._decoder.feed(chunk), 0, out)
        except ProxyError:
            self._pending = bytes(out)
            raise
        return bytes(out)

    def finish(self) -> bytes:
        out = bytearray()
        try:
            self._run(self._decoder.flush(), 0, out)
            for i, stage in enumerate(self._stages):
                self._run(stage.finish(), i + 1, out)
        except ProxyError:
            self._pending = bytes(out)
            raise
        out += self._done()
        return bytes(out)

    def fail(self, exc: ProxyError) -> bytes:
        if self._closed:  # the answer already ended; nothing may follow it
            return b""
        pending, self._pending = self._pending, b""
        return pending + self._error_frame(exc) + self._done()

    def _done(self) -> bytes:
        if self._closed:
            return b""
        self._closed = True
        return self._terminator


class ChatRelay(TranslatingRelay):
    """Relay for Claude/Gemini chat streams: one translator to OpenAI chunks, one ``[DONE]``.

    The translator always makes the usage chunk, so the record learns the usage; it goes to
    the client only when asked for (``stream_options.include_usage``).
    """

    __slots__ = ()

    def __init__(self, decoder: Decoder, translator: Translator, *, client_usage: bool = True) -> None:
        super().__init__(decoder, [translator], keep=None if client_usage else _not_usage_only)


def _not_usage_only(chunk: dict[str, Any]) -> bool:
    """False for the extra usage chunk (``choices: []`` with ``usage``)."""
    return bool(chunk.get("choices")) or "usage" not in chunk
