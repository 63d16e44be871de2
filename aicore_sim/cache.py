"""Replay cache for family answers.

Validating, answering and rendering a body is a pure function of the deployment, the
route, the body bytes and the chunking setting, except for random ids and timestamps.
Load tests send the same few bodies over and over, so the rendered outcome is cached
and replayed with fresh ids/timestamps substituted in place. Every substitute has the
same length as the value it replaces, so Content-Length and chunk sizes stay valid.
Gateway checks (token, headers), faults, latency and the journal are never cached.
"""

from __future__ import annotations

import time
from typing import Any

from aicore_sim.families.base import VOLATILE, Outcome, fresh_id, iso_time

__all__ = ["AnswerCache", "apply", "fresh_pairs"]

Pairs = list[tuple[bytes, bytes]]
MAX_BODY = 64 * 1024


def fresh_pairs(volatile: list[tuple[str, Any]]) -> Pairs:
    """``(old, new)`` byte pairs that refresh every recorded volatile value."""
    pairs: Pairs = []
    for kind, old in volatile:
        if kind == "id":
            pairs.append((old.encode(), fresh_id(len(old)).encode()))
        elif kind == "created":
            pairs.append((b'"created":%d' % old, b'"created":%d' % int(time.time())))
        else:
            pairs.append(
                (b'"%s":"%s"' % (kind.encode(), old.encode()), b'"%s":"%s"' % (kind.encode(), iso_time().encode()))
            )
    return pairs


def apply(data: bytes, pairs: Pairs) -> bytes:
    for old, new in pairs:
        data = data.replace(old, new)
    return data


class AnswerCache:
    """A bounded dict of ``key -> (outcome, volatile values)``; cleared wholesale when full.

    Bounded both by entries and by bytes (request body plus rendered answer), so a load
    test with large, ever-changing bodies cannot grow the process without limit.
    """

    def __init__(self, size: int = 4096, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.data: dict[tuple[Any, ...], tuple[Outcome, list[tuple[str, Any]]]] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> tuple[Outcome, Pairs] | None:
        entry = self.data.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        outcome, volatile = entry
        return outcome, (fresh_pairs(volatile) if volatile else [])

    @staticmethod
    def start() -> None:
        """Call before running a handler whose outcome will be stored."""
        VOLATILE.clear()

    def put(self, key: tuple[Any, ...], outcome: Outcome, body_size: int) -> None:
        size = body_size + len(outcome.body) + sum(len(f) for f in outcome.frames or ())
        if size > self.max_bytes // 64:
            return
        if len(self.data) >= self.size or self.bytes + size > self.max_bytes:
            self.data.clear()
            self.bytes = 0
        self.data[key] = (outcome, list(VOLATILE))
        self.bytes += size
