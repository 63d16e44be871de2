"""FastAPI stack: the proxy as an ASGI app for uvicorn (uvloop + httptools).

Run: ``proxyctl serve fastapi`` (uvicorn; ``--server gunicorn`` for uvicorn workers). An adapter only —
the twin of ``proxy_server.py`` over the same core and route table, with the async
transport (one aiohttp session per worker, opened in the lifespan).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.config import ProxyConfig, config_path
from shared.core import ProxyCore
from shared.errors import MethodNotAllowed, NotFound, ProxyError
from shared.exchange import Exchange
from shared.flow import Reply, StreamReply
from shared.logs import configure_access_log
from shared.metrics import CONTENT_TYPE, EXPOSITION_HANDLER, StackMetrics, StreamWatch, exposition
from shared.routes import ROUTES, Route, dialect_for
from shared.startup import lazy_app
from shared.transports.async_aiohttp import Upstream
from shared.transports.discovery_http import load_config_with_discovery

__all__ = ["DOCS_ASSETS", "STACK", "create_app"]

STACK = "fastapi"
log = logging.getLogger("proxy.fastapi")
access = logging.getLogger("proxy.access")


def create_app(config: ProxyConfig | None = None) -> FastAPI:
    """Build the app; without ``config`` it is read from ``PROXY_CONFIG`` (default ./config.json)."""
    cfg = config if config is not None else load_config_with_discovery(config_path(os.environ))
    core = ProxyCore(cfg, stack=STACK, started_at=time.time())
    metrics = StackMetrics(STACK, cfg)
    upstream = Upstream(core, metrics=metrics)
    configure_access_log(access, cfg.access_log)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await upstream.start()
        try:
            yield
        finally:
            await upstream.close()

    app = FastAPI(title="SAP AI Core LLM proxy", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.proxy = {"core": core, "upstream": upstream, "metrics": metrics}
    # Plain Starlette routes, not FastAPI API routes: the views take the raw Request and
    # build their own Response, so FastAPI's per-request dependency solving, query
    # parsing and response validation would be pure cost (~40% of the worker's CPU per
    # request, py-spy; docs/benchmarks/overhead.md). The OpenAPI document is the shared
    # one (shared/openapi.py), so nothing reads FastAPI's route metadata.
    for route in ROUTES:
        app.add_route(
            route.path,
            _metrics_view(core) if route.handler == EXPOSITION_HANDLER else _view(core, upstream, metrics, route),
            methods=[route.method],
            name=route.handler,
            include_in_schema=False,
        )

    _add_docs(app)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(req: Request, exc: StarletteHTTPException) -> Response:
        error: ProxyError
        if exc.status_code == 405:
            error = MethodNotAllowed(f"method {req.method} is not allowed on {req.url.path}")
        elif exc.status_code == 404:
            error = NotFound(f"no route {req.method} {req.url.path}; see the README for the proxy's routes")
        else:
            error = ProxyError(str(exc.detail), status=exc.status_code)
        reply = core.error_reply(error, dialect_for(req.url.path))
        metrics.route(req.url.path).series(None).counted(reply.status)
        return _to_response(reply)

    @app.exception_handler(Exception)
    async def _unexpected(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        reply = core.error_reply(ProxyError("internal proxy error; see the proxy's log"), dialect_for(req.url.path))
        metrics.route(req.url.path).series(None).counted(reply.status)
        return _to_response(reply)

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


def _view(
    core: ProxyCore, upstream: Upstream, metrics: StackMetrics, route: Route
) -> Callable[[Request], Awaitable[Response]]:
    route_metrics = metrics.route(route.path)

    async def view(request: Request) -> Response:
        path = request.scope["path"]
        ex = Exchange(
            core, metrics, route_metrics, access.info, request.headers, request.method, path, time.monotonic()
        )
        result: Reply | StreamReply | None = core.admit(route, request.headers)
        if result is None:
            body = await _read_body(request, core.body_limit)
            try:
                result = await upstream.run(ex.job(route, request.headers, body, time.time()))
            except Exception:  # a bug: answer 500 here, since Starlette's handler would drop the connection
                log.exception("unhandled error on %s %s", request.method, path)
                result = core.error_reply(ProxyError("internal proxy error; see the proxy's log"), route.dialect)
        if isinstance(result, StreamReply):
            done = lambda: ex.done(200, time.monotonic())  # noqa: E731
            result = StreamReply(result.headers, _logged(result.chunks, done, ex.stream_watch()))
        else:
            ex.finished(result, time.monotonic())
        return _to_response(result, ex.request_id)

    view.__name__ = route.handler
    return view


def _metrics_view(core: ProxyCore) -> Callable[[Request], Response]:
    """``GET /metrics``: this worker's metrics, or every worker's with ``PROMETHEUS_MULTIPROC_DIR``.

    A plain function, so Starlette runs it in its thread pool: in multiprocess mode a
    scrape reads every worker's files, which must not block the event loop.
    """

    def view(request: Request) -> Response:
        reply = Reply(200, exposition(), {"content-type": CONTENT_TYPE})
        return _to_response(reply, core.request_id(request.headers))

    view.__name__ = EXPOSITION_HANDLER
    return view


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The body, read in pieces so an oversized one is refused without holding it all (None)."""
    parts, size = [], 0
    async for data in request.stream():
        size += len(data)
        if size > limit:
            return None
        parts.append(data)
    return b"".join(parts)


def _to_response(result: Reply | StreamReply, request_id: str | None = None) -> Response:
    if isinstance(result, StreamReply):
        resp: Response = StreamingResponse(result.chunks, status_code=200, headers=dict(result.headers))
    else:
        resp = Response(result.body, status_code=result.status, headers=dict(result.headers))
    resp.headers["X-Proxy-Stack"] = STACK
    if request_id:
        resp.headers["X-Request-Id"] = request_id
    return resp


async def _logged(chunks: AsyncIterator[bytes], done: Callable[[], None], watch: StreamWatch) -> AsyncIterator[bytes]:
    """The stream, measured and logged when it ends; closing ``chunks`` explicitly closes the upstream at once."""
    watch.opened()
    try:
        async for chunk in chunks:
            if watch.waiting:  # until the first event: time to first token
                watch.chunk(chunk, time.monotonic())
            yield chunk
    finally:
        try:
            await chunks.aclose()  # type: ignore[attr-defined]
        finally:
            watch.closed()
            done()


__getattr__ = lazy_app(create_app, globals())
