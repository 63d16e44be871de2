"""X.509 service keys: the token call presents the key's client certificate (mutual TLS), on both transports.

SAP documents service keys with ``certificate``/``key``/``certurl`` instead of a client
secret; the XSUAA token endpoint then refuses any TLS connection without that
certificate. The core marks such a token call with ``UpstreamRequest.client_cert``; the
token server here requires a certificate from the key's CA, like ``certurl`` does.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import trustme

from shared.core import ProxyCore
from shared.netenv import Trust
from shared.token_cache import TokenCache
from shared.transports import discovery_http
from shared.transports.tls import CertificateError, TLSContexts
from shared.wire import ClientCert, UpstreamRequest
from tests.transports.driving import KINDS, error_of, make_core, run
from tests.transports.servers import TOKEN_PATH, Upstream, serve


@pytest.fixture(scope="module")
def server_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def key_ca() -> trustme.CA:
    """The CA that signs service-key certificates (SAP's, in production)."""
    return trustme.CA()


def client_cert(ca: trustme.CA, name: str = "sub-account-a.example") -> ClientCert:
    leaf = ca.issue_cert(name)
    return ClientCert(
        certificate="".join(blob.bytes().decode() for blob in leaf.cert_chain_pems),
        key=leaf.private_key_pem.bytes().decode(),
    )


@pytest.fixture(scope="module")
def env(server_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("ca") / "server-ca.pem"
    server_ca.cert_pem.write_to_path(str(path))
    return {"SSL_CERT_FILE": str(path)}


# Client ids of real keys hold "!" and "|", which the form body must percent-encode.
CLIENT_ID = "sb-x509!b1|aicore!b540"


@pytest.fixture
def token_server(server_ca: trustme.CA, key_ca: trustme.CA):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ca.issue_cert("127.0.0.1").configure_cert(ctx)
    ctx.verify_mode = ssl.CERT_REQUIRED  # no certificate from the key's CA, no handshake
    key_ca.configure_trust(ctx)
    # Like certurl: without the form (grant_type, client_id) the answer is 401.
    with serve(Upstream(token_form={"grant_type": "client_credentials", "client_id": CLIENT_ID}), tls=ctx) as up:
        yield up


def x509_core(token_url: str, deployment_url: str, cert: ClientCert) -> ProxyCore:
    """A core whose sub-account has an X.509 service key, as SAP's BTP cockpit hands it out."""
    key = {"clientid": CLIENT_ID, "certificate": cert.certificate, "key": cert.key, "certurl": token_url}
    return make_core(token_url, deployment_url, service_key=key)


def without_certificate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Token calls made as an X.509 key describes them, but with no certificate in the handshake."""
    planned = TokenCache.fetch_request
    monkeypatch.setattr(TokenCache, "fetch_request", lambda self: replace(planned(self), client_cert=None))


@pytest.mark.parametrize("kind", KINDS)
def test_the_token_call_presents_the_service_keys_certificate_and_form(kind, token_server, key_ca, env):
    with serve() as inference:
        core = x509_core(token_server.url, f"{inference.url}/v2/inference/deployments/d1", client_cert(key_ca))
        [(status, body)] = run(kind, core, env=env)
    assert status == 200, body
    [token_call] = token_server.seen
    assert token_call["path"] == TOKEN_PATH
    assert "authorization" not in token_call["headers"]  # no secret: the certificate authenticates
    form = dict(parse_qsl(token_call["body"].decode()))
    assert form == {"grant_type": "client_credentials", "client_id": CLIENT_ID}
    assert len(token_server.client_certs) == 1  # the handshake carried the key's certificate
    assert inference.seen[0]["headers"]["authorization"] == "Bearer tok"


@pytest.mark.parametrize(
    "problem",
    ["no certificate", "a certificate the endpoint does not trust", "a certificate that is not PEM"],
)
def test_a_refused_or_unusable_certificate_is_a_token_failure_on_both_transports(
    problem, monkeypatch, token_server, key_ca, env
):
    cert = {
        "no certificate": client_cert(key_ca),
        "a certificate the endpoint does not trust": client_cert(trustme.CA()),
        "a certificate that is not PEM": ClientCert(
            "-----BEGIN CERTIFICATE-----\nnot base64\n", "-----BEGIN PRIVATE KEY-----\nnor this\n"
        ),
    }[problem]
    if problem == "no certificate":
        without_certificate(monkeypatch)
    replies = {}
    for kind in KINDS:
        core = x509_core(token_server.url, f"{token_server.url}/v2/inference/deployments/d1", cert)
        [replies[kind]] = run(kind, core, env=env)
    for status, body in replies.values():
        err = error_of(body)
        assert status == 503 and err["code"] == "token_fetch_failed", err
        assert "'a'" in err["message"] and "BEGIN" not in err["message"]
    assert token_server.seen == []
    if problem == "no certificate":
        return  # requests sees a TLS error, aiohttp a reset: each says what it saw
    assert replies["sync"] == replies["async"]
    message = error_of(replies["sync"][1])["message"]
    if problem == "a certificate that is not PEM":
        assert "must be a PEM certificate chain and its PEM private key" in message
    else:
        assert "refused the service key's client certificate" in message


@contextmanager
def resetting_after_handshake(server_ca: trustme.CA) -> Iterator[str]:
    """A TLS 1.3 endpoint that completes every handshake, reads the request's first bytes, then resets.

    That is what a client sees when a server checks the certificate only once the
    handshake is done, or refuses it with an alert the client reads too late: no TLS
    error, a reset connection (the timing that made the Flask stack say "could not connect").
    """
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    server_ca.issue_cert("127.0.0.1").configure_cert(ctx)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve_forever() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            try:
                with ctx.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(1)
            except OSError:
                raw.close()

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_reset_after_the_handshake_is_a_certificate_failure_on_both_transports(server_ca, key_ca, env):
    replies = {}
    with resetting_after_handshake(server_ca) as url:
        for kind in KINDS:
            core = x509_core(url, f"{url}/v2/inference/deployments/d1", client_cert(key_ca))
            [replies[kind]] = run(kind, core, env=env)
    assert replies["sync"] == replies["async"], replies
    status, body = replies["sync"]
    err = error_of(body)
    assert status == 503 and err["code"] == "token_fetch_failed", err
    assert "(X.509): the TLS handshake with it failed" in err["message"]
    assert "refused the service key's client certificate" in err["message"]


def test_discovery_presents_the_certificate_too(monkeypatch, token_server, key_ca, env):
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_DIR", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(discovery_http, "_openers", discovery_http._Openers())
    core = x509_core(token_server.url, f"{token_server.url}/v2/inference/deployments/d1", client_cert(key_ca))
    req = TokenCache(core.config.sub_accounts[0]).fetch_request()
    status, body = discovery_http._send(req, 5)
    assert status == 200 and b"access_token" in body
    with pytest.raises(discovery_http.DiscoveryError):
        discovery_http._send(replace(req, client_cert=None), 5)


def test_one_context_per_certificate_and_no_pem_left_on_disk(monkeypatch, tmp_path: Path, key_ca):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    contexts = TLSContexts()
    cert = client_cert(key_ca)
    first = contexts.get(Trust(), cert)
    assert contexts.get(Trust(), replace(cert)) is first  # equal PEM texts: the same context
    assert contexts.get(Trust(), client_cert(key_ca, "other.example")) is not first
    assert contexts.get(Trust()) is not first
    assert list(tmp_path.iterdir()) == []
    assert "PRIVATE" not in repr(cert) and "CERTIFICATE" not in repr(UpstreamRequest("POST", "u", {}, client_cert=cert))


def test_an_unusable_key_is_reported_without_its_text(key_ca):
    good = client_cert(key_ca)
    with pytest.raises(CertificateError) as info:
        TLSContexts().get(Trust(), replace(good, key=client_cert(key_ca, "someone-else.example").key))
    assert "PRIVATE KEY" not in str(info.value) and "key values mismatch" in str(info.value)
