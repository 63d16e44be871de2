"""What a flow asks of a transport, and the runner that steps a flow for a transport.

A flow *yields* commands — :class:`NeedToken` (a bearer token for this sub-account),
:class:`Send` (make this upstream call, tell me what came back), :class:`Clock` (the
monotonic time) and :class:`Sleep` — and *returns* a complete :class:`~shared.replies.Reply`,
or a :class:`~shared.streams.Relay` when the upstream answer should be pumped to the client.
Transport failures are thrown *into* the flow so that it, not the transport, decides what
they mean (as httpx's ``Auth.auth_flow``). :class:`FlowRun` keeps the generator protocol
out of the transports: their ``run()`` is a dispatch loop over commands and nothing else.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from shared.config import SubAccount
from shared.errors import ProxyError
from shared.record import Job
from shared.replies import Reply, error_reply
from shared.streams import Relay
from shared.wire import UpstreamRequest

__all__ = ["Clock", "Command", "Flow", "FlowRun", "NeedToken", "Send", "Sleep"]


@dataclass(frozen=True, slots=True)
class NeedToken:
    """Ask for a bearer token; with ``stale``, that token was refused upstream: get a new one."""

    sub_account: SubAccount
    stale: str | None = None


@dataclass(frozen=True, slots=True)
class Send:
    request: UpstreamRequest


@dataclass(frozen=True, slots=True)
class Clock:
    """Ask the transport for the monotonic time (the core never reads a clock itself)."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``, shortened by up to ``jitter`` x seconds at random (the transport draws it)."""

    seconds: float
    jitter: float = 0.0


Command = NeedToken | Send | Clock | Sleep
Flow = Generator[Command, Any, Reply | Relay]


class FlowRun:
    """One job stepped by a transport: each step returns the next command, or None when done.

    When the flow ends, :attr:`outcome` holds its reply or relay; an error the flow lets
    escape becomes the error reply in the route's dialect.
    """

    __slots__ = ("_flow", "_dialect", "record", "outcome")

    def __init__(self, job: Job) -> None:
        self._flow: Flow = job.flow
        self._dialect = job.record.dialect
        self.record = job.record
        self.outcome: Reply | Relay | None = None

    def start(self) -> Command | None:
        try:
            return next(self._flow)
        except (StopIteration, ProxyError) as end:
            self._ended(end)
        return None

    def send(self, value: Any) -> Command | None:
        try:
            return self._flow.send(value)
        except (StopIteration, ProxyError) as end:
            self._ended(end)
        return None

    def throw(self, exc: ProxyError) -> Command | None:
        try:
            return self._flow.throw(exc)
        except (StopIteration, ProxyError) as end:
            self._ended(end)
        return None

    def _ended(self, end: StopIteration | ProxyError) -> None:
        self.outcome = error_reply(end, self._dialect) if isinstance(end, ProxyError) else end.value
