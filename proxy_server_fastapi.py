"""FastAPI stack: the proxy as an ASGI app for uvicorn (uvloop + httptools).

Run: ``proxyctl serve fastapi`` (uvicorn; ``--server gunicorn`` for uvicorn workers). An adapter only —
the twin of ``proxy_server.py`` over the same core and route table, with the async
transport (one aiohttp session per worker, opened in the lifespan).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.config import ProxyConfig
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS, Endpoint
from shared.record import RequestRecord
from shared.replies import Reply, StreamReply
from shared.runtime.metrics import CONTENT_TYPE, EXPOSITION_HANDLER, exposition
from shared.runtime.startup import lazy_app, start_core
from shared.transports.async_aiohttp import UpstreamClient

__all__ = ["DOCS_ASSETS", "STACK", "create_app"]

STACK = "fastapi"
log = logging.getLogger("proxy.fastapi")


def create_app(config: ProxyConfig | None = None) -> FastAPI:
    """Build the app; without ``config`` it is read from ``PROXY_CONFIG`` (default ./config.json)."""
    core = start_core(STACK, config)
    client = UpstreamClient(core)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await client.start()
        try:
            yield
        finally:
            await client.close()

    app = FastAPI(title="SAP AI Core LLM proxy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.proxy = {"core": core, "client": client}
    # Plain Starlette routes, not FastAPI API routes: the views take the raw Request and
    # build their own Response, so FastAPI's per-request dependency solving, query
    # parsing and response validation would be pure cost (~40% of the worker's CPU per
    # request, py-spy; docs/benchmarks/overhead.md). The OpenAPI document is the shared
    # one (shared/openapi.py), so nothing reads FastAPI's route metadata.
    for endpoint in ENDPOINTS:
        app.add_route(
            endpoint.path,
            _metrics_view(core) if endpoint.handler == EXPOSITION_HANDLER else _view(core, client, endpoint),
            methods=[endpoint.method],
            name=endpoint.handler,
            include_in_schema=False,
        )

    _add_docs(app)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, exc: StarletteHTTPException) -> Response:
        return _respond(*core.unrouted(exc.status_code, req.method, req.url.path, req.headers, time.monotonic()))

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return _respond(*core.unrouted(500, req.method, req.url.path, req.headers, time.monotonic()))

    return app


DOCS_ASSETS = "/docs/assets"
"""Where ``/docs`` and ``/redoc`` load Swagger UI and Redoc from: this server, never a CDN."""


def _docs_assets_dir() -> str:
    """Swagger UI 5 and Redoc 2 as installed by the ``fastapi-offline`` package (a PyPI dependency).

    Only its ``static`` folder is used: the pages are FastAPI's own, pointed at the
    proxy's ``/openapi.json`` (``shared.openapi``), not at a FastAPI-generated document.
    """
    import fastapi_offline  # imported here: only the FastAPI stack needs it

    return os.path.join(os.path.dirname(fastapi_offline.__file__), "static")


def _add_docs(app: FastAPI) -> None:
    """``GET /docs`` (Swagger UI) and ``GET /redoc`` over ``/openapi.json``; no key, works offline.

    Plain Starlette routes, not API routes: they are no part of the proxy's API (the
    shared route table and the OpenAPI document list neither), and FastAPI's own
    ``openapi_url`` stays None so it never serves a second document.
    """
    app.mount(DOCS_ASSETS, StaticFiles(directory=_docs_assets_dir()), name="docs-assets")
    title = app.title

    async def swagger_ui(_: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    async def redoc(_: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    app.add_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_route("/redoc", redoc, methods=["GET"], include_in_schema=False)


def _view(core: ProxyCore, client: UpstreamClient, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def view(request: Request) -> Response:
        record = core.begin(endpoint, _headers(request), request.method, request.scope["path"], time.monotonic())
        answer: Reply | StreamReply | None = record.admit()
        if answer is None:
            try:
                answer = await client.run(record.job(await _read_body(request, core.body_limit), time.time()))
            except Exception:  # a bug: answer 500 here, since Starlette's handler would drop the connection
                log.exception("unhandled error on %s %s", request.method, record.path)
                answer = core.failed(record)
        return _respond(record, answer)

    view.__name__ = endpoint.handler
    return view


def _metrics_view(core: ProxyCore) -> Callable[[Request], Response]:
    """``GET /metrics``: this worker's metrics, or every worker's with ``PROMETHEUS_MULTIPROC_DIR``.

    A plain function, so Starlette runs it in its thread pool: in multiprocess mode a
    scrape reads every worker's files, which must not block the event loop.
    """

    def view(request: Request) -> Response:
        record = core.begin(None, request.headers, request.method, request.scope["path"], time.monotonic())
        return _respond(record, Reply(200, exposition(), {"content-type": CONTENT_TYPE}))

    view.__name__ = EXPOSITION_HANDLER
    return view


def _headers(request: Request) -> dict[str, str]:
    """The request's headers as a plain dict (the first of repeated ones, as Starlette's ``get``).

    The core reads a handful of them per request; Starlette's ``Headers`` finds each by a
    scan and a raised ``KeyError`` when absent, a dict by one lookup. ASGI names are lowercase.
    """
    out: dict[str, str] = {}
    for name, value in request.scope["headers"]:
        out.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return out


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, read in pieces so an oversized one is refused without holding it all (None)."""
    parts, size = [], 0
    async for data in request.stream():
        size += len(data)
        if size > limit:
            return None
        parts.append(data)
    return b"".join(parts)


def _respond(record: RequestRecord, answer: Reply | StreamReply) -> Response:
    """The Starlette response; a complete answer is recorded now, a stream when it closes."""
    if isinstance(answer, StreamReply):
        assert isinstance(answer.chunks, AsyncGenerator)
        resp: Response = StreamingResponse(_streamed(record, answer.chunks), headers=dict(answer.headers))
    else:
        record.finished(answer, time.monotonic())
        resp = Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
    resp.headers["X-Proxy-Stack"] = STACK
    resp.headers["X-Request-Id"] = record.request_id
    return resp


async def _streamed(record: RequestRecord, chunks: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """The stream as it is; closing it (the end, or the client leaving) closes the upstream at once."""
    record.stream_opened()
    try:
        async for chunk in chunks:
            yield chunk
    finally:
        try:
            await chunks.aclose()
        finally:
            record.stream_closed(time.monotonic())


__getattr__ = lazy_app(create_app, globals())
