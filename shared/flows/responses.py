"""The OpenAI Responses API (Codex) over every model family, through the chat hub.

The Responses request becomes a Chat Completions request
(:func:`~shared.convert.responses_api.responses_to_chat_request`, with Codex's history
repairs), runs the ordinary chat flow, and the answer comes back as a ``response``
object or the Responses event stream (:class:`ResponsesAnswer`).
"""

from __future__ import annotations

from typing import Any

from shared.backends import ChatBackend, ResponseIds
from shared.convert.responses_api import chat_to_responses, responses_to_chat_request
from shared.convert.responses_stream import ChatToResponsesStream
from shared.errors import ProxyError, request_shape_errors
from shared.flows.chat import chat_flow, parse_chat_request
from shared.flows.commands import Flow
from shared.flows.deployments import Deployments
from shared.jsonutil import dumps
from shared.record import RequestRecord
from shared.sse import encode_event
from shared.streams import Relay, TranslatingRelay
from shared.usage import UsageMeter

__all__ = ["ResponsesAnswer", "responses_flow"]


def _named(event: dict[str, Any]) -> bytes:
    return encode_event(str(event["type"]), event)


class ResponsesAnswer:
    """Shapes the hub's chat answer as a Responses ``response`` object or event stream."""

    def __init__(self, request: dict[str, Any], response_id: str, created_at: int) -> None:
        self._request = request
        self._id = response_id
        self._created_at = created_at

    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes:
        completion = backend.completion(raw, ids)
        return dumps(
            chat_to_responses(completion, response_id=self._id, created_at=self._created_at, request=self._request)
        )

    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> Relay:
        decoder, stages = backend.chunk_stages(ids)
        events = ChatToResponsesStream(response_id=self._id, created_at=self._created_at, request=self._request)

        def failed(exc: ProxyError) -> bytes:  # response.failed, continuing the sequence numbers
            return b"".join(_named(e) for e in events.fail(exc))

        return TranslatingRelay(
            decoder,
            [*stages, events],
            encode=_named,
            error_frame=failed,
            terminator=b"",
            meter=UsageMeter.responses_event,
        )


def responses_flow(doc: dict[str, Any], deployments: Deployments, ids: ResponseIds, record: RequestRecord) -> Flow:
    with request_shape_errors():
        req = parse_chat_request(responses_to_chat_request(doc, record.adjustments))
    answer = ResponsesAnswer(doc, ids.completion_id, ids.created)
    return (yield from chat_flow(req, deployments, ids, record, answer))
