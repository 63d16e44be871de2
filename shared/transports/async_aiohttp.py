"""Async transport for the FastAPI stack: one pooled ``aiohttp.ClientSession`` per worker.

The twin of ``sync_requests`` with the same public names (drives the core's flows, records
what it measures in the request's record). aiohttp rather than httpx:
the FastAPI stack over one shared ``httpx.AsyncClient`` does about a quarter of the
requests/s it does over aiohttp (``docs/benchmarks/overhead.md``), which would make the
migration a regression. The session is opened in the app's lifespan, inside the
running loop, and shared by every request of the worker; nothing here blocks the loop.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import aiohttp

from shared.config import Timeouts
from shared.core import ProxyCore
from shared.errors import (
    ConfigError,
    ProxyError,
    TokenFetchError,
    UpstreamError,
    UpstreamTimeout,
    stream_broken,
    transport_error,
)
from shared.flows.commands import Clock, FlowRun, NeedToken, Send
from shared.netenv import Egress, NetworkEnvironment, origin_of, proxy_failure, tls_failure
from shared.record import Job, RequestRecord
from shared.replies import SSE_HEADERS, Reply, StreamReply
from shared.silence import SilenceTimer
from shared.streams import Relay
from shared.transports.tls import CertificateError, TLSContexts
from shared.wire import ACCEPT_ENCODING, ClientCert, UpstreamRequest, UpstreamResponse

__all__ = ["UpstreamClient", "pump_stream"]


class UpstreamClient:
    def __init__(
        self,
        core: ProxyCore,
        *,
        pool_size: int = 0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._core = core
        t = self._timeouts = core.config.timeouts
        self._timeout = aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=t.first_byte)
        # Streams: _send bounds the wait for the headers and the pump bounds every read
        # (first_byte/idle, with keep-alives), so aiohttp's own per-read timer would only
        # be a second timer re-armed on every chunk (~6% of the worker's CPU at 5,000 streams).
        self._stream_timeout = aiohttp.ClientTimeout(total=None, connect=t.connect, sock_read=None)
        self._token_timeout = aiohttp.ClientTimeout(total=t.connect + t.token)
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._unpooled: aiohttp.ClientSession | None = None
        self._locks = {name: asyncio.Lock() for name in core.token_caches}
        # Proxy and CA environment (shared/netenv.py), decided per origin like the sync
        # transport's; aiohttp's own ``trust_env`` is off (it re-reads the environment on
        # every request, with rules of its own). ``env`` replaces os.environ in tests.
        self._network = NetworkEnvironment.from_env(os.environ if env is None else env)
        self._contexts = TLSContexts()
        self._contexts.get(self._network.trust)  # a CA variable naming a missing file stops start-up
        self._by_origin: dict[str, _Route] = {}
        self._with_cert: dict[tuple[str, ClientCert], _Route] = {}

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"Accept-Encoding": ACCEPT_ENCODING}
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._unpooled is not None:
            await self._unpooled.close()
            self._unpooled = None

    @property
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("UpstreamClient.start() was not awaited (the app's lifespan did not run)")
        return self._session

    def _route(self, url: str) -> _Route:
        origin = origin_of(url)
        found = self._by_origin.get(origin)
        if found is None:
            found = self._by_origin[origin] = self._decide(url, None)
        return found

    def _cert_route(self, url: str, cert: ClientCert) -> _Route:
        """The route with a client certificate (token calls of X.509 keys): cached per origin and certificate."""
        key = (origin_of(url), cert)
        found = self._with_cert.get(key)
        if found is None:
            found = self._with_cert[key] = self._decide(url, cert)
        return found

    def _decide(self, url: str, cert: ClientCert | None) -> _Route:
        egress = self._network.egress(url)
        kwargs: dict[str, Any] = {"proxy": egress.proxy.url if egress.proxy is not None else None}
        if egress.trust is not None:
            kwargs["ssl"] = self._contexts.get(egress.trust, cert)
        return _Route(kwargs, pooled=egress.proxy is None or egress.trust is not None)

    def _client(self, route: _Route) -> aiohttp.ClientSession:
        if route.pooled:
            return self._http
        if self._unpooled is None:  # only ever needed for plain-HTTP origins behind a proxy
            self._unpooled = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, force_close=True),
                timeout=self._timeout,
                headers=self._http.headers,
            )
        return self._unpooled

    def _request_route(self, req: UpstreamRequest) -> _Route:
        return self._route(req.url) if req.client_cert is None else self._cert_route(req.url, req.client_cert)

    async def run(self, job: Reply | Job) -> Reply | StreamReply:
        """Drive a job's flow: each command to its handler, each failure thrown back into the flow."""
        if isinstance(job, Reply):
            return job
        run, held = FlowRun(job), _Held()
        try:
            cmd = run.start()
            while cmd is not None:
                try:
                    value = await self._handle(cmd, held, run.record)
                except ProxyError as exc:
                    cmd = run.throw(exc)
                    continue
                cmd = run.send(value)
        except BaseException:
            held.close()
            raise
        return held.answer(run.outcome, run.record, self._timeouts)

    async def _handle(self, cmd: Any, held: _Held, record: RequestRecord) -> Any:
        if isinstance(cmd, Send):
            return await self._send(cmd, held, record)
        if isinstance(cmd, NeedToken):
            return await self.get_token(cmd, record)
        if isinstance(cmd, Clock):
            return time.monotonic()
        started = time.monotonic()
        await asyncio.sleep(cmd.seconds * (1 - cmd.jitter * random.random()))
        record.waited(time.monotonic() - started)
        return None

    async def get_token(self, cmd: NeedToken, record: RequestRecord | None = None) -> str:
        cache = self._core.token_caches[cmd.sub_account.name]
        if cmd.stale is None:
            token = cache.current(time.time())
            if token is not None:
                return token
        started = time.monotonic()
        async with self._locks[cmd.sub_account.name]:
            if cmd.stale is not None:
                cache.invalidate(cmd.stale)
            token = cache.current(time.time())
            if token is not None:
                return token
            req = cache.fetch_request()
            try:
                try:
                    route = self._request_route(req)
                    async with self._client(route).post(
                        req.url,
                        headers=dict(req.headers),
                        data=req.body,  # X.509 keys: the form (grant_type, client_id); None otherwise
                        timeout=self._token_timeout,
                        **route.kwargs,
                    ) as resp:
                        status, body = resp.status, await resp.read()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    reason = _mapped(
                        exc, "it", self._network.egress(req.url), client_cert=req.client_cert is not None
                    ).message
                    raise TokenFetchError(f"could not reach the {req.label}: {reason}") from None
                except (CertificateError, ConfigError) as exc:
                    raise TokenFetchError(f"could not use the client certificate for the {req.label}: {exc}") from None
                token = cache.accept(status, body, time.time())
            except TokenFetchError:
                if record is not None:
                    record.token_fetched(cmd.sub_account.name, False, time.monotonic() - started)
                raise
            if record is not None:
                record.token_fetched(cmd.sub_account.name, True, time.monotonic() - started)
            return token

    async def _send(self, cmd: Send, held: _Held, record: RequestRecord) -> UpstreamResponse:
        req = cmd.request
        held.close()  # a new attempt: the previous answer is no longer wanted
        started = time.monotonic()
        try:
            route = self._request_route(req)
            async with asyncio.timeout(self._timeouts.first_byte):
                resp = await self._client(route).request(
                    req.method,
                    req.url,
                    headers=dict(req.headers),
                    data=req.body,
                    timeout=self._stream_timeout if req.stream else self._timeout,
                    **route.kwargs,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = _mapped(exc, req.label, self._network.egress(req.url), client_cert=req.client_cert is not None)
            record.attempt_failed(_failure_code(error), time.monotonic() - started)
            raise error from None
        except (CertificateError, ConfigError) as exc:
            record.attempt_failed("error", time.monotonic() - started)
            raise UpstreamError(f"could not use the client certificate for {req.label}: {exc}") from None
        record.attempted(str(resp.status), time.monotonic() - started, req.label)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if req.stream and resp.status == 200:
            held.hold(resp)
            return UpstreamResponse(200, headers)
        try:
            body = await resp.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _mapped(exc, req.label, self._network.egress(req.url)) from None
        finally:
            resp.release()
        return UpstreamResponse(resp.status, headers, body)


def _failure_code(error: UpstreamError) -> str:
    return "timeout" if isinstance(error, UpstreamTimeout) else "error"


class _Held:
    """The upstream response a stream will be pumped from, held while the flow decides."""

    __slots__ = ("_resp",)

    def __init__(self) -> None:
        self._resp: aiohttp.ClientResponse | None = None

    def hold(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp

    def close(self) -> None:
        if self._resp is not None:
            self._resp.close()
            self._resp = None

    def answer(self, outcome: Reply | Relay | None, record: RequestRecord, timeouts: Timeouts) -> Reply | StreamReply:
        """The flow's reply as it is, or its relay pumped from the held response."""
        if isinstance(outcome, Reply):
            self.close()
            return outcome
        assert outcome is not None and self._resp is not None, "a flow returned a relay without a stream"
        resp, self._resp = self._resp, None
        return StreamReply(SSE_HEADERS, pump_stream(resp, outcome, timeouts, record))


class _Route:
    """How to call one origin: aiohttp's keyword arguments, and whether its connections may be pooled.

    Plain-HTTP requests through a forward proxy are forwarded by the proxy itself, and
    many proxies (tinyproxy, for one) close the client connection after each answer
    without sending ``Connection: close``. aiohttp would send the next POST on that dead
    connection and fail (it retries only idempotent methods; urllib3 checks the socket
    before reuse), so those origins get a session that closes connections after use.
    """

    __slots__ = ("kwargs", "pooled")

    def __init__(self, kwargs: dict[str, Any], *, pooled: bool) -> None:
        self.kwargs = kwargs
        self.pooled = pooled


def _mapped(exc: BaseException, where: str, egress: Egress, *, client_cert: bool = False) -> UpstreamError:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return transport_error("connect_timeout", where)
    if isinstance(exc, asyncio.TimeoutError):
        return transport_error("timeout", where)
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError) and egress.proxy is not None:
        return proxy_failure(where, egress.proxy)
    if isinstance(exc, aiohttp.ClientSSLError):
        return tls_failure(where, egress.trust, client_cert=client_cert)
    if client_cert and _dropped_after_connect(exc):
        # A server refusing our certificate under TLS 1.3 does so after the handshake
        # seemed to succeed: aiohttp sees a reset, requests an SSLError. Same message.
        return tls_failure(where, egress.trust, client_cert=True)
    if isinstance(exc, aiohttp.ClientConnectionError):
        return transport_error("connect", where)
    return transport_error("other", where)


def _dropped_after_connect(exc: BaseException) -> bool:
    connected = not isinstance(exc, aiohttp.ClientConnectorError)
    return connected and isinstance(exc, aiohttp.ClientOSError | aiohttp.ServerDisconnectedError)


async def pump_stream(
    resp: aiohttp.ClientResponse, relay: Relay, timeouts: Timeouts, record: RequestRecord
) -> AsyncGenerator[bytes, None]:
    """Upstream bytes through the relay as they arrive; keep-alives while silent; closed on every exit.

    The record learns the wait for the first upstream data, the first bytes and first
    content sent, and how the stream ended — unless the client leaves first (this
    generator is closed at a ``yield``), which the adapter records.
    """
    loop = asyncio.get_running_loop()
    asked = loop.time()
    timer = SilenceTimer(timeouts, asked)
    error: ProxyError | None = None
    waiting = True  # for the first upstream data
    try:
        try:
            content = resp.content
            while True:
                try:
                    async with asyncio.timeout(timer.wait(loop.time())):
                        data = await content.readany()
                except TimeoutError:
                    keepalive = timer.silence(loop.time())  # raises UpstreamTimeout past the limit
                    record.bytes_sent(time.monotonic(), content=False)
                    yield keepalive
                    continue
                except aiohttp.ClientError as exc:
                    raise stream_broken(exc) from None
                if not data:
                    break
                now = loop.time()
                if waiting:
                    record.waited(now - asked)  # the model's time to its first data is upstream time
                    waiting = False
                timer.data(now)
                out = relay.feed(data)
                if out:
                    record.bytes_sent(time.monotonic(), content=True)
                    yield out
            tail = relay.finish()
        except ProxyError as exc:
            error, tail = exc, relay.fail(exc)
        record.bytes_sent(time.monotonic(), content=error is None)
        yield tail
        record.stream_ended(error, relay.usage)
    finally:
        resp.close()
