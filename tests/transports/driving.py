"""Drive a chat request through either transport in-process, the way the stacks do.

``run(kind, core, ...)`` returns what a client would get: the status and the complete
body, with ``on_chunk`` called on every piece of a stream as the transport yields it
(tests use it to prove a stream is not buffered). ``kind`` is ``sync`` (requests, the
Flask stack's) or ``async`` (aiohttp, the FastAPI stack's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from shared.config import parse_config
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS
from shared.replies import StreamReply
from shared.transports import async_aiohttp, sync_requests

CHAT = next(r for r in ENDPOINTS if r.handler == "chat_completions")
KINDS = ["sync", "async"]
HEADERS = {"authorization": "Bearer k"}


def make_core(
    token_url: str, deployment_url: str, service_key: dict[str, Any] | None = None, **extra: Any
) -> ProxyCore:
    """One sub-account ``a`` with one gpt-4o deployment; a client-secret key unless ``service_key`` is given."""
    cfg = parse_config(
        {
            "subAccounts": {
                "a": {
                    "service_key_json": service_key or {"clientid": "c", "clientsecret": "s", "url": token_url},
                    "deployment_models": {"gpt-4o": [deployment_url]},
                }
            },
            "secret_authentication_tokens": ["k"],
            "retry": {"max_attempts": 1},
            "timeouts": {"connect": 5, "first_byte": 20, "idle": 20},
            **extra,
        }
    )
    return ProxyCore(cfg, stack="test", started_at=0)


def chat_body(stream: bool) -> bytes:
    return orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}], "stream": stream})


def job(core: ProxyCore, stream: bool) -> Any:
    """What the adapters hand their transport for one chat request."""
    return core.begin(CHAT, HEADERS, "POST", CHAT.path, 0.0).job(chat_body(stream), 0.0)


def run(
    kind: str,
    core: ProxyCore,
    *,
    stream: bool = False,
    env: Mapping[str, str] | None = None,
    on_chunk: Callable[[bytes], None] = lambda chunk: None,
    requests: int = 1,
) -> list[tuple[int, bytes]]:
    """``requests`` chat calls in a row on one transport (so connections and tokens are reused)."""
    env = {} if env is None else env
    if kind == "sync":
        upstream = sync_requests.UpstreamClient(core, env=env)
        try:
            return [_collect_sync(upstream.run(job(core, stream)), on_chunk) for _ in range(requests)]
        finally:
            upstream.close()

    async def go() -> list[tuple[int, bytes]]:
        upstream = async_aiohttp.UpstreamClient(core, env=env)
        await upstream.start()
        try:
            out = []
            for _ in range(requests):
                reply = await upstream.run(job(core, stream))
                out.append(await _collect_async(reply, on_chunk))
            return out
        finally:
            await upstream.close()

    return asyncio.run(go())


def _collect_sync(reply: Any, on_chunk: Callable[[bytes], None]) -> tuple[int, bytes]:
    if not isinstance(reply, StreamReply):
        return reply.status, reply.body
    body = bytearray()
    for chunk in reply.chunks:
        body += chunk
        on_chunk(chunk)
    return 200, bytes(body)


async def _collect_async(reply: Any, on_chunk: Callable[[bytes], None]) -> tuple[int, bytes]:
    if not isinstance(reply, StreamReply):
        return reply.status, reply.body
    body = bytearray()
    async for chunk in reply.chunks:
        body += chunk
        on_chunk(chunk)
    return 200, bytes(body)


def error_of(body: bytes) -> dict[str, Any]:
    return dict(orjson.loads(body)["error"])


def stream_text(body: bytes) -> str:
    """The assistant text of an OpenAI chat stream, and a check that it ended with one [DONE]."""
    assert body.count(b"data: [DONE]") == 1 and body.endswith(b"data: [DONE]\n\n"), body[-300:]
    text = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            doc = orjson.loads(line[6:])
            assert "error" not in doc, doc
            for choice in doc.get("choices", []):
                text.append(choice.get("delta", {}).get("content") or "")
    return "".join(text)
