"""The seed document's FastAPI proxy, written the way its examples are, as a benchmark baseline.

``docs/benchmarks`` compares the real stacks against this app to show what each design
choice buys. It deliberately repeats the seed's choices, not ours:

* ``BASELINE_CLIENT=per-request`` (the default, the seed's examples): a new
  ``httpx.AsyncClient`` for every request and every token fetch — a new connection pool,
  TCP connection and SSL context each time;
* ``BASELINE_CLIENT=shared``: one ``httpx.AsyncClient`` for the worker's lifetime, on
  httpx's default transport — the fix most people stop at.

Everything else is the seed's minimal passthrough: check the bearer key, take a cached
XSUAA token, post the body to the model's first deployment and return ``response.json()``
(or relay ``aiter_bytes`` for streams). OpenAI-family models only, no retries, no
conversion: it does less work than the real stacks, which makes the comparison fair to it.
It reads the same ``config.json`` (``PROXY_CONFIG``) as the proxies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse

__all__ = ["create_app"]

API_VERSION = "2024-12-01-preview"


class SeedTokenManager:
    """The seed's token manager: an ``asyncio.Lock`` and a token kept until shortly before expiry."""

    def __init__(self, service_key: dict[str, object], client: httpx.AsyncClient | None) -> None:
        self.key = service_key
        self.client = client
        self.lock = asyncio.Lock()
        self.token: str | None = None
        self.expires_at = 0.0

    async def get_token(self) -> str:
        async with self.lock:
            if self.token is not None and time.monotonic() < self.expires_at:
                return self.token
            basic = base64.b64encode(f"{self.key['clientid']}:{self.key['clientsecret']}".encode()).decode()
            url = f"{self.key['url']}/oauth/token?grant_type=client_credentials"
            headers = {"Authorization": f"Basic {basic}"}
            if self.client is None:
                async with httpx.AsyncClient() as client:
                    response = await client.post(url, headers=headers)
            else:
                response = await self.client.post(url, headers=headers)
            doc = response.json()
            self.token = str(doc["access_token"])
            self.expires_at = time.monotonic() + float(doc.get("expires_in", 3600)) - 300
            return self.token


def _load(path: str) -> tuple[set[str], dict[str, tuple[str, str]], dict[str, dict[str, object]], dict[str, str]]:
    """Keys, model → (sub-account, first deployment URL), sub-account → service key and resource group."""
    with open(path, encoding="utf-8") as fh:
        cfg = json.load(fh)
    keys = set(cfg.get("secret_authentication_tokens", []))
    models: dict[str, tuple[str, str]] = {}
    service_keys: dict[str, dict[str, object]] = {}
    groups: dict[str, str] = {}
    for name, sub in cfg["subAccounts"].items():
        service_keys[name] = sub["service_key_json"]
        groups[name] = sub.get("resource_group", "default")
        for model, urls in sub["deployment_models"].items():
            models.setdefault(model, (name, urls[0]))
    return keys, models, service_keys, groups


def create_app(shared_client: bool | None = None) -> FastAPI:
    if shared_client is None:
        shared_client = os.environ.get("BASELINE_CLIENT", "per-request") == "shared"
    keys, models, service_keys, groups = _load(os.environ.get("PROXY_CONFIG", "config.json"))
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        client = httpx.AsyncClient(timeout=600) if shared_client else None
        state["client"] = client
        state["tokens"] = {name: SeedTokenManager(key, client) for name, key in service_keys.items()}
        yield
        if client is not None:
            await client.aclose()

    app = FastAPI(title="seed-style baseline", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):  # type: ignore[no-untyped-def]
        token = request.headers.get("Authorization", "").replace("Bearer ", "")
        if token not in keys:
            raise HTTPException(status_code=401, detail="Unauthorized")
        payload = await request.json()
        target = models.get(payload.get("model", ""))
        if target is None:
            raise HTTPException(status_code=404, detail="model not found")
        sub_account, base = target
        tokens: dict[str, SeedTokenManager] = state["tokens"]  # type: ignore[assignment]
        sap_token = await tokens[sub_account].get_token()
        url = f"{base}/chat/completions?api-version={API_VERSION}"
        headers = {"Authorization": f"Bearer {sap_token}", "AI-Resource-Group": groups[sub_account]}
        client: httpx.AsyncClient | None = state["client"]  # type: ignore[assignment]

        if payload.get("stream"):

            async def generate() -> AsyncIterator[bytes]:
                if client is None:
                    async with httpx.AsyncClient(timeout=600) as own:
                        async with own.stream("POST", url, headers=headers, json=payload) as response:
                            async for chunk in response.aiter_bytes(chunk_size=128):
                                yield chunk
                else:
                    async with client.stream("POST", url, headers=headers, json=payload) as response:
                        async for chunk in response.aiter_bytes(chunk_size=128):
                            yield chunk

            return StreamingResponse(generate(), media_type="text/event-stream")

        if client is None:
            async with httpx.AsyncClient(timeout=600) as own:
                response = await own.post(url, headers=headers, json=payload)
        else:
            response = await client.post(url, headers=headers, json=payload)
        return response.json()

    return app


def __getattr__(name: str) -> FastAPI:
    # ``uvicorn loadtests.baselines.seed_style:app`` builds the app on first access, so
    # importing this module (ruff, the test suite) needs no config.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
