"""Types and helpers shared by the family modules (request context, outcome, refusals, ids)."""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from aicore_sim.topology import Deployment

__all__ = [
    "SSE",
    "Call",
    "Frames",
    "Outcome",
    "Refusal",
    "json_outcome",
    "VOLATILE",
    "fresh_id",
    "iso_now",
    "iso_time",
    "rand_id",
    "unix_now",
    "sse",
]

SSE = b"text/event-stream"
_TO_ALNUM = bytes.maketrans(b"+/", b"Az")


# Every per-response value (random ids, timestamps) a handler renders is recorded here, so
# that a cached answer can be replayed with fresh values (see aicore_sim.cache). Handlers
# run synchronously on the one event loop thread, so a module-level list is safe.
VOLATILE: list[tuple[str, Any]] = []


def fresh_id(length: int) -> str:
    """Random alphanumeric string; cheap, it runs on every answer."""
    return base64.b64encode(os.urandom(length))[:length].translate(_TO_ALNUM).decode()


def rand_id(length: int = 24) -> str:
    """Random id body (``msg_bdrk_<this>`` and friends), recorded as volatile."""
    value = fresh_id(length)
    VOLATILE.append(("id", value))
    return value


def unix_now() -> int:
    """Azure's ``created`` (epoch seconds), recorded as volatile."""
    now = int(time.time())
    VOLATILE.append(("created", now))
    return now


def iso_now() -> str:
    """Vertex's ``createTime``, recorded as volatile."""
    value = iso_time()
    VOLATILE.append(("createTime", value))
    return value


def iso_time() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def sse(obj: Any) -> bytes:
    """One SSE ``data:`` frame with a JSON payload."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(slots=True)
class Call:
    """What a family handler needs to know about one deployment request."""

    dep: Deployment
    action: str
    stream: bool
    body: Any
    query_string: str
    chunks: int


@dataclass(slots=True)
class Outcome:
    """A family's reply: a plain JSON body, or (``frames`` set) the frames of a stream.

    ``paced`` marks the content frames: the chunk gap is waited before each of them
    (except the first, which waits for the time to first token instead).
    ``garbage`` is a frame in the same framing that no decoder can parse.
    """

    status: int
    body: bytes = b""
    content_type: bytes = b"application/json"
    frames: list[bytes] | None = None
    paced: list[bool] | None = None
    garbage: bytes = b'data: {"malformed": \n\n'
    headers: bytes = b""
    encoded: bytes | None = None  # cache of the whole chunked body (fast stream path)


@dataclass(slots=True)
class Frames:
    """Accumulates stream frames and their pacing flags."""

    frames: list[bytes] = field(default_factory=list)
    paced: list[bool] = field(default_factory=list)

    def add(self, frame: bytes, paced: bool = False) -> None:
        self.frames.append(frame)
        self.paced.append(paced)

    def outcome(self, content_type: bytes = SSE, garbage: bytes = b'data: {"malformed": \n\n') -> Outcome:
        return Outcome(200, content_type=content_type, frames=self.frames, paced=self.paced, garbage=garbage)


def json_outcome(payload: Any, status: int = 200) -> Outcome:
    return Outcome(status, orjson.dumps(payload))


class Refusal(Exception):
    """Raised by validators: the request is refused with ``status`` and a JSON (or raw) body."""

    def __init__(self, status: int, payload: Any = None, raw: bytes | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.payload = payload
        self.raw = raw

    def outcome(self) -> Outcome:
        body = self.raw if self.raw is not None else orjson.dumps(self.payload)
        return Outcome(self.status, body)
