"""Sync transport for the Flask stack: one pooled ``requests.Session`` per worker.

Drives the core's flows (``shared/flows/commands.py``): fetches tokens under one lock
per sub-account (gevent patches ``threading`` into greenlet locks, so a cold burst
waits on one fetch), makes upstream calls, throws transport failures into the flow,
and pumps streams through the flow's relay, closing the upstream response whatever
happens — including the client going away, which closes this generator. What it
measures (time spent waiting on SAP AI Core, the first bytes sent) goes into the
request's record. The twin of ``async_aiohttp``, with the same public names.
"""

from __future__ import annotations

import os
import queue
import random
import ssl
import threading
import time
from collections.abc import Generator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ProtocolError

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

READ_SIZE = 65536


class UpstreamClient:
    def __init__(
        self,
        core: ProxyCore,
        *,
        pool_size: int = 512,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._core = core
        t = self._timeouts = core.config.timeouts
        self._timeout = (t.connect, t.first_byte)
        # Streams: the pump enforces first_byte/idle itself (with keep-alives); this is only a backstop.
        self._stream_timeout = (t.connect, max(t.first_byte, t.idle))
        self._token_timeout = (t.connect, t.token)
        # Proxy and CA environment (shared/netenv.py); ``env`` replaces os.environ in tests.
        network = NetworkEnvironment.from_env(os.environ if env is None else env)
        self._session = _PooledSession(pool_size, network, TLSContexts())
        self._locks = {name: threading.Lock() for name in core.token_caches}

    def start(self) -> None:
        """Nothing to open ahead of time; present so both transports have the same surface."""

    def close(self) -> None:
        self._session.close()

    def run(self, job: Reply | Job) -> Reply | StreamReply:
        """Drive a job's flow: each command to its handler, each failure thrown back into the flow."""
        if isinstance(job, Reply):
            return job
        run, held = FlowRun(job), _Held()
        try:
            cmd = run.start()
            while cmd is not None:
                try:
                    value = self._handle(cmd, held, run.record)
                except ProxyError as exc:
                    cmd = run.throw(exc)
                    continue
                cmd = run.send(value)
        except BaseException:
            held.close()
            raise
        return held.answer(run.outcome, run.record, self._timeouts)

    def _handle(self, cmd: Any, held: _Held, record: RequestRecord) -> Any:
        if isinstance(cmd, Send):
            return self._send(cmd, held, record)
        if isinstance(cmd, NeedToken):
            return self.get_token(cmd, record)
        if isinstance(cmd, Clock):
            return time.monotonic()
        started = time.monotonic()
        time.sleep(cmd.seconds * (1 - cmd.jitter * random.random()))
        record.waited(time.monotonic() - started)
        return None

    def get_token(self, cmd: NeedToken, record: RequestRecord | None = None) -> str:
        cache = self._core.token_caches[cmd.sub_account.name]
        if cmd.stale is None:
            token = cache.current(time.time())
            if token is not None:
                return token
        started = time.monotonic()
        with self._locks[cmd.sub_account.name]:
            if cmd.stale is not None:
                cache.invalidate(cmd.stale)
            token = cache.current(time.time())
            if token is not None:
                return token
            req = cache.fetch_request()
            try:
                try:
                    resp = self._session.request(req, self._token_timeout)
                    body = resp.content
                except requests.RequestException as exc:
                    reason = _mapped(
                        exc, "it", self._session.egress(req.url), client_cert=req.client_cert is not None
                    ).message
                    raise TokenFetchError(f"could not reach the {req.label}: {reason}") from None
                except (CertificateError, ConfigError) as exc:
                    raise TokenFetchError(f"could not use the client certificate for the {req.label}: {exc}") from None
                token = cache.accept(resp.status_code, body, time.time())
            except TokenFetchError:
                if record is not None:
                    record.token_fetched(cmd.sub_account.name, False, time.monotonic() - started)
                raise
            if record is not None:
                record.token_fetched(cmd.sub_account.name, True, time.monotonic() - started)
            return token

    def _send(self, cmd: Send, held: _Held, record: RequestRecord) -> UpstreamResponse:
        req = cmd.request
        held.close()  # a new attempt: the previous answer is no longer wanted
        started = time.monotonic()
        try:
            resp = self._session.request(req, self._stream_timeout if req.stream else self._timeout)
        except requests.RequestException as exc:
            error = _mapped(exc, req.label, self._session.egress(req.url), client_cert=req.client_cert is not None)
            record.attempt_failed(_failure_code(error), time.monotonic() - started)
            raise error from None
        except (CertificateError, ConfigError) as exc:
            record.attempt_failed("error", time.monotonic() - started)
            raise UpstreamError(f"could not use the client certificate for {req.label}: {exc}") from None
        record.attempted(str(resp.status_code), time.monotonic() - started, req.label)
        headers = {k.lower(): v for k, v in resp.headers.items()}
        if req.stream and resp.status_code == 200:
            held.hold(resp)
            return UpstreamResponse(200, headers)
        try:
            body = resp.content
        except requests.RequestException as exc:
            raise _mapped(exc, req.label, self._session.egress(req.url)) from None
        finally:
            resp.close()
        return UpstreamResponse(resp.status_code, headers, body)


def _failure_code(error: UpstreamError) -> str:
    return "timeout" if isinstance(error, UpstreamTimeout) else "error"


class _Held:
    """The upstream response a stream will be pumped from, held while the flow decides."""

    __slots__ = ("_resp",)

    def __init__(self) -> None:
        self._resp: requests.Response | None = None

    def hold(self, resp: requests.Response) -> None:
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


class _TLSAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that accepts a ready ``ssl.SSLContext`` as ``verify``.

    The context (from :class:`~shared.transports.tls.TLSContexts`) carries the trusted CAs
    and any client certificate, so every pool of one trust shares it; with a path as
    ``verify`` requests would make urllib3 load the CA file into a fresh context on every
    new connection, and a client certificate would have to live in a file.
    """

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if isinstance(verify, ssl.SSLContext):
            host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
            return host_params, {"cert_reqs": "CERT_REQUIRED", "ssl_context": verify}
        return super().build_connection_pool_key_attributes(request, verify, cert)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        if not isinstance(verify, ssl.SSLContext):  # the context already holds CAs and certificate
            super().cert_verify(conn, url, verify, cert)


class _PooledSession:
    """One ``requests.Session`` whose proxy and TLS settings are decided once per origin.

    requests' own ``trust_env`` re-reads the proxy variables, ``no_proxy`` and ``~/.netrc``
    on every request (about a tenth of the Flask worker's CPU, docs/load-testing.md) and
    follows rules of its own; here ``trust_env`` is off and the session is handed, per
    ``scheme://host:port``, the decision of :class:`~shared.netenv.NetworkEnvironment` —
    the same one the FastAPI transport and discovery use. ``~/.netrc`` is not consulted:
    every upstream call carries its own Authorization header.
    """

    __slots__ = ("_session", "_network", "_contexts", "_by_origin", "_with_cert")

    def __init__(self, pool_size: int, network: NetworkEnvironment, contexts: TLSContexts) -> None:
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers["Accept-Encoding"] = ACCEPT_ENCODING
        adapter = _TLSAdapter(pool_connections=32, pool_maxsize=pool_size, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._network = network
        self._contexts = contexts
        contexts.get(network.trust)  # a CA variable naming a missing file stops start-up
        self._by_origin: dict[str, dict[str, Any]] = {}
        self._with_cert: dict[tuple[str, ClientCert], dict[str, Any]] = {}

    def egress(self, url: str) -> Egress:
        return self._network.egress(url)

    def _settings(self, url: str) -> dict[str, Any]:
        origin = origin_of(url)
        found = self._by_origin.get(origin)
        if found is None:
            found = self._by_origin[origin] = self._decide(url, None)
        return found

    def _decide(self, url: str, cert: ClientCert | None) -> dict[str, Any]:
        egress = self._network.egress(url)
        scheme = url.partition(":")[0].lower()
        proxies = {scheme: egress.proxy.url} if egress.proxy is not None else {}
        verify: Any = self._contexts.get(egress.trust, cert) if egress.trust is not None else True
        return {"proxies": proxies, "verify": verify}

    def _cert_settings(self, url: str, cert: ClientCert) -> dict[str, Any]:
        """Settings with a client certificate (token calls of X.509 keys): cached per origin and certificate."""
        key = (origin_of(url), cert)
        found = self._with_cert.get(key)
        if found is None:
            found = self._with_cert[key] = self._decide(url, cert)
        return found

    def request(self, req: UpstreamRequest, timeout: tuple[float, float]) -> requests.Response:
        settings = self._settings(req.url) if req.client_cert is None else self._cert_settings(req.url, req.client_cert)
        return self._session.request(
            req.method,
            req.url,
            headers=dict(req.headers),
            data=req.body,
            stream=req.stream,
            timeout=timeout,
            **settings,
        )

    def close(self) -> None:
        self._session.close()


def _mapped(exc: BaseException, where: str, egress: Egress, *, client_cert: bool = False) -> UpstreamError:
    if isinstance(exc, requests.ConnectTimeout):
        return transport_error("connect_timeout", where)
    if isinstance(exc, requests.Timeout):
        return transport_error("timeout", where)
    if isinstance(exc, requests.exceptions.ProxyError) and egress.proxy is not None:
        return proxy_failure(where, egress.proxy)
    if isinstance(exc, requests.exceptions.SSLError):
        return tls_failure(where, egress.trust, client_cert=client_cert)
    if client_cert and _dropped_after_connect(exc):
        # Under TLS 1.3 a server refuses our certificate after the handshake seemed to
        # succeed; urllib3 then often sees the connection reset while sending the request,
        # not the TLS alert. Same message as an SSLError, and as the FastAPI transport's.
        return tls_failure(where, egress.trust, client_cert=True)
    if isinstance(exc, requests.ConnectionError):
        return transport_error("connect", where)
    return transport_error("other", where)


def _dropped_after_connect(exc: BaseException) -> bool:
    """A connection that was open and then reset or closed by the server (not refused, not unreachable)."""
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ConnectTimeout):
        return False
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ProtocolError)  # urllib3's "Connection aborted." (a reset or an early close)


def pump_stream(
    resp: requests.Response, relay: Relay, timeouts: Timeouts, record: RequestRecord
) -> Generator[bytes, None, None]:
    """Upstream bytes through the relay as they arrive; keep-alives while silent; closed on every exit.

    A reader thread (a greenlet under gevent) does the blocking reads into a queue, so
    this generator can notice silence and write keep-alives without interrupting a read.
    The record learns the wait for the first upstream data, the first bytes and first
    content sent, and how the stream ended — unless the client leaves first (this
    generator is closed at a ``yield``), which the adapter records.
    """
    chunks: queue.SimpleQueue[bytes | BaseException] = queue.SimpleQueue()
    threading.Thread(target=_read_into, args=(resp, chunks), daemon=True).start()
    asked = time.monotonic()
    timer = SilenceTimer(timeouts, asked)
    error: ProxyError | None = None
    waiting = True  # for the first upstream data
    try:
        try:
            while True:
                try:
                    item = chunks.get(timeout=timer.wait(time.monotonic()))
                except queue.Empty:
                    keepalive = timer.silence(time.monotonic())  # raises UpstreamTimeout past the limit
                    record.bytes_sent(time.monotonic(), content=False)
                    yield keepalive
                    continue
                if isinstance(item, BaseException):
                    raise stream_broken(item)
                if not item:
                    break
                now = time.monotonic()
                if waiting:
                    record.waited(now - asked)  # the model's time to its first data is upstream time
                    waiting = False
                timer.data(now)
                out = relay.feed(item)
                if out:
                    record.bytes_sent(now, content=True)
                    yield out
            tail = relay.finish()
        except ProxyError as exc:
            error, tail = exc, relay.fail(exc)
        record.bytes_sent(time.monotonic(), content=error is None)
        yield tail
        record.stream_ended(error, relay.usage)
    finally:
        resp.close()  # also ends the reader: its next read fails


def _read_into(resp: requests.Response, chunks: queue.SimpleQueue[bytes | BaseException]) -> None:
    raw = resp.raw
    # A compressed stream (we asked for ACCEPT_ENCODING) is inflated by urllib3 as it
    # arrives; an identity one is read exactly as before, with no decoder in the way.
    decode = resp.headers.get("content-encoding", "identity").strip().lower() != "identity"
    try:
        while True:
            data = raw.read1(READ_SIZE, decode_content=decode)  # returns as soon as any bytes arrive
            chunks.put(data)
            if not data:
                return
    except BaseException as exc:  # connection cut, timeout, or closed by the consumer
        chunks.put(exc)
