"""Raw SSE reading for framing assertions (the SDKs hide framing mistakes)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class RawStream:
    status: int
    headers: httpx.Headers
    frames: list[tuple[str | None, str]] = field(default_factory=list)  # (event name, data)
    arrival: list[float] = field(default_factory=list)  # seconds since request start, per frame
    body: bytes = b""  # the whole body when the answer is not a stream (errors before the first byte)

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def data(self) -> list[str]:
        return [d for _, d in self.frames]

    def json_chunks(self) -> list[dict[str, Any]]:
        return [json.loads(d) for d in self.data if d != "[DONE]"]

    def text(self) -> str:
        return "".join(c["choices"][0]["delta"].get("content") or "" for c in self.json_chunks() if c.get("choices"))


def stream_raw(client: httpx.Client, path: str, body: dict[str, Any], **kw: Any) -> RawStream:
    start = time.monotonic()
    with client.stream("POST", path, json=body, **kw) as resp:
        out = RawStream(resp.status_code, resp.headers)
        if not resp.headers.get("content-type", "").startswith("text/event-stream"):
            out.body = resp.read()
            return out
        event: str | None = None
        data: list[str] = []
        for line in resp.iter_lines():
            if line == "":
                if data:
                    out.frames.append((event, "\n".join(data)))
                    out.arrival.append(time.monotonic() - start)
                event, data = None, []
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line.startswith("event:"):
                event = line[6:].strip()
        if data:
            out.frames.append((event, "\n".join(data)))
            out.arrival.append(time.monotonic() - start)
    return out
