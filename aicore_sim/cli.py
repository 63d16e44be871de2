"""Command line: parse flags, load the topology, print/write a proxy config, serve.

Serving uses uvloop when it is importable (it roughly doubles throughput) and falls
back to the standard asyncio loop otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from aicore_sim.app import Simulator
from aicore_sim.config import CONFIG_NAMES, build_config
from aicore_sim.server import Connection
from aicore_sim.state import LISTING_SPELLINGS, Settings
from aicore_sim.tls import X509_SUBACCOUNT, Authority, TlsSetup
from aicore_sim.topology import DEFAULT_TOPOLOGY, Topology, load_topology

__all__ = ["build_parser", "main", "serve"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m aicore_sim", description="SAP AI Core simulator")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8900, help="port (default 8900; 0 picks a free one)")
    p.add_argument("--ttft-ms", type=float, default=0.0, help="time to first streamed chunk")
    p.add_argument("--chunk-gap-ms", type=float, default=0.0, help="pause between streamed chunks")
    p.add_argument("--chunks", type=int, default=0, help="fixed number of text chunks per stream (0: one per word)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay of non-streaming answers")
    p.add_argument("--token-ttl", type=float, default=3600.0, help="lifetime of issued tokens in seconds")
    p.add_argument("--topology", type=Path, help="topology JSON file (shape of GET /__sim/topology)")
    p.add_argument("--x509-subaccount", action="store_true", help="add the X.509 sub-account sim-cert")
    p.add_argument("--print-config", action="store_true", help="print a proxy config.json for this simulator, exit")
    p.add_argument("--write-config", type=Path, metavar="PATH", help="write a proxy config.json, then serve")
    p.add_argument(
        "--config-names",
        choices=CONFIG_NAMES,
        default="backend",
        help="deployment_models keys: backend model names "
        "(default) or the names of the original proxies' configs (3.7-sonnet, 4-sonnet, ...)",
    )
    p.add_argument("--config-tls", action="store_true", help="the config reaches every endpoint over HTTPS")
    p.add_argument("--gzip", action="store_true", help="gzip responses when the request accepts gzip")
    p.add_argument(
        "--listing-spelling", choices=LISTING_SPELLINGS, default="both", help="backendDetails spelling in listings"
    )
    p.add_argument("--listing-page-size", type=_positive_int, help="most deployments per listing page")
    p.add_argument(
        "--listing-extras", action="store_true", help="list non-running, foreign-family and orchestration deployments"
    )
    p.add_argument("--tls-port", type=int, help="port of the HTTPS listener (0 picks a free one)")
    p.add_argument("--tls-dir", type=Path, help="directory of the test CA and certificates (reused when present)")
    p.add_argument("--journal-size", type=int, default=2000, help="request journal ring-buffer size")
    p.add_argument("--quiet", action="store_true", help="no startup message")
    return p


def _write_config(sim: Simulator, args: argparse.Namespace, port: int) -> None:
    doc = build_config(sim.topology, args.host, port, names=args.config_names, tls=args.config_tls, tls_setup=sim.tls)
    args.write_config.write_text(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


async def serve(
    sim: Simulator,
    host: str,
    port: int,
    quiet: bool = False,
    tls_port: int | None = None,
    ready: Any = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then close every connection and stop.

    With ``sim.tls`` set, a second (HTTPS) listener on ``tls_port`` serves the same API.
    ``ready(http_port)`` runs once both listeners are bound, before any request is answered.
    """
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(sim, sim.connections), host, port, backlog=4096, reuse_address=True
    )
    servers = [server]
    sim.http_port = server.sockets[0].getsockname()[1]
    if sim.tls is not None:
        context = sim.tls.authority.server_context([host])
        tls_server = await loop.create_server(
            lambda: Connection(sim, sim.connections, tls=True),
            host,
            tls_port or 0,
            ssl=context,
            backlog=1024,
            reuse_address=True,
        )
        servers.append(tls_server)
        sim.tls.port = tls_server.sockets[0].getsockname()[1]
    if ready is not None:
        ready(sim.http_port)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if not quiet:
        bound = server.sockets[0].getsockname()
        line = f"aicore_sim listening on http://{bound[0]}:{bound[1]}"
        if sim.tls is not None:
            line += f" and https://{bound[0]}:{sim.tls.port} (CA {sim.tls.authority.ca_file})"
        print(line, file=sys.stderr, flush=True)
    await stop.wait()
    for srv in servers:
        srv.close()
    for conn in list(sim.connections):
        conn.close()
    await asyncio.sleep(0.05)  # let connection_lost run and cancel in-flight streams


def _topology(args: argparse.Namespace) -> Topology:
    raw: Any = orjson.loads(args.topology.read_bytes()) if args.topology else None
    if args.x509_subaccount:
        raw = copy.deepcopy(raw if raw is not None else DEFAULT_TOPOLOGY)
        if isinstance(raw, dict) and isinstance(raw.get("subaccounts"), list):
            raw["subaccounts"].append(copy.deepcopy(X509_SUBACCOUNT))
    return load_topology(raw)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings(
        args.ttft_ms,
        args.chunk_gap_ms,
        args.chunks,
        args.latency_ms,
        args.token_ttl,
        gzip=args.gzip,
        listing_spelling=args.listing_spelling,
        listing_page_size=args.listing_page_size,
        listing_extras=args.listing_extras,
    )
    try:
        topology = _topology(args)
        sim = Simulator(topology, settings, args.journal_size)
    except (OSError, orjson.JSONDecodeError, ValueError) as exc:
        print(f"aicore_sim: {exc}", file=sys.stderr)
        return 2
    x509 = any(s.credential_type == "x509" for s in topology.subaccounts.values())
    needs_tls = args.tls_port is not None or x509 or args.config_tls
    if args.print_config and needs_tls and (args.tls_dir is None or not args.tls_port):
        print(
            "aicore_sim: --print-config with X.509 sub-accounts or --config-tls needs --tls-dir and a fixed "
            "--tls-port (so that a simulator started later with both uses the same certificates)",
            file=sys.stderr,
        )
        return 2
    scratch = None
    try:
        if needs_tls:
            directory = args.tls_dir
            if directory is None:
                directory = scratch = Path(tempfile.mkdtemp(prefix="aicore_sim-tls-"))
            sim.tls = TlsSetup(Authority(directory), topology)
        if args.print_config:
            if sim.tls is not None:
                sim.tls.port = args.tls_port
            doc = build_config(
                topology, args.host, args.port, names=args.config_names, tls=args.config_tls, tls_setup=sim.tls
            )
            print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
            return 0
        ready = (lambda port: _write_config(sim, args, port)) if args.write_config else None
        try:
            import uvloop
        except ImportError:
            asyncio.run(serve(sim, args.host, args.port, args.quiet, args.tls_port, ready))
        else:
            uvloop.run(serve(sim, args.host, args.port, args.quiet, args.tls_port, ready))
        return 0
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
