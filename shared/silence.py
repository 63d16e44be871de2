"""What to do when an upstream stream goes quiet: keep the client's connection alive, then give up.

Both transports wait for upstream bytes in slices of at most ``keepalive`` seconds and
ask this object what a silent slice means: send the client an SSE comment (load
balancers and proxies cut idle connections), or — past ``first_byte`` before the first
bytes, or ``idle`` between later ones — fail the stream with a timeout. The clock is
passed in; the transports own the waiting.
"""

from __future__ import annotations

from shared.config import Timeouts
from shared.errors import UpstreamTimeout
from shared.sse import encode_comment

__all__ = ["KEEPALIVE", "SilenceTimer"]

KEEPALIVE = encode_comment("keep-alive")


class SilenceTimer:
    __slots__ = ("_t", "_deadline", "_started")

    def __init__(self, timeouts: Timeouts, now: float) -> None:
        self._t = timeouts
        self._started = False
        self._deadline = now + timeouts.first_byte

    def wait(self, now: float) -> float:
        """How long to wait for bytes before the next decision (> 0)."""
        return max(0.001, min(self._t.keepalive, self._deadline - now))

    def data(self, now: float) -> None:
        self._started = True
        self._deadline = now + self._t.idle

    def silence(self, now: float) -> bytes:
        """A slice passed without bytes: the keep-alive to send, or raise :class:`UpstreamTimeout`."""
        if now < self._deadline:
            return KEEPALIVE
        if self._started:
            raise UpstreamTimeout(f"the upstream stream was silent for more than {self._t.idle:g} s (timeouts.idle)")
        raise UpstreamTimeout(
            f"no answer from the upstream within {self._t.first_byte:g} s of the request (timeouts.first_byte)"
        )
