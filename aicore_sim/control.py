"""The ``/__sim/`` control API: health, journal, stats, settings, faults, tokens, topology.

It needs no authentication (it is test tooling) and is never journaled or counted, so
polling it does not disturb what a test asserts about proxy traffic.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from aicore_sim import __version__
from aicore_sim.config import build_config
from aicore_sim.faults import FaultBook
from aicore_sim.state import Journal, Settings, Stats, TokenStore
from aicore_sim.tls import TlsSetup
from aicore_sim.topology import Topology

if TYPE_CHECKING:
    from aicore_sim.server import Connection, Request

__all__ = ["Control", "Controlled"]


class Controlled(Protocol):
    """What the control API reads and changes in the simulator."""

    topology: Topology
    settings: Settings
    tokens: TokenStore
    journal: Journal
    stats: Stats
    faults: FaultBook
    started: float
    tls: TlsSetup | None
    http_port: int | None

    def reset(self, settings: bool = False) -> None: ...


class Control:
    """Routes ``/__sim/<name>`` requests; every answer is JSON."""

    def __init__(self, sim: Controlled) -> None:
        self.sim = sim

    def handle(self, req: Request, conn: Connection) -> None:
        try:
            status, payload = self._route(req, conn)
        except ValueError as exc:
            status, payload = 400, {"error": str(exc)}
        conn.send(status, orjson.dumps(payload))

    @staticmethod
    def _body(req: Request) -> Any:
        data = req.json()
        if req.body and not req.json_ok:
            raise ValueError("body must be JSON")
        return data

    @staticmethod
    def _int(query: dict[str, str], key: str, default: int) -> int:
        try:
            return int(query.get(key, default))
        except ValueError:
            raise ValueError(f"{key} must be an integer") from None

    def _route(self, req: Request, conn: Connection) -> tuple[int, Any]:
        sim = self.sim
        name = req.path[len("/__sim/") :].strip("/")
        method = req.method
        if name == "health":
            return 200, {"status": "ok", "version": __version__, "uptime_s": round(time.time() - sim.started, 3)}
        if name == "journal" and method == "GET":
            q = req.query
            dep = q.get("deployment") or None
            if "tail" in q:
                entries = [e for e in sim.journal.entries if dep is None or e["deployment"] == dep]
                tail = entries[-self._int(q, "tail", 10) :]
                entries = [sim.journal.public(e) for e in tail]  # the same entry shape as ?since=
                return 200, {"entries": entries, "next": tail[-1]["seq"] if tail else sim.journal.seq}
            return 200, sim.journal.query(self._int(q, "since", 0), self._int(q, "limit", 1000), dep)
        if name == "reset" and method == "POST":
            body = self._body(req) or {}
            sim.reset(settings=isinstance(body, dict) and body.get("settings") is True)
            return 200, {"ok": True}
        if name == "stats" and method == "GET":
            return 200, sim.stats.snapshot(sim.tokens)
        if name == "settings":
            if method == "POST":
                body = self._body(req)
                if not isinstance(body, dict):
                    raise ValueError("settings must be a JSON object")
                journal = sim.settings.update(body, sim.topology.deployments)
                if journal is not None:
                    sim.journal.enabled = journal
            return 200, {
                **sim.settings.snapshot(),
                "journal": sim.journal.enabled,
                "journal_size": sim.journal.entries.maxlen,
            }
        if name == "revoke-tokens" and method == "POST":
            body = self._body(req) or {}
            clientid = body.get("clientid") if isinstance(body, dict) else None
            return 200, {"revoked": sim.tokens.revoke(clientid)}
        if name == "topology" and method == "GET":
            return 200, sim.topology.raw
        if name == "config" and method == "GET":
            host, _, port = req.headers.get("host", "127.0.0.1:8900").rpartition(":")
            http_port = sim.http_port if conn.tls and sim.http_port else int(port or 80)
            q = req.query
            tls = q.get("tls", "false").lower() in ("1", "true", "yes")
            names = q.get("names", "backend")
            return 200, build_config(
                sim.topology, host.strip("[]") or "127.0.0.1", http_port, names=names, tls=tls, tls_setup=sim.tls
            )
        if name == "tls" and method == "GET":
            if sim.tls is None or not sim.tls.port:
                return 404, {"error": "no HTTPS listener (start the simulator with --tls-port)"}
            return 200, {
                "port": sim.tls.port,
                "ca_file": str(sim.tls.authority.ca_file),
                "ca_certificate": sim.tls.authority.ca_pem,
                "directory": str(sim.tls.authority.directory),
                "x509_subaccounts": sorted(sim.tls.credentials),
            }
        if name == "faults":
            if method == "POST":
                added = sim.faults.add(self._body(req), sim.topology.deployments)
                return 200, {"added": [f.describe() for f in added], "faults": sim.faults.describe()}
            if method == "DELETE":
                sim.faults.clear()
            return 200, {"faults": sim.faults.describe()}
        if name.startswith("faults/") and method == "DELETE":
            fault_id = name[len("faults/") :]
            if not fault_id.isdigit() or not sim.faults.remove(int(fault_id)):
                return 404, {"error": f"no fault {fault_id}"}
            return 200, {"faults": sim.faults.describe()}
        return 404, {"error": f"unknown control endpoint {method} /__sim/{name}"}
