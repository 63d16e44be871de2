"""Request handling: routing, gateway checks, faults and the fast synchronous path.

The common case (no fault, no latency) is answered synchronously inside the parser
callback; anything that has to wait becomes one task per request (``delivery``), so a
load test pays for coroutines only when it asks for delays.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from aicore_sim.cache import MAX_BODY, AnswerCache, Pairs, apply
from aicore_sim.control import Control
from aicore_sim.delivery import deliver
from aicore_sim.families import HANDLERS, Call, Outcome, route
from aicore_sim.faults import LISTING_TARGET, Fault, FaultBook, default_error_body
from aicore_sim.inventory import inventory
from aicore_sim.listing import LISTING_PREFIX, list_deployments
from aicore_sim.server import LAST_CHUNK, Connection, Request, accepts_gzip, encode_chunk
from aicore_sim.state import Journal, Profile, Settings, Stats, TokenStore
from aicore_sim.tls import TlsSetup
from aicore_sim.topology import Deployment, Topology
from aicore_sim.xsuaa import credentials, issue_token

__all__ = ["Simulator"]

PREFIX = "/v2/inference/deployments/"
_UNAUTHORIZED = Outcome(401, b'{"error":{"code":"401","message":"Unauthorized"}}')
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
        b'{"message":"Malformed input request: #: expected type: JSONObject, '
        b'please reformat your input and try again."}',
    ),
    "gemini": Outcome(
        400,
        b'{"error":{"code":400,"message":"Invalid JSON payload received. Unexpected token.",'
        b'"status":"INVALID_ARGUMENT"}}',
    ),
}
_MISSING_API_VERSION = Outcome(
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


def _aicore_error(status: int, message: str) -> Outcome:
    return Outcome(status, orjson.dumps({"error": {"code": str(status), "message": message}}))


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
        self.cache = AnswerCache()
        self.connections: set[Connection] = set()
        self.started = time.time()
        self.control = Control(self)
        self.inventory = inventory(topology)  # what the deployment listing shows (ValueError if malformed)
        self.tls: TlsSetup | None = None  # the HTTPS listener's authority and X.509 credentials
        self.http_port: int | None = None  # bound port of the plain listener (set by the CLI)

    def reset(self, settings: bool = False) -> None:
        """Clear journal, counters and faults (issued tokens stay valid)."""
        self.journal.clear()
        self.stats.reset()
        self.tokens.fetches.clear()
        self.faults.clear()
        if settings:
            self.settings.restore()
            self.journal.enabled = True

    def __call__(self, req: Request, conn: Connection) -> Any:
        path = req.path
        # Any hop in front of SAP AI Core may gzip a response the client said it accepts
        # (RFC 9110 section 12.5.3); the "gzip" setting plays that hop. Off: one attribute test.
        if self.settings.gzip:
            req.gzip = not path.startswith("/__sim/") and accepts_gzip(req.headers.get("accept-encoding"))
        conn.gzip = req.gzip
        if path.startswith("/__sim/"):
            return self.control.handle(req, conn)
        self.stats.requests_total += 1
        if path.startswith(PREFIX):
            return self._deployment(req, conn)
        if path == "/oauth/token":
            fault = self.faults.match(None, False) if self.faults.active else None
            if fault is not None:
                return self._faulted(req, conn, None, "", False, fault)
            return issue_token(self, req, conn)
        if path == LISTING_PREFIX or path.startswith(LISTING_PREFIX + "/"):
            fault = self.faults.match(LISTING_TARGET, False) if self.faults.active else None
            if fault is not None:
                return self._faulted(req, conn, None, LISTING_TARGET, False, fault)
            list_deployments(self, req, conn)
            return None
        self.send(req, conn, None, _aicore_error(404, f"Not found: {path}"))
        return None

    def record(self, req: Request, dep_id: str | None, status: int | None) -> None:
        """Journal a request with the status it was answered with (None: connection dropped)."""
        if self.journal.enabled:
            self.journal.add(
                {
                    "ts": time.time(),
                    "method": req.method,
                    "path": req.path,
                    "query": req.query_string,
                    "headers": req.headers,
                    "json": req.json(),
                    "deployment": dep_id,
                    "status": status,
                    "accept_encoding": req.headers.get("accept-encoding"),
                    "content_encoding": "gzip" if req.gzip else None,
                },
                len(req.body),
            )

    def send(
        self, req: Request, conn: Connection, dep_id: str | None, out: Outcome, pairs: Pairs | None = None
    ) -> None:
        self.record(req, dep_id, out.status)
        conn.send(out.status, apply(out.body, pairs) if pairs else out.body, out.content_type, out.headers)

    def _deployment(self, req: Request, conn: Connection) -> Any:
        dep_id, _, suffix = req.path[len(PREFIX) :].partition("/")
        dep = self.topology.deployments.get(dep_id)
        if dep is None:
            self.send(req, conn, None, _aicore_error(404, f"Deployment {dep_id} not found"))
            return None
        if req.method != "POST":
            self.send(req, conn, dep.id, _aicore_error(405, f"Method {req.method} not allowed"))
            return None
        routed = route(dep, suffix)
        if routed is None:
            msg = f"Resource not found: /{suffix} is not served by deployment {dep.id} ({dep.family}, {dep.model})"
            self.send(req, conn, dep.id, _aicore_error(404, msg))
            return None
        action, stream = routed
        if stream is None:
            body = req.json()
            stream = type(body) is dict and body.get("stream") is True
        if self.faults.active:
            fault = self.faults.match(dep.id, stream)
            if fault is not None:
                return self._faulted(req, conn, dep, action, stream, fault)
        prof = self.settings.profile(dep)
        out, pairs = self._prepare(req, dep, action, stream, prof)
        if out.frames is None:
            if prof.latency_ms and out.status == 200:
                return deliver(self, req, conn, dep, out, pairs, prof, None)
            self.send(req, conn, dep.id, out, pairs)
            return None
        if prof.ttft_ms or prof.chunk_gap_ms or conn.gzip:
            return deliver(self, req, conn, dep, out, pairs, prof, None)
        self.record(req, dep.id, 200)
        self.stats.streams_started += 1
        self.stats.streams_completed += 1
        if out.encoded is None:
            out.encoded = b"".join([encode_chunk(f) for f in out.frames]) + LAST_CHUNK
        conn.start_stream(200, out.content_type, out.headers, apply(out.encoded, pairs) if pairs else out.encoded)
        return None

    def _prepare(
        self, req: Request, dep: Deployment, action: str, stream: bool, prof: Profile
    ) -> tuple[Outcome, Pairs]:
        """Gateway checks (token, tenant, resource group, content type), then the (cached) family handler."""
        headers = req.headers
        auth = headers.get("authorization", "")
        info = self.tokens.check(auth[7:].strip()) if auth[:7].lower() == "bearer " else None
        if info is None:
            return _UNAUTHORIZED, []
        sub = self.topology.subaccounts[dep.subaccount]
        if info[1] != dep.subaccount:
            msg = f"Forbidden: the access token was issued for another tenant than the one owning deployment {dep.id}"
            return _aicore_error(403, msg), []
        tenant = headers.get("ai-tenant-id")
        if tenant is not None and tenant != sub.identityzoneid:
            return _aicore_error(403, f"Forbidden: AI-Tenant-Id {tenant} does not match the token's tenant"), []
        group = headers.get("ai-resource-group", "default")
        if group != dep.resource_group:
            msg = f"Deployment {dep.id} not found in resource group '{group}' (check the AI-Resource-Group header)"
            return _aicore_error(404, msg), []
        ctype = headers.get("content-type", "")
        if ctype[:16].lower() != "application/json":
            msg = f"Unsupported Media Type: Content-Type must be application/json, got '{ctype}'"
            return _aicore_error(415, msg), []
        if dep.family == "openai" and not _has_api_version(req.query_string):
            return _MISSING_API_VERSION, []
        key = None
        if len(req.body) <= MAX_BODY:
            # The query is part of the answer for Gemini (alt=sse) and Azure (api-version decides
            # which arguments exist), so it is part of the replay-cache key there.
            query = req.query_string if dep.family in ("gemini", "openai") else ""
            key = (dep.id, action, stream, prof.chunks, query, req.body)
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        self.cache.start()
        body = req.json()
        if req.json_ok:
            out = HANDLERS[action](Call(dep, action, stream, body, req.query_string, prof.chunks))
        else:
            out = _BAD_JSON[dep.family]
        if key is not None:
            self.cache.put(key, out, len(req.body))
        return out, []

    def _revoke_for(self, req: Request) -> None:
        """``revoke_token`` fault: revoke every token of the calling client (bearer or Basic credentials)."""
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            info = self.tokens.check(auth[7:].strip())
            clientid = info[0] if info else None
        else:
            creds = credentials(req)
            clientid = creds[0] if creds else None
        if clientid is not None:
            self.tokens.revoke(clientid)

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
            self.record(req, dep_id, None)
            conn.close()
            return
        if fault.status is not None:
            family = dep.family if dep else action or "token"
            body = fault.body if fault.has_body else default_error_body(family, fault.status)
            raw, ctype = (body.encode(), b"text/plain") if isinstance(body, str) else (orjson.dumps(body), b"")
            extra = "".join(f"{k}: {v}\r\n" for k, v in fault.headers.items())
            if fault.retry_after is not None:
                value = int(fault.retry_after) if fault.retry_after == int(fault.retry_after) else fault.retry_after
                extra += f"retry-after: {value}\r\n"
            self.send(
                req, conn, dep_id, Outcome(fault.status, raw, ctype or b"application/json", headers=extra.encode())
            )
            return
        if action == LISTING_TARGET:
            list_deployments(self, req, conn)
            return
        if dep is None:
            issue_token(self, req, conn)
            return
        prof = self.settings.profile(dep)
        out, pairs = self._prepare(req, dep, action, stream, prof)
        await deliver(self, req, conn, dep, out, pairs, prof, fault)
