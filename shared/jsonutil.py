"""JSON in and out, through orjson: the one serialiser on every hot path.

Kept behind two names so that the rest of the core never imports orjson directly and
so that every failure to parse is a plain ``ValueError``.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dumps", "dumps_str", "loads"]


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    return orjson.dumps(obj)


def dumps_str(obj: Any) -> str:
    """Compact JSON text (tool-call ``arguments`` are strings in the OpenAI API)."""
    return orjson.dumps(obj).decode()


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse JSON; raises ``ValueError`` (orjson.JSONDecodeError is a subclass)."""
    return orjson.loads(data)
