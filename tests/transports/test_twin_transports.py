"""Both transports, in-process, against nothing listening: refused connections are mapped the same way."""

from __future__ import annotations

import asyncio
import socket

import orjson

from shared.config import parse_config
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS
from shared.transports import async_aiohttp, sync_requests

CHAT = next(r for r in ENDPOINTS if r.handler == "chat_completions")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def core(token_port: int, deployment_port: int) -> ProxyCore:
    cfg = parse_config(
        {
            "subAccounts": {
                "a": {
                    "service_key_json": {"clientid": "c", "clientsecret": "s", "url": f"http://127.0.0.1:{token_port}"},
                    "deployment_models": {
                        "gpt-4o": [f"http://127.0.0.1:{deployment_port}/v2/inference/deployments/d1"]
                    },
                }
            },
            "secret_authentication_tokens": ["k"],
            "retry": {"max_attempts": 2, "backoff_base": 0.01, "backoff_max": 0.01},
            "timeouts": {"connect": 2},
        }
    )
    return ProxyCore(cfg, stack="test", started_at=0)


BODY = orjson.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]})
HEADERS = {"authorization": "Bearer k"}


def run_sync(c: ProxyCore):
    upstream = sync_requests.UpstreamClient(c)
    try:
        return upstream.run(c.begin(CHAT, HEADERS, "POST", CHAT.path, 0.0).job(BODY, 0.0))
    finally:
        upstream.close()


def run_async(c: ProxyCore):
    async def go():
        upstream = async_aiohttp.UpstreamClient(c)
        await upstream.start()
        try:
            return await upstream.run(c.begin(CHAT, HEADERS, "POST", CHAT.path, 0.0).job(BODY, 0.0))
        finally:
            await upstream.close()

    return asyncio.run(go())


def test_token_endpoint_refused_is_503_naming_the_sub_account():
    port = closed_port()
    for reply in (run_sync(core(port, port)), run_async(core(port, port))):
        err = orjson.loads(reply.body)["error"]
        assert reply.status == 503 and err["code"] == "token_fetch_failed" and "'a'" in err["message"]


def test_both_transports_give_identical_replies():
    port = closed_port()
    a, b = run_sync(core(port, port)), run_async(core(port, port))
    assert (a.status, a.body) == (b.status, b.body)
