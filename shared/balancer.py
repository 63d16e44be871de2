"""Round-robin choice of a deployment for a model, with the failover order behind it.

Two levels, as the existing proxies do: one counter per model rotates over the
sub-accounts that serve it, then one counter per (sub-account, model) rotates over
that sub-account's deployment URLs. :meth:`Balancer.candidates` returns the chosen
target first and every other deployment after it, so a retry policy can walk on.

No locks: ``next()`` on an ``itertools.count`` is atomic in CPython, and neither
gevent nor asyncio switches inside it, so concurrent requests never share a slot.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from shared.config import ProxyConfig, SubAccount

__all__ = ["Balancer", "Target"]


@dataclass(frozen=True, slots=True)
class Target:
    sub_account: SubAccount
    url: str

    @property
    def label(self) -> str:
        deployment = self.url.rsplit("/", 1)[-1]
        return f"deployment {deployment} in sub-account '{self.sub_account.name}'"


class Balancer:
    __slots__ = ("_subs", "_model_counters", "_url_counters")

    def __init__(self, config: ProxyConfig) -> None:
        self._subs: dict[str, list[SubAccount]] = {}
        for sub in config.sub_accounts:
            for model in sub.deployments:
                self._subs.setdefault(model, []).append(sub)
        self._model_counters = {model: itertools.count() for model in self._subs}
        self._url_counters = {
            (sub.name, model): itertools.count() for sub in config.sub_accounts for model in sub.deployments
        }

    def candidates(self, model: str) -> list[Target]:
        """Targets for one request: the round-robin pick first, then the rest. Empty if unknown."""
        subs = self._subs.get(model)
        if not subs:
            return []
        start = next(self._model_counters[model]) % len(subs)
        out: list[Target] = []
        for k in range(len(subs)):
            sub = subs[(start + k) % len(subs)]
            urls = sub.deployments[model]
            # Only the chosen sub-account's counter advances; failover targets keep config order.
            offset = next(self._url_counters[(sub.name, model)]) if k == 0 else 0
            out.extend(Target(sub, urls[(offset + j) % len(urls)]) for j in range(len(urls)))
        return out
