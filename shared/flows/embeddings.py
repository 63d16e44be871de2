"""The Embeddings flow: OpenAI-family embedding deployments only, answer rebuilt in OpenAI's shape."""

from __future__ import annotations

from typing import Any

from shared.convert.embeddings import azure_embeddings_to_openai, openai_to_azure_embeddings
from shared.errors import InvalidRequest, UpstreamProtocolError, request_shape_errors
from shared.flows.chat import require_model
from shared.flows.commands import Flow
from shared.flows.deployments import Deployments
from shared.jsonutil import dumps, loads
from shared.record import RequestRecord
from shared.replies import Reply

__all__ = ["embeddings_flow"]


def embeddings_flow(doc: dict[str, Any], deployments: Deployments, record: RequestRecord) -> Flow:
    model = require_model(doc)
    entry, targets = deployments.resolve(model)
    if entry.family != "openai":
        raise InvalidRequest(
            f"model: '{model}' is a {entry.family} model; embeddings are served by OpenAI-family "
            "embedding deployments (e.g. text-embedding-3-small)",
            param="model",
        )
    if entry.kind != "embeddings":
        raise InvalidRequest(
            f"model: '{model}' is a chat model; embeddings need an embedding deployment (e.g. text-embedding-3-small)",
            param="model",
        )
    with request_shape_errors():
        payload = dumps(openai_to_azure_embeddings(doc))
    path = f"/embeddings?api-version={entry.api_version}"
    target, resp = yield from deployments.call(targets, path, payload, stream=False, record=record)
    try:
        return Reply(200, dumps(azure_embeddings_to_openai(loads(resp.body), model=model)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamProtocolError(f"{target.label} sent an embeddings answer the proxy could not read") from exc
