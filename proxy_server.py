"""Flask stack: the proxy as a WSGI app for Gunicorn with gevent workers.

Run: ``proxyctl serve flask`` (or ``gunicorn -c python:shared.runtime.gunicorn_settings
proxy_server:app``). This module is an adapter only: each view begins the request's
record, admits or runs it through the sync transport, and turns the answer into a Flask
response. Behaviour belongs in ``shared/``; ``proxy_server_fastapi.py`` is the twin.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import cast

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from shared.config import ProxyConfig
from shared.core import ProxyCore
from shared.endpoints import ENDPOINTS, Endpoint
from shared.record import RequestRecord
from shared.replies import Reply, StreamReply
from shared.runtime.metrics import CONTENT_TYPE, EXPOSITION_HANDLER, exposition
from shared.runtime.startup import lazy_app, start_core
from shared.transports.sync_requests import UpstreamClient

__all__ = ["STACK", "create_app"]

STACK = "flask"
log = logging.getLogger("proxy.flask")


def create_app(config: ProxyConfig | None = None) -> Flask:
    """Build the app; without ``config`` it is read from ``PROXY_CONFIG`` (default ./config.json)."""
    core = start_core(STACK, config)
    client = UpstreamClient(core)
    app = Flask(__name__)
    app.extensions["proxy"] = {"core": core, "client": client}
    for endpoint in ENDPOINTS:
        view = _metrics_view(core) if endpoint.handler == EXPOSITION_HANDLER else _view(core, client, endpoint)
        app.add_url_rule(endpoint.path, endpoint=endpoint.handler, view_func=view, methods=[endpoint.method])

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        return _respond(*core.unrouted(exc.code or 500, request.method, request.path, _headers(), time.monotonic()))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        record: RequestRecord | None = g.get("record")  # the view's, when it had begun one
        if record is None:
            return _respond(*core.unrouted(500, request.method, request.path, _headers(), time.monotonic()))
        return _respond(record, core.failed(record))

    return app


def _headers() -> Mapping[str, str]:
    """The request's headers for the core: werkzeug's reads like a case-insensitive mapping
    (``get``, ``in``) without declaring it, so this is a cast, not a copy."""
    return cast("Mapping[str, str]", request.headers)


def _view(core: ProxyCore, client: UpstreamClient, endpoint: Endpoint) -> Callable[[], Response]:
    def view() -> Response:
        record = g.record = core.begin(endpoint, _headers(), request.method, request.path, time.monotonic())
        answer = record.admit() or client.run(record.job(_read_body(core.body_limit), time.time()))
        return _respond(record, answer)

    view.__name__ = endpoint.handler
    return view


def _metrics_view(core: ProxyCore) -> Callable[[], Response]:
    """``GET /metrics``: this worker's metrics, or every worker's with ``PROMETHEUS_MULTIPROC_DIR``."""

    def view() -> Response:
        record = core.begin(None, _headers(), request.method, request.path, time.monotonic())
        return _respond(record, Reply(200, exposition(), {"content-type": CONTENT_TYPE}))

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


def _respond(record: RequestRecord, answer: Reply | StreamReply) -> Response:
    """The Flask response; a complete answer is recorded now, a stream when it closes."""
    if isinstance(answer, StreamReply):
        assert isinstance(answer.chunks, Generator)
        resp = Response(_streamed(record, answer.chunks), status=200, headers=dict(answer.headers))
    else:
        record.finished(answer, time.monotonic())
        resp = Response(answer.body, status=answer.status, headers=dict(answer.headers))
    resp.headers["X-Proxy-Stack"] = STACK
    resp.headers["X-Request-Id"] = record.request_id
    return resp


def _streamed(record: RequestRecord, chunks: Generator[bytes, None, None]) -> Iterator[bytes]:
    """The stream as it is; closing it (the end, or the client leaving) closes the upstream at once."""
    record.stream_opened()
    try:
        yield from chunks
    finally:
        try:
            chunks.close()
        finally:
            record.stream_closed(time.monotonic())


__getattr__ = lazy_app(create_app, globals())
