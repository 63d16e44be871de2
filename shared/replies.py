"""What goes back to the client: a complete :class:`Reply`, or a :class:`StreamReply`.

An error reply keeps the :class:`~shared.errors.ProxyError` it was rendered from, so the
request's record reads the message and the kind of failure from the object, never by
parsing the body it just wrote.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping
from dataclasses import dataclass, field

from shared.errors import ProxyError, render_error

__all__ = ["JSON_HEADERS", "SSE_HEADERS", "Reply", "StreamReply", "error_reply"]

JSON_HEADERS: Mapping[str, str] = {"content-type": "application/json"}
SSE_HEADERS: Mapping[str, str] = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete answer; ``error`` is set when it renders one."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: JSON_HEADERS)
    error: ProxyError | None = None


@dataclass(frozen=True, slots=True)
class StreamReply:
    """A streamed answer (status 200): its headers and the SSE bytes as a transport pumps them.

    A generator either way (sync or async transport), so the adapter can close it — which
    closes the upstream response at once — when the client leaves.
    """

    headers: Mapping[str, str]
    chunks: Generator[bytes, None, None] | AsyncGenerator[bytes, None]


def error_reply(exc: ProxyError, dialect: str) -> Reply:
    """The error in the API's own shape (``dialect``: openai | anthropic), keeping the error itself."""
    status, headers, body = render_error(exc, dialect)
    return Reply(status, body, headers, exc)
