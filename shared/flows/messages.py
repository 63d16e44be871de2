"""The Anthropic Messages API (Claude Code, the anthropic SDK) over every model family.

* Claude models: the Messages body goes to Bedrock ``/invoke`` almost as it is —
  :func:`~shared.convert.bedrock_sanitize.anthropic_to_bedrock_invoke` removes what SAP
  AI Core refuses — and the answer (JSON or events) comes back as Anthropic already.
* OpenAI-family and Gemini models: the request is converted to the Chat Completions hub
  and runs the ordinary chat flow; its answer is converted back
  (:class:`AnthropicAnswer`), streams through one more translator stage.

Claude Code's own names (``claude-sonnet-4-5-20250929``) reach the configured Claude model
of the same tier and generation (``shared/model_match.py``); other unknown names fall back
to ``fallback_models[family]`` when configured, else 404. A Claude deployment configured
with ``claude_api: converse`` is reached through the chat hub, as other families are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.backends import ChatBackend, ResponseIds
from shared.catalog import ModelEntry, family_from_name
from shared.convert.anthropic_messages import anthropic_to_openai_chat, openai_chat_to_anthropic
from shared.convert.anthropic_stream import (
    BedrockEventsPassthrough,
    OpenAIToAnthropicStream,
    anthropic_error_frame,
    anthropic_sse,
)
from shared.convert.bedrock_sanitize import anthropic_to_bedrock_invoke
from shared.convert.token_estimate import estimate_input_tokens
from shared.errors import InvalidRequest, UpstreamProtocolError, request_shape_errors
from shared.flows.chat import chat_flow, parse_chat_request
from shared.flows.commands import Flow
from shared.flows.deployments import Deployments
from shared.jsonutil import dumps, loads
from shared.record import RequestRecord
from shared.replies import Reply
from shared.streams import Relay, SSEJsonDecoder, TranslatingRelay
from shared.usage import UsageMeter

__all__ = ["AnthropicAnswer", "count_tokens_reply", "messages_flow", "resolve_model"]


def resolve_model(deployments: Deployments, fallbacks: Mapping[str, str], model: Any) -> ModelEntry:
    """Configured names, then Claude Code's own names by tier, then ``fallback_models[family]``."""
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: required, a non-empty string", param="model")
    return deployments.entry(model, fallbacks.get(family_from_name(model)))


def _relay(decoder: Any, stages: list[Any]) -> Relay:
    return TranslatingRelay(
        decoder,
        stages,
        encode=anthropic_sse,
        error_frame=anthropic_error_frame,
        terminator=b"",
        meter=UsageMeter.anthropic_event,
    )


class AnthropicAnswer:
    """Shapes the hub's chat answer as an Anthropic message or event stream."""

    def __init__(self, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model

    def json(self, backend: ChatBackend, raw: bytes, ids: ResponseIds) -> bytes:
        completion = backend.completion(raw, ids)
        return dumps(openai_chat_to_anthropic(completion, message_id=self._message_id, model=self._model))

    def stream(self, backend: ChatBackend, ids: ResponseIds, include_usage: bool) -> Relay:
        decoder, stages = backend.chunk_stages(ids)
        return _relay(decoder, [*stages, OpenAIToAnthropicStream(message_id=self._message_id, model=self._model)])


def messages_flow(
    doc: dict[str, Any],
    headers: Mapping[str, str],
    deployments: Deployments,
    fallbacks: Mapping[str, str],
    ids: ResponseIds,
    record: RequestRecord,
) -> Flow:
    entry = resolve_model(deployments, fallbacks, doc.get("model"))
    stream = doc.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidRequest("stream: must be true or false", param="stream")
    if entry.family != "claude" or entry.claude_api == "converse":
        # Through the chat hub: other families, and Claude deployments that serve only Converse.
        with request_shape_errors():
            chat_doc = {**anthropic_to_openai_chat(doc, record.adjustments), "model": entry.name}
        cap = entry.max_tokens_cap
        if cap is not None and isinstance(chat_doc.get("max_tokens"), int) and chat_doc["max_tokens"] > cap:
            chat_doc["max_tokens"] = cap  # the configured ceiling (the model's own limit is applied later)
        answer = AnthropicAnswer(ids.completion_id, ids.model)
        return (yield from chat_flow(parse_chat_request(chat_doc), deployments, ids, record, answer))
    with request_shape_errors():
        invoke = anthropic_to_bedrock_invoke(
            doc, beta_header=headers.get("anthropic-beta"), caps=entry.capabilities, adjustments=record.adjustments
        )
        body = dumps(invoke)
    _, targets = deployments.resolve(entry.name)
    path = "/invoke-with-response-stream" if stream else "/invoke"
    _, resp = yield from deployments.call(targets, path, body, stream=bool(stream), record=record)
    if stream:
        return _relay(SSEJsonDecoder(loads), [BedrockEventsPassthrough(model=ids.model)])
    try:
        message = loads(resp.body)  # Bedrock's answer is already an Anthropic message
        message["model"] = ids.model  # the name the client asked for, as in the stream
    except (ValueError, TypeError) as exc:
        raise UpstreamProtocolError(f"Bedrock sent an answer the proxy could not read: {exc}") from exc
    return Reply(200, dumps(message))


def count_tokens_reply(doc: dict[str, Any]) -> Reply:
    """``/v1/messages/count_tokens``: an estimate, nothing goes upstream (see docs/coding-agents.md)."""
    if not isinstance(doc.get("model"), str) or not doc["model"]:
        raise InvalidRequest("model: required, a non-empty string", param="model")
    if not isinstance(doc.get("messages"), list):
        raise InvalidRequest("messages: required, an array", param="messages")
    with request_shape_errors():
        return Reply(200, dumps({"input_tokens": estimate_input_tokens(doc)}))
