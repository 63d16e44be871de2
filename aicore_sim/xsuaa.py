"""The fake XSUAA token endpoint (OAuth2 client credentials: HTTP Basic client auth, or X.509).

Client-secret sub-accounts authenticate with ``clientid:clientsecret`` (HTTP Basic, or the
form fields SAP's curl example sends: use-a-service-key-3a97465.md). X.509 sub-accounts
send only ``client_id`` in the form body and present their certificate in the TLS
handshake on the HTTPS listener (``certurl``): SAP-docs/sap-artificial-intelligence,
docs/sap-ai-core/use-a-service-key-3a97465.md (``curl --cert <cert.pem> --key <key.pem>
-XPOST <certUrl>/oauth/token -d 'grant_type=client_credentials&client_id=<client id>'``) and
SAP/ai-sdk-python, packages/base/ai_api_client_sdk/helpers/authenticator.py
(``requests.post(url, data={"grant_type": "client_credentials", "client_id": ...},
cert=(cert_file, key_file))``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol
from urllib.parse import parse_qsl, unquote_plus

import orjson

from aicore_sim.cache import Pairs
from aicore_sim.families.base import Outcome
from aicore_sim.server import Connection, Request
from aicore_sim.state import Settings, TokenStore
from aicore_sim.tls import TlsSetup
from aicore_sim.topology import SubAccount, Topology


class TokenDesk(Protocol):
    """What the token endpoint needs of the simulator: the sub-accounts, tokens, settings, TLS, a way to answer."""

    topology: Topology
    tokens: TokenStore
    settings: Settings
    tls: TlsSetup | None

    def send(
        self, req: Request, conn: Connection, dep_id: str | None, out: Outcome, pairs: Pairs | None = None
    ) -> None: ...


__all__ = ["TokenDesk", "credentials", "issue_token"]

_SCOPE = "uaa.resource aicore!b540.deployments.inference"
_BAD_CREDENTIALS = Outcome(401, b'{"error":"unauthorized","error_description":"Bad credentials"}')


def credentials(req: Request) -> tuple[str, str] | None:
    """``(clientid, clientsecret)`` from HTTP Basic auth, or from form fields as a fallback."""
    auth = req.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            user, sep, secret = base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, secret) if sep else None
    form = dict(parse_qsl(req.body.decode("latin-1"))) if req.body else {}
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    return None


def _authenticated(sim: TokenDesk, sub: SubAccount, secret: str, conn: Connection) -> bool:
    """Secret sub-accounts: the secret matches. X.509 ones: the TLS client certificate is theirs.

    An X.509 credential has no secret, so a request without the sub-account's certificate
    (plain HTTP, no certificate, or a certificate of the test CA issued to another client)
    gets the same 401 as bad credentials; a certificate from another CA already fails the
    TLS handshake (aicore_sim/tls.py).
    """
    if sub.credential_type != "x509":
        return sub.clientsecret == secret
    tls = sim.tls
    return tls is not None and tls.subaccount_of(conn.peer_certificate()) == sub.name


def issue_token(sim: TokenDesk, req: Request, conn: Connection) -> None:
    """``POST /oauth/token?grant_type=client_credentials``: 200 with a token, 401 or 400."""
    if req.method != "POST":
        sim.send(req, conn, None, Outcome(405, b'{"error":"method_not_allowed"}'))
        return
    creds = credentials(req)
    sub = None
    if creds is not None:
        sub = sim.topology.by_clientid.get(creds[0])
        if sub is None:  # RFC 6749 asks clients to form-encode id and secret before Basic.
            creds = (unquote_plus(creds[0]), unquote_plus(creds[1]))
            sub = sim.topology.by_clientid.get(creds[0])
    if sub is None or creds is None or not _authenticated(sim, sub, creds[1], conn):
        sim.send(req, conn, None, _BAD_CREDENTIALS)
        return
    grant = req.query.get("grant_type")
    if grant is None and req.body:
        grant = dict(parse_qsl(req.body.decode("latin-1"))).get("grant_type")
    if grant != "client_credentials":
        error = "invalid_request" if grant is None else "unsupported_grant_type"
        desc = "Missing grant type" if grant is None else f"Unsupported grant type: {grant}"
        sim.send(req, conn, None, Outcome(400, orjson.dumps({"error": error, "error_description": desc})))
        return
    ttl = sim.settings.token_ttl
    token, jti = sim.tokens.issue(sub.clientid, sub.name, ttl)
    payload = {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": max(1, round(ttl)),
        "scope": _SCOPE,
        "jti": jti,
    }
    sim.send(req, conn, None, Outcome(200, orjson.dumps(payload)))
