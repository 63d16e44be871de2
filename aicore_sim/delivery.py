"""Slow-path delivery: latency, header/first-chunk delays and paced streams with faults.

One coroutine per request that has to wait. A client that disconnects cancels it (see
``Connection.connection_lost``); the stream then stops at once and is counted as aborted.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aicore_sim.cache import Pairs, apply
from aicore_sim.families.base import Outcome
from aicore_sim.faults import Fault
from aicore_sim.server import Connection, Request
from aicore_sim.state import Profile, Stats
from aicore_sim.topology import Deployment

__all__ = ["Recorder", "deliver"]


class Recorder(Protocol):
    """What delivering an answer needs of the simulator: the journal and the stream counters."""

    stats: Stats

    def record(self, req: Request, dep_id: str | None, status: int | None) -> None: ...


async def deliver(
    sim: Recorder,
    req: Request,
    conn: Connection,
    dep: Deployment,
    out: Outcome,
    pairs: Pairs,
    prof: Profile,
    fault: Fault | None,
) -> None:
    """Send a prepared outcome, honouring the latency profile and the fault's delays."""
    if out.frames is None:
        if prof.latency_ms and out.status == 200:
            await asyncio.sleep(prof.latency_ms / 1000)
            if conn.closed:
                return
        body = apply(out.body, pairs) if pairs else out.body
        first = fault.delay_first_chunk_ms if fault else 0.0
        sim.record(req, dep.id, out.status)
        if first:
            body = conn.coded(body)
            conn.send_head(out.status, len(body), out.content_type, out.headers)
            await asyncio.sleep(first / 1000)
            conn.write(body)
        else:
            conn.send(out.status, body, out.content_type, out.headers)
        return
    await _stream(sim, req, conn, dep, out, pairs, prof, fault)


async def _stream(
    sim: Recorder,
    req: Request,
    conn: Connection,
    dep: Deployment,
    out: Outcome,
    pairs: Pairs,
    prof: Profile,
    fault: Fault | None,
) -> None:
    frames = [apply(f, pairs) for f in out.frames or []] if pairs else out.frames or []
    paced = out.paced or []
    stats = sim.stats
    sim.record(req, dep.id, 200)
    conn.start_stream(200, out.content_type, out.headers)
    stats.open_streams += 1
    stats.streams_started += 1
    cut = fault.cut_after_chunks if fault else None
    bad_at = fault.malformed_after_chunks if fault else None
    gap = prof.chunk_gap_ms / 1000
    chunk = conn.chunk  # gzip-codes each frame when the response is compressed
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
                buf.append(chunk(out.garbage))
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
            buf.append(chunk(frame))
        if bad_at == len(frames):
            buf.append(chunk(out.garbage))
        if cut is not None and cut <= len(frames):
            conn.write(b"".join(buf))
            conn.close()
            result = "cut"
            return
        buf.append(conn.last_chunk())
        conn.write(b"".join(buf))
        result = "aborted" if conn.closed else "completed"
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
