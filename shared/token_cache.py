"""XSUAA client-credentials token cache for one sub-account, with the clock passed in.

The cache decides and the transport does the I/O: :meth:`TokenCache.fetch_request`
describes the token call, :meth:`TokenCache.accept` digests the answer. Transports
wrap both in one lock per sub-account and re-check :meth:`current` after taking it,
so a burst of requests on a cold cache makes a single token fetch (single flight).

Two kinds of service key, two token calls:

* client secret: ``POST {url}/oauth/token?grant_type=client_credentials`` with
  ``Authorization: Basic base64(clientid:clientsecret)`` — what the original proxies send;
* X.509 (``certificate``, ``key``, ``certurl``, no ``clientsecret``): ``POST
  {certurl}/oauth/token`` with the form body ``grant_type=client_credentials&client_id=<clientid>``
  over mutual TLS with the key's certificate — SAP's documented call
  (SAP-docs/sap-artificial-intelligence ``docs/sap-ai-core/use-a-service-key-3a97465.md``:
  ``curl --cert <cert.pem> --key <key.pem> -XPOST <certUrl>/oauth/token -d
  'grant_type=client_credentials&client_id=<client id>'``; SAP/ai-sdk-python
  ``ai_api_client_sdk/helpers/authenticator.py`` posts the same two form fields with ``cert=``).
"""

from __future__ import annotations

from base64 import b64encode

from shared.config import SubAccount
from shared.errors import TokenFetchError, upstream_error_message
from shared.jsonutil import loads
from shared.wire import UpstreamRequest

__all__ = ["TokenCache", "form_encode"]

DEFAULT_EXPIRES_IN = 4 * 3600
SAFETY_MARGIN = 300.0
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-._")


def form_encode(value: str) -> str:
    """``application/x-www-form-urlencoded`` encoding of one value (client ids hold ``!`` and ``|``).

    Written here because the core may not import ``urllib``; the WHATWG URL standard's
    form serializer keeps ``*-._`` and alphanumerics, turns spaces into ``+`` and
    percent-encodes every other UTF-8 byte.
    """
    out = []
    for byte in value.encode():
        if byte in _FORM_SAFE:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


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
        """The token call for this sub-account's kind of service key (see the module docstring)."""
        key = self.sub_account.service_key
        label = f"XSUAA token endpoint of sub-account '{self.sub_account.name}'"
        cert = key.client_cert
        if cert is not None:
            body = f"grant_type=client_credentials&client_id={form_encode(key.clientid)}"
            return UpstreamRequest(
                "POST",
                f"{key.certurl or key.url}/oauth/token",
                {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
                body.encode(),
                label=f"{label} (X.509)",
                client_cert=cert,
            )
        basic = b64encode(f"{key.clientid}:{key.clientsecret}".encode()).decode()
        return UpstreamRequest(
            "POST",
            f"{key.url}/oauth/token?grant_type=client_credentials",
            {"Authorization": f"Basic {basic}", "Accept": "application/json"},
            None,
            label=label,
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
