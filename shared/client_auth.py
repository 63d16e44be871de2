"""Inbound client authentication: is this request allowed to use the proxy?

Keys come in ``Authorization: Bearer <key>`` (OpenAI SDKs) or ``x-api-key: <key>``
(Anthropic SDKs). A key must equal a configured key exactly; comparison runs in
constant time over every configured key, so timing reveals neither which key nor how
much of it matched. The old proxies accepted any header that merely *contained* a key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from shared.errors import Unauthorized

__all__ = ["presented_key", "verify_client_key"]


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key the client sent, from ``x-api-key`` or a Bearer ``Authorization`` header."""
    key = headers.get("x-api-key")
    if key:
        return key.strip()
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def verify_client_key(headers: Mapping[str, str], keys: tuple[str, ...], *, allow_unauthenticated: bool) -> None:
    """Raise :class:`Unauthorized` unless the request carries one of ``keys``."""
    if allow_unauthenticated and not keys:
        return
    key = presented_key(headers)
    if key is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'")
    given = key.encode()
    ok = False
    for candidate in keys:
        ok |= hmac.compare_digest(given, candidate.encode())
    if not ok:
        raise Unauthorized("invalid API key")
