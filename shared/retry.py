"""Retry and failover policy: which failures to retry, how long to wait, which deployment next.

Pure state and arithmetic; the flow in ``shared/flows/upstream.py`` applies it and the transports
only sleep and read the clock when the flow asks. Rules:

* Retried, before any byte reached the client: upstream 429 and 5xx, refused or reset
  connections, timeouts, and a failed token fetch (another sub-account may still work).
  The client's own mistakes (other 4xx) are never retried.
* An untried deployment of the same model is tried at once; once every deployment has
  been tried, the next attempt waits: ``Retry-After`` when the upstream sent one (up to
  ``max_retry_after``), else capped exponential backoff with jitter.
* ``max_attempts`` and a total ``deadline`` bound the whole thing.
* A deployment that fails ``breaker_failures`` times in a row is skipped for
  ``breaker_cooldown`` seconds (unless every deployment is cooling down).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# The limits live with the other settings (``shared/config/settings.py``), which import
# nothing of this module, so config -> retry -> balancer -> config is no longer a circle.
from shared.config.settings import RetryPolicy

if TYPE_CHECKING:
    from shared.balancer import Target

__all__ = ["CircuitBreakers", "RetryPolicy", "parse_retry_after"]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After``/``x-retry-after`` value (delta-seconds only; dates are ignored)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float = 0.0


@dataclass(slots=True)
class CircuitBreakers:
    """Consecutive-failure breakers keyed by deployment URL; one per worker process."""

    failures: int = 3
    cooldown: float = 30.0
    _states: dict[str, _State] = field(default_factory=dict)

    def is_open(self, url: str, now: float) -> bool:
        state = self._states.get(url)
        return state is not None and now < state.open_until

    def order(self, targets: list[Target], now: float) -> list[Target]:
        """Healthy targets first, in their round-robin order; cooling ones last, never dropped."""
        healthy = [t for t in targets if not self.is_open(t.url, now)]
        cooling = [t for t in targets if self.is_open(t.url, now)]
        return healthy + cooling

    def record_failure(self, url: str, now: float) -> None:
        state = self._states.setdefault(url, _State())
        state.failures += 1
        if state.failures >= self.failures:
            state.open_until = now + self.cooldown
            state.failures = 0

    def record_success(self, url: str) -> None:
        self._states.pop(url, None)
