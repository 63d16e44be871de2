"""Classifies the lines of a streamed answer for the load test: token, end, error or other.

Kept apart from the locustfile (which imports Locust, and Locust monkey-patches the
process with gevent on import) so the unit tests can check it. Byte-level and
regex-only on purpose: with thousands of streams, parsing every event as JSON would
make the load generator, not the proxy, the bottleneck.
"""

from __future__ import annotations

import re

__all__ = ["anthropic_line", "openai_line"]

_CONTENT = re.compile(rb'"content": ?"[^"]')


def openai_line(line: bytes) -> str:
    """One line of an OpenAI chat stream: a content ``token``, the ``end`` ([DONE]), an ``error``, or ``other``."""
    if not line.startswith(b"data: "):
        return "other"
    if line.startswith(b"data: [DONE]"):
        return "end"
    if line.startswith(b'data: {"error"'):
        return "error"
    if _CONTENT.search(line):
        return "token"
    return "other"


def anthropic_line(line: bytes) -> str:
    """One line of an Anthropic event stream: ``token`` (a content delta), ``end`` (message_stop), ``error``."""
    if not line.startswith(b"event: "):
        return "other"
    if line.startswith(b"event: content_block_delta"):
        return "token"
    if line.startswith(b"event: message_stop"):
        return "end"
    if line.startswith(b"event: error"):
        return "error"
    return "other"
