"""The deployments a flow picks from: the model catalog, the balancer, the retry policy and breakers.

One :class:`Deployments` per worker. A flow resolves the client's model name to a
:class:`~shared.catalog.ModelEntry` and its deployments, then calls them with failover.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from shared.balancer import Balancer, Target
from shared.catalog import ModelCatalog, ModelEntry
from shared.errors import ModelNotFound
from shared.flows.commands import Command
from shared.flows.upstream import call_with_failover
from shared.model_match import match_claude_name
from shared.record import RequestRecord
from shared.retry import CircuitBreakers, RetryPolicy
from shared.wire import UpstreamResponse

__all__ = ["Deployments"]


class Deployments:
    """Everything a flow needs to pick and call a deployment; one per worker."""

    __slots__ = ("catalog", "balancer", "policy", "breakers", "_claude")

    def __init__(
        self, catalog: ModelCatalog, balancer: Balancer, policy: RetryPolicy, breakers: CircuitBreakers
    ) -> None:
        self.catalog = catalog
        self.balancer = balancer
        self.policy = policy
        self.breakers = breakers
        entries = {entry.name: entry for entry in map(catalog.entry, catalog.names())}
        self._claude = [(e.name, e.capabilities) for e in entries.values() if e.family == "claude"]

    def entry(self, model: str, fallback: str | None = None) -> ModelEntry:
        """The catalog entry of a client's model name.

        Configured names and aliases first; then Anthropic's own names (Claude Code's
        ``claude-sonnet-4-5-20250929``) to the configured model of the same tier
        (``shared/model_match.py``); then ``fallback``; then a model of another tier.
        """
        try:
            return self.catalog.entry(model)
        except ModelNotFound:
            match = match_claude_name(model, self._claude)
            if match is not None and (match.same_tier or fallback is None):
                return self.catalog.entry(match.model)
            if fallback is not None:
                return self.catalog.entry(fallback)
            raise

    def resolve(self, model: str, fallback: str | None = None) -> tuple[ModelEntry, list[Target]]:
        entry = self.entry(model, fallback)
        targets = self.balancer.candidates(entry.name)
        if not targets:  # pragma: no cover - config validation guarantees URLs
            raise ModelNotFound(f"model '{model}' has no deployments", param="model")
        return entry, targets

    def call(
        self, targets: list[Target], path: str, body: bytes, *, stream: bool, record: RequestRecord
    ) -> Generator[Command, Any, tuple[Target, UpstreamResponse]]:
        return call_with_failover(
            targets, path, body, stream=stream, policy=self.policy, breakers=self.breakers, record=record
        )
