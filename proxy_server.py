"""Flask stack: the proxy as a WSGI app for Gunicorn with gevent workers.

Run: ``proxyctl serve flask``, i.e. ``gunicorn -c python:shared.runtime.gunicorn_settings proxy_server:app``.
This module is an adapter only — it turns Flask requests into calls on the shared core
(``shared.core.ProxyCore``) and the core's replies into Flask responses. Behaviour
belongs in ``shared/``; see ``proxy_server_fastapi.py`` for the twin.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Generator, Iterator

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from shared.config import ProxyConfig, config_path
from shared.core import ProxyCore
from shared.errors import MethodNotAllowed, NotFound, ProxyError
from shared.exchange import Exchange
from shared.flow import Reply, StreamReply
from shared.logs import configure_access_log
from shared.metrics import CONTENT_TYPE, EXPOSITION_HANDLER, StackMetrics, StreamWatch, exposition
from shared.routes import ROUTES, Route, dialect_for
from shared.startup import lazy_app
from shared.transports.discovery_http import load_config_with_discovery
from shared.transports.sync_requests import Upstream

__all__ = ["STACK", "create_app"]

STACK = "flask"
log = logging.getLogger("proxy.flask")
access = logging.getLogger("proxy.access")


def create_app(config: ProxyConfig | None = None) -> Flask:
    """Build the app; without ``config`` it is read from ``PROXY_CONFIG`` (default ./config.json)."""
    cfg = config if config is not None else load_config_with_discovery(config_path(os.environ))
    core = ProxyCore(cfg, stack=STACK, started_at=time.time())
    metrics = StackMetrics(STACK, cfg)
    upstream = Upstream(core, metrics=metrics)
    configure_access_log(access, cfg.access_log)
    app = Flask(__name__)
    app.extensions["proxy"] = {"core": core, "upstream": upstream, "metrics": metrics}
    for route in ROUTES:
        view = _metrics_view(core) if route.handler == EXPOSITION_HANDLER else _view(core, upstream, metrics, route)
        app.add_url_rule(route.path, endpoint=route.handler, view_func=view, methods=[route.method])

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        error: ProxyError
        if exc.code == 405:
            error = MethodNotAllowed(f"method {request.method} is not allowed on {request.path}")
        elif exc.code == 404:
            error = NotFound(f"no route {request.method} {request.path}; see the README for the proxy's routes")
        else:
            error = ProxyError(exc.description or "request failed", status=exc.code or 500)
        reply = core.error_reply(error, dialect_for(request.path))
        metrics.route(request.path).series(None).counted(reply.status)
        return _to_response(reply)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        reply = core.error_reply(ProxyError("internal proxy error; see the proxy's log"), dialect_for(request.path))
        metrics.route(request.path).series(None).counted(reply.status)
        return _to_response(reply)

    return app


def _view(core: ProxyCore, upstream: Upstream, metrics: StackMetrics, route: Route) -> Callable[[], Response]:
    route_metrics = metrics.route(route.path)

    def view() -> Response:
        ex = Exchange(
            core, metrics, route_metrics, access.info, request.headers, request.method, request.path, time.monotonic()
        )
        result: Reply | StreamReply | None = core.admit(route, request.headers)
        if result is None:
            result = upstream.run(ex.job(route, request.headers, _read_body(core.body_limit), time.time()))
        resp = _to_response(result, ex.request_id)
        if isinstance(result, StreamReply):
            resp.response = _logged(result.chunks, lambda: ex.done(200, time.monotonic()), ex.stream_watch())
        else:
            ex.finished(result, time.monotonic())
        return resp

    view.__name__ = route.handler
    return view


def _metrics_view(core: ProxyCore) -> Callable[[], Response]:
    """``GET /metrics``: this worker's metrics, or every worker's with ``PROMETHEUS_MULTIPROC_DIR``."""

    def view() -> Response:
        reply = Reply(200, exposition(), {"content-type": CONTENT_TYPE})
        return _to_response(reply, core.request_id(request.headers))

    view.__name__ = EXPOSITION_HANDLER
    return view


def _read_body(limit: int) -> bytes | None:
    """The body, read in pieces so an oversized one is refused without holding it all (None)."""
    parts, size = [], 0
    while data := request.stream.read(65536):
        size += len(data)
        if size > limit:
            return None
        parts.append(data)
    return b"".join(parts)


def _to_response(result: Reply | StreamReply, request_id: str | None = None) -> Response:
    if isinstance(result, StreamReply):
        resp = Response(result.chunks, status=200, headers=dict(result.headers))
    else:
        resp = Response(result.body, status=result.status, headers=dict(result.headers))
    resp.headers["X-Proxy-Stack"] = STACK
    if request_id:
        resp.headers["X-Request-Id"] = request_id
    return resp


def _logged(chunks: Generator[bytes, None, None], done: Callable[[], None], watch: StreamWatch) -> Iterator[bytes]:
    """The stream, measured and logged when it ends (also when the client leaves: ``chunks`` is closed)."""
    watch.opened()
    try:
        for chunk in chunks:
            if watch.waiting:  # until the first event: time to first token
                watch.chunk(chunk, time.monotonic())
            yield chunk
    finally:
        try:
            chunks.close()  # closes the upstream response at once
        finally:
            watch.closed()
            done()


__getattr__ = lazy_app(create_app, globals())
