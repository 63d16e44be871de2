"""XSUAA client-credentials token cache for one sub-account, with the clock passed in.

The cache decides and the transport does the I/O: :meth:`TokenCache.fetch_request`
describes the token call, :meth:`TokenCache.accept` digests the answer. Transports
wrap both in one lock per sub-account and re-check :meth:`current` after taking it,
so a burst of requests on a cold cache makes a single token fetch (single flight).
"""

from __future__ import annotations

from base64 import b64encode

from shared.config import SubAccount
from shared.errors import TokenFetchError, upstream_error_message
from shared.jsonutil import loads
from shared.wire import UpstreamRequest

__all__ = ["TokenCache"]

DEFAULT_EXPIRES_IN = 4 * 3600
SAFETY_MARGIN = 300.0


class TokenCache:
    __slots__ = ("sub_account", "_token", "_expires_at")

    def __init__(self, sub_account: SubAccount) -> None:
        self.sub_account = sub_account
        self._token: str | None = None
        self._expires_at = 0.0

    def current(self, now: float) -> str | None:
        """The cached token if it is still good at ``now``."""
        if self._token is not None and now < self._expires_at:
            return self._token
        return None

    def fetch_request(self) -> UpstreamRequest:
        key = self.sub_account.service_key
        basic = b64encode(f"{key.clientid}:{key.clientsecret}".encode()).decode()
        return UpstreamRequest(
            "POST",
            f"{key.url}/oauth/token?grant_type=client_credentials",
            {"Authorization": f"Basic {basic}", "Accept": "application/json"},
            None,
            label=f"XSUAA token endpoint of sub-account '{self.sub_account.name}'",
        )

    def accept(self, status: int, body: bytes, now: float) -> str:
        """Store the token from a token-endpoint answer, or raise :class:`TokenFetchError`."""
        name = self.sub_account.name
        if status != 200:
            raise TokenFetchError(
                f"could not get an SAP AI Core token for sub-account '{name}': "
                f"token endpoint answered {status}: {upstream_error_message(body)}"
            )
        try:
            doc = loads(body)
            token = doc["access_token"]
            expires_in = float(doc.get("expires_in") or DEFAULT_EXPIRES_IN)
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenFetchError(f"token endpoint of sub-account '{name}' sent an unreadable answer") from exc
        if not isinstance(token, str) or not token:
            raise TokenFetchError(f"token endpoint of sub-account '{name}' sent an empty access_token")
        # Refresh early, but never so early that a short-lived token is always stale.
        self._token = token
        self._expires_at = now + expires_in - min(SAFETY_MARGIN, expires_in / 2)
        return token

    def invalidate(self, stale: str | None = None) -> None:
        """Forget the token; with ``stale``, only if it is still the cached one (a peer may have refreshed)."""
        if stale is None or stale == self._token:
            self._token = None
            self._expires_at = 0.0
