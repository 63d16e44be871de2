"""The endpoint table both adapters register from, so neither can grow an endpoint alone.

Each :class:`Endpoint` names the core handler that serves it and the error dialect its
clients expect. ``tests/unit/test_adapters.py`` checks both apps expose exactly this table,
and ``shared/openapi.py`` documents it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ENDPOINTS", "Endpoint", "dialect_for"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    path: str
    method: str
    handler: str
    dialect: str = "openai"  # openai | anthropic
    auth: bool = True


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/v1/chat/completions", "POST", "chat_completions"),
    Endpoint("/v1/embeddings", "POST", "embeddings"),
    Endpoint("/v1/models", "GET", "list_models"),
    Endpoint("/v1/messages", "POST", "messages", dialect="anthropic"),
    Endpoint("/v1/messages/count_tokens", "POST", "count_tokens", dialect="anthropic"),
    Endpoint("/v1/responses", "POST", "responses"),
    Endpoint("/api/event_logging/batch", "POST", "event_logging", auth=False),
    Endpoint("/health", "GET", "health", auth=False),
    Endpoint("/ready", "GET", "ready", auth=False),
    Endpoint("/openapi.json", "GET", "openapi", auth=False),
    # Prometheus scrapes; served by the adapters from shared/runtime/metrics.py, not by the core.
    Endpoint("/metrics", "GET", "metrics", auth=False),
)


def dialect_for(path: str) -> str:
    """Error dialect for any path, also unknown ones and wrong methods (``/v1/messages*`` is Anthropic)."""
    for endpoint in ENDPOINTS:
        if endpoint.path == path:
            return endpoint.dialect
    return "anthropic" if path.startswith("/v1/messages") else "openai"
