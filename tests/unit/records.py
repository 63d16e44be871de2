"""A request record for unit tests that drive flows or converters without a core."""

from __future__ import annotations

from typing import Any

from shared.endpoints import ENDPOINTS, Endpoint
from shared.record import RequestRecord

CHAT = next(e for e in ENDPOINTS if e.path == "/v1/chat/completions")


class Sink:
    """Keeps what a record reports, for assertions."""

    def __init__(self) -> None:
        self.finished_records: list[RequestRecord] = []
        self.in_flight = self.streams = 0

    def request_started(self, record: RequestRecord) -> None:
        self.in_flight += 1

    def stream_started(self) -> None:
        self.streams += 1

    def stream_ended(self) -> None:
        self.streams -= 1

    def finished(self, record: RequestRecord) -> None:
        self.in_flight -= 1
        self.finished_records.append(record)


class _NoHandler:
    def admit(self, record: RequestRecord) -> Any:  # pragma: no cover - not used by these tests
        return None

    def handle(self, record: RequestRecord, body: bytes | None, now: float) -> Any:  # pragma: no cover
        raise AssertionError("no core in this test")


def new_record(endpoint: Endpoint | None = CHAT, *, sink: Sink | None = None, started: float = 0.0) -> RequestRecord:
    return RequestRecord(_NoHandler(), sink or Sink(), endpoint, "POST", "/v1/chat/completions", "req-1", started, {})
