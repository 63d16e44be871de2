"""Request handling: the XSUAA token endpoint, deployment calls, faults and stream pacing.

The common case (no fault, no latency) is answered synchronously inside the parser
callback; anything that has to wait (latency, delays, paced streams) becomes one task
per request, so a load test pays for coroutines only when it asks for delays.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import orjson

from aicore_sim.control import Control
from aicore_sim.families import HANDLERS, Call, Outcome, route
from aicore_sim.faults import Fault, FaultBook, default_error_body
from aicore_sim.server import LAST_CHUNK, Connection, Request, encode_chunk
from aicore_sim.state import Journal, Profile, Settings, Stats, TokenStore
from aicore_sim.topology import Deployment, Topology

__all__ = ["Simulator"]

PREFIX = "/v2/inference/deployments/"
_UNAUTHORIZED = Outcome(401, b'{"error":{"code":"401","message":"Unauthorized"}}')
_SCOPE = "uaa.resource aicore!b540.deployments.inference"


def _aicore_error(status: int, message: str) -> Outcome:
    return Outcome(status, orjson.dumps({"error": {"code": str(status), "message": message}}))


_OPENAI_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library "
    "correctly. The OpenAI API expects a JSON payload.)"
)
_BAD_JSON = {
    "openai": Outcome(
        400,
        orjson.dumps(
            {"error": {"message": _OPENAI_BAD_JSON, "type": "invalid_request_error", "param": None, "code": None}}
        ),
    ),
    "claude": Outcome(
        400,
        b'{"message":"Malformed input request: #: expected type: JSONObject, please '
        b'reformat your input and try again."}',
    ),
    "gemini": Outcome(
        400,
        b'{"error":{"code":400,"message":"Invalid JSON payload received. Unexpected '
        b'token.","status":"INVALID_ARGUMENT"}}',
    ),
}


def _has_api_version(query: str) -> bool:
    # A substring test instead of parsing the query string: this runs on every OpenAI call.
    return query.startswith("api-version=") or "&api-version=" in query


class Simulator:
    """The request handler (``Handler`` for :class:`~aicore_sim.server.Connection`) and its state."""

    def __init__(self, topology: Topology, settings: Settings, journal_size: int = 2000) -> None:
        self.topology = topology
        self.settings = settings
        self.tokens = TokenStore()
        self.journal = Journal(journal_size)
        self.stats = Stats()
        self.faults = FaultBook()
        self.connections: set[Connection] = set()
        self.started = time.time()
        self.control = Control(self)

    def reset(self, settings: bool = False) -> None:
        """Clear journal, counters and faults (issued tokens stay valid)."""
        self.journal.clear()
        self.stats.reset()
        self.tokens.fetches.clear()
        self.faults.clear()
        if settings:
            self.settings.restore()
            self.journal.enabled = True

    # -- entry point --------------------------------------------------------------------
    def __call__(self, req: Request, conn: Connection) -> Any:
        path = req.path
        if path.startswith("/__sim/"):
            return self.control.handle(req, conn)
        self.stats.requests_total += 1
        if path.startswith(PREFIX):
            return self._deployment(req, conn)
        if path == "/oauth/token":
            fault = self.faults.match(None, False) if self.faults.active else None
            if fault is not None:
                return self._faulted(req, conn, None, "", False, fault)
            return self._token(req, conn)
        self._send(req, conn, None, _aicore_error(404, f"Not found: {path}"))
        return None

    def _record(self, req: Request, dep_id: str | None, status: int | None) -> None:
        if self.journal.enabled:
            self.journal.add(
                {
                    "ts": time.time(),
                    "method": req.method,
                    "path": req.path,
                    "query": req.query,
                    "headers": req.headers,
                    "json": req.json(),
                    "deployment": dep_id,
                    "status": status,
                }
            )

    def _send(self, req: Request, conn: Connection, dep_id: str | None, out: Outcome) -> None:
        self._record(req, dep_id, out.status)
        conn.send(out.status, out.body, out.content_type, out.headers)

    # -- XSUAA ----------------------------------------------------------------------------
    def _credentials(self, req: Request) -> tuple[str, str] | None:
        auth = req.headers.get("authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                user, sep, secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return None
            return (user, secret) if sep else None
        form = dict(parse_qsl(req.body.decode("latin-1"))) if req.body else {}
        if "client_id" in form:
            return form["client_id"], form.get("client_secret", "")
        return None

    def _token(self, req: Request, conn: Connection) -> None:
        if req.method != "POST":
            self._send(req, conn, None, Outcome(405, b'{"error":"method_not_allowed"}'))
            return
        creds = self._credentials(req)
        sub = None
        if creds is not None:
            sub = self.topology.by_clientid.get(creds[0])
            if sub is None:  # RFC 6749 asks clients to form-encode id and secret before Basic.
                creds = (unquote_plus(creds[0]), unquote_plus(creds[1]))
                sub = self.topology.by_clientid.get(creds[0])
        if sub is None or creds is None or sub.clientsecret != creds[1]:
            self._send(req, conn, None, Outcome(401, b'{"error":"unauthorized","error_description":"Bad credentials"}'))
            return
        grant = req.query.get("grant_type")
        if grant is None and req.body:
            grant = dict(parse_qsl(req.body.decode("latin-1"))).get("grant_type")
        if grant != "client_credentials":
            error = "invalid_request" if grant is None else "unsupported_grant_type"
            desc = "Missing grant type" if grant is None else f"Unsupported grant type: {grant}"
            self._send(req, conn, None, Outcome(400, orjson.dumps({"error": error, "error_description": desc})))
            return
        ttl = self.settings.token_ttl
        token, jti = self.tokens.issue(sub.clientid, sub.name, ttl)
        payload = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": max(1, round(ttl)),
            "scope": _SCOPE,
            "jti": jti,
        }
        self._send(req, conn, None, Outcome(200, orjson.dumps(payload)))

    # -- deployments ------------------------------------------------------------------------
    def _deployment(self, req: Request, conn: Connection) -> Any:
        dep_id, _, suffix = req.path[len(PREFIX) :].partition("/")
        dep = self.topology.deployments.get(dep_id)
        if dep is None:
            self._send(req, conn, None, _aicore_error(404, f"Deployment {dep_id} not found"))
            return None
        if req.method != "POST":
            self._send(req, conn, dep.id, _aicore_error(405, f"Method {req.method} not allowed"))
            return None
        routed = route(dep, suffix)
        if routed is None:
            msg = f"Resource not found: /{suffix} is not served by deployment {dep.id} ({dep.family}, {dep.model})"
            self._send(req, conn, dep.id, _aicore_error(404, msg))
            return None
        action, stream = routed
        if stream is None:
            body = req.json()
            stream = isinstance(body, dict) and body.get("stream") is True
        if self.faults.active:
            fault = self.faults.match(dep.id, stream)
            if fault is not None:
                return self._faulted(req, conn, dep, action, stream, fault)
        prof = self.settings.profile(dep)
        out = self._prepare(req, dep, action, stream, prof)
        if out.frames is None:
            if prof.latency_ms and out.status == 200:
                return self._deliver(req, conn, dep, out, prof, None)
            self._send(req, conn, dep.id, out)
            return None
        if prof.ttft_ms or prof.chunk_gap_ms:
            return self._deliver(req, conn, dep, out, prof, None)
        self._record(req, dep.id, 200)
        self.stats.streams_started += 1
        self.stats.streams_completed += 1
        data = b"".join([encode_chunk(f) for f in out.frames]) + LAST_CHUNK
        conn.start_stream(200, out.content_type, out.headers, data)
        return None

    def _prepare(self, req: Request, dep: Deployment, action: str, stream: bool, prof: Profile) -> Outcome:
        """Gateway checks (token, tenant, resource group, content type), then the family handler."""
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() != "bearer ":
            return _UNAUTHORIZED
        info = self.tokens.check(auth[7:].strip())
        if info is None:
            return _UNAUTHORIZED
        sub = self.topology.subaccounts[dep.subaccount]
        if info[1] != dep.subaccount:
            return _aicore_error(
                403,
                f"Forbidden: the access token was issued for another tenant than the one owning deployment {dep.id}",
            )
        tenant = req.headers.get("ai-tenant-id")
        if tenant is not None and tenant != sub.identityzoneid:
            return _aicore_error(403, f"Forbidden: AI-Tenant-Id {tenant} does not match the token's tenant")
        group = req.headers.get("ai-resource-group", "default")
        if group != dep.resource_group:
            return _aicore_error(
                404, f"Deployment {dep.id} not found in resource group '{group}' (check the AI-Resource-Group header)"
            )
        ctype = req.headers.get("content-type", "")
        if not ctype[:16].lower() == "application/json":
            return _aicore_error(415, f"Unsupported Media Type: Content-Type must be application/json, got '{ctype}'")
        if dep.family == "openai" and not _has_api_version(req.query_string):
            return Outcome(
                400,
                orjson.dumps(
                    {
                        "error": {
                            "message": "Missing required query parameter: api-version",
                            "type": "invalid_request_error",
                            "param": "api-version",
                            "code": "missing_required_parameter",
                        }
                    }
                ),
            )
        body = req.json()
        if not req.json_ok:
            return _BAD_JSON[dep.family]
        return HANDLERS[action](Call(dep, action, stream, body, req.query_string, prof.chunks))

    # -- slow paths ----------------------------------------------------------------------------
    def _revoke_for(self, req: Request) -> None:
        auth = req.headers.get("authorization", "")
        info = self.tokens.check(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        creds = self._credentials(req) if info is None else None
        self.tokens.revoke(info[0] if info else (creds[0] if creds else None))

    async def _faulted(
        self, req: Request, conn: Connection, dep: Deployment | None, action: str, stream: bool, fault: Fault
    ) -> None:
        dep_id = dep.id if dep else None
        if fault.revoke_token:
            self._revoke_for(req)
        if fault.delay_headers_ms:
            await asyncio.sleep(fault.delay_headers_ms / 1000)
            if conn.closed:
                return
        if fault.drop_connection:
            self._record(req, dep_id, None)
            conn.close()
            return
        if fault.status is not None:
            body = fault.body if fault.has_body else default_error_body(dep.family if dep else "token", fault.status)
            raw, ctype = (body.encode(), b"text/plain") if isinstance(body, str) else (orjson.dumps(body), b"")
            extra = "".join(f"{k}: {v}\r\n" for k, v in fault.headers.items())
            if fault.retry_after is not None:
                value = int(fault.retry_after) if fault.retry_after == int(fault.retry_after) else fault.retry_after
                extra += f"retry-after: {value}\r\n"
            self._send(req, conn, dep_id, Outcome(fault.status, raw, ctype or b"application/json", extra.encode()))
            return
        if dep is None:
            self._token(req, conn)
            return
        prof = self.settings.profile(dep)
        out = self._prepare(req, dep, action, stream, prof)
        await self._deliver(req, conn, dep, out, prof, fault)

    async def _deliver(
        self, req: Request, conn: Connection, dep: Deployment, out: Outcome, prof: Profile, fault: Fault | None
    ) -> None:
        if out.frames is None:
            if prof.latency_ms and out.status == 200:
                await asyncio.sleep(prof.latency_ms / 1000)
                if conn.closed:
                    return
            first = fault.delay_first_chunk_ms if fault else 0.0
            self._record(req, dep.id, out.status)
            if first:
                conn.send_head(out.status, len(out.body), out.content_type, out.headers)
                await asyncio.sleep(first / 1000)
                conn.write(out.body)
            else:
                conn.send(out.status, out.body, out.content_type, out.headers)
            return
        await self._stream(req, conn, dep, out, prof, fault)

    async def _stream(
        self, req: Request, conn: Connection, dep: Deployment, out: Outcome, prof: Profile, fault: Fault | None
    ) -> None:
        frames, paced = out.frames or [], out.paced or []
        stats = self.stats
        self._record(req, dep.id, 200)
        conn.start_stream(200, out.content_type, out.headers)
        stats.open_streams += 1
        stats.streams_started += 1
        cut = fault.cut_after_chunks if fault else None
        bad_at = fault.malformed_after_chunks if fault else None
        gap = prof.chunk_gap_ms / 1000
        result = "aborted"
        try:
            delay = prof.ttft_ms + (fault.delay_first_chunk_ms if fault else 0.0)
            if delay:
                await asyncio.sleep(delay / 1000)
            buf: list[bytes] = []
            seen_content = False
            for n, frame in enumerate(frames):
                if conn.closed:
                    return
                if n == cut:
                    break
                if n == bad_at:
                    buf.append(encode_chunk(out.garbage))
                    if fault is not None and fault.malformed_then == "stop":
                        break
                if paced[n] and seen_content and gap:
                    conn.write(b"".join(buf))
                    buf.clear()
                    await conn.drain()
                    await asyncio.sleep(gap)
                    if conn.closed:
                        return
                seen_content = seen_content or paced[n]
                buf.append(encode_chunk(frame))
            if cut is not None and cut <= len(frames):
                conn.write(b"".join(buf))
                conn.close()
                result = "cut"
                return
            buf.append(LAST_CHUNK)
            conn.write(b"".join(buf))
            result = "completed" if not conn.closed else "aborted"
        except asyncio.CancelledError:
            result = "aborted"
        finally:
            stats.open_streams -= 1
            if result == "completed":
                stats.streams_completed += 1
            elif result == "cut":
                stats.streams_cut_by_fault += 1
            else:
                stats.streams_aborted_by_client += 1
