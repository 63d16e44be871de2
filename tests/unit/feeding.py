"""Feed a recorded transcript to an incremental decoder three ways (h11's ``test_io.tr``).

Every decoder must give the same result whether bytes arrive whole, one at a time, or
in uneven slices; decoders that only work on aligned chunks fail real networks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FEED_MODES = ["whole", "bytewise", "uneven"]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def slices(data: bytes, mode: str) -> Iterator[bytes]:
    if mode == "whole":
        yield data
    elif mode == "bytewise":
        for i in range(len(data)):
            yield data[i : i + 1]
    elif mode == "uneven":
        sizes, i, k = [1, 7, 3, 64, 2, 13], 0, 0
        while i < len(data):
            n = sizes[k % len(sizes)]
            yield data[i : i + n]
            i, k = i + n, k + 1
    else:
        raise ValueError(mode)


def feed_all(feed: Callable[[bytes], list[Any]], flush: Callable[[], list[Any]], data: bytes, mode: str) -> list[Any]:
    out: list[Any] = []
    for piece in slices(data, mode):
        out.extend(feed(piece))
    out.extend(flush())
    return out


def feed_relay(relay: Any, data: bytes, mode: str) -> bytes:
    """Drive a Relay (``feed(bytes) -> bytes``, ``finish() -> bytes``)."""
    out = bytearray()
    for piece in slices(data, mode):
        out += relay.feed(piece)
    out += relay.finish()
    return bytes(out)
