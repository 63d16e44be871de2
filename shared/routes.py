"""The route table both adapters register from, so neither can grow a route alone.

Each route names the core handler that serves it and the error dialect its clients
expect. ``tests/unit/test_routes.py`` checks both apps expose exactly this table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ROUTES", "Route", "dialect_for"]


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    method: str
    handler: str
    dialect: str = "openai"  # openai | anthropic
    auth: bool = True


ROUTES: tuple[Route, ...] = (
    Route("/v1/chat/completions", "POST", "chat_completions"),
    Route("/v1/embeddings", "POST", "embeddings"),
    Route("/v1/models", "GET", "list_models"),
    Route("/v1/messages", "POST", "messages", dialect="anthropic"),
    Route("/v1/messages/count_tokens", "POST", "count_tokens", dialect="anthropic"),
    Route("/v1/responses", "POST", "responses"),
    Route("/api/event_logging/batch", "POST", "event_logging", auth=False),
    Route("/health", "GET", "health", auth=False),
    Route("/openapi.json", "GET", "openapi", auth=False),
    # Prometheus scrapes; served by the adapters from shared/metrics.py, not by the core.
    Route("/metrics", "GET", "metrics", auth=False),
)


def dialect_for(path: str) -> str:
    """Error dialect for any path, also unknown ones and wrong methods (``/v1/messages*`` is Anthropic)."""
    for route in ROUTES:
        if route.path == path:
            return route.dialect
    return "anthropic" if path.startswith("/v1/messages") else "openai"
