"""Command line: parse flags, load the topology, print/write a proxy config, serve.

Serving uses uvloop when it is importable (it roughly doubles throughput) and falls
back to the standard asyncio loop otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import orjson

from aicore_sim.app import Simulator
from aicore_sim.server import Connection
from aicore_sim.state import Settings
from aicore_sim.topology import load_topology, proxy_config

__all__ = ["build_parser", "main", "serve"]


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
    p.add_argument("--print-config", action="store_true", help="print a proxy config.json for this simulator, exit")
    p.add_argument("--write-config", type=Path, metavar="PATH", help="write a proxy config.json, then serve")
    p.add_argument("--journal-size", type=int, default=2000, help="request journal ring-buffer size")
    p.add_argument("--quiet", action="store_true", help="no startup message")
    return p


async def serve(sim: Simulator, host: str, port: int, quiet: bool = False) -> None:
    """Serve until SIGINT/SIGTERM, then close every connection and stop."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(sim, sim.connections), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    if not quiet:
        bound = server.sockets[0].getsockname()
        print(f"aicore_sim listening on http://{bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
    await stop.wait()
    server.close()
    for conn in list(sim.connections):
        conn.close()
    await asyncio.sleep(0.05)  # let connection_lost run and cancel in-flight streams


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        raw = orjson.loads(args.topology.read_bytes()) if args.topology else None
        topology = load_topology(raw)
    except (OSError, orjson.JSONDecodeError, ValueError) as exc:
        print(f"aicore_sim: {exc}", file=sys.stderr)
        return 2
    if args.print_config or args.write_config:
        text = orjson.dumps(proxy_config(topology, args.host, args.port), option=orjson.OPT_INDENT_2).decode()
        if args.print_config:
            print(text)
            return 0
        args.write_config.write_text(text + "\n")
    settings = Settings(args.ttft_ms, args.chunk_gap_ms, args.chunks, args.latency_ms, args.token_ttl)
    sim = Simulator(topology, settings, args.journal_size)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(sim, args.host, args.port, args.quiet))
    else:
        uvloop.run(serve(sim, args.host, args.port, args.quiet))
    return 0
