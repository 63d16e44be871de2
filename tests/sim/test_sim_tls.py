"""The HTTPS listener, the test CA and X.509 service keys (token over mutual TLS).

The token requests are made the way SAP's Python SDK makes them (ai_api_client_sdk
helpers/authenticator.py): ``requests.post(url, data={"grant_type": "client_credentials",
"client_id": ...}, cert=(cert_file, key_file))``.
"""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sim_helpers import REPO, free_port, start_sim

CERT_SUB = "sim-cert"
CERT_CLIENT = "sb-sim-cert!b1004|aicore!b540"


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tls_dir = tmp_path_factory.mktemp("tls")
    proc, base = start_sim("--x509-subaccount", "--tls-dir", str(tls_dir), "--tls-port", "0")
    try:
        info = httpx.get(f"{base}/__sim/tls").json()
        yield {"base": base, "https": f"https://127.0.0.1:{info['port']}", "dir": tls_dir, **info}
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def _key_files(tmp_path: Path, key: dict[str, Any]) -> tuple[str, str]:
    cert, private = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text(key["certificate"])
    private.write_text(key["key"])
    return str(cert), str(private)


def _token(url: str, clientid: str, ca: str, cert: tuple[str, str] | None) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": clientid}
    return requests.post(f"{url}/oauth/token", data=data, cert=cert, verify=ca, timeout=10)


def _config(tls_sim: dict[str, Any], **params: str) -> dict[str, Any]:
    resp = httpx.get(f"{tls_sim['base']}/__sim/config", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _rogue_certificate(tmp_path: Path, issuer_cert: Any, issuer_key: Any) -> tuple[str, str]:
    """A client certificate for the X.509 client id, but not the one the simulator issued."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CERT_CLIENT)]))
        .issuer_name(issuer_cert.subject if issuer_cert is not None else x509.Name([]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(issuer_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "rogue.pem", tmp_path / "rogue.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_file), str(key_file)


def test_service_key_of_an_x509_subaccount(tls_sim: dict[str, Any]) -> None:
    entry = _config(tls_sim)["subAccounts"][CERT_SUB]
    key = entry["service_key_json"]
    assert set(key) == {
        "clientid",
        "certificate",
        "key",
        "certurl",
        "url",
        "credential-type",
        "identityzoneid",
        "serviceurls",
    }
    assert key["clientid"] == CERT_CLIENT and key["credential-type"] == "x509"
    assert key["certurl"] == tls_sim["https"] and key["url"] == key["serviceurls"]["AI_API_URL"] == tls_sim["base"]
    assert key["certificate"].startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY-----" in key["key"]
    assert entry["resource_group"] == "rg-cert" and "gpt-4o" in entry["deployment_models"]
    assert Path(tls_sim["ca_file"]).read_text() == tls_sim["ca_certificate"]
    assert tls_sim["x509_subaccounts"] == [CERT_SUB]


def test_mtls_token_with_the_issued_certificate_serves_inference(tls_sim: dict[str, Any], tmp_path: Path) -> None:
    key = _config(tls_sim)["subAccounts"][CERT_SUB]["service_key_json"]
    resp = _token(key["certurl"], key["clientid"], tls_sim["ca_file"], _key_files(tmp_path, key))
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "AI-Resource-Group": "rg-cert"}
    listing = httpx.get(f"{key['serviceurls']['AI_API_URL']}/v2/lm/deployments", headers=headers).json()
    assert {r["id"] for r in listing["resources"]} == {
        "dcert-gpt-4o",
        "dcert-claude-4-sonnet",
        "dcert-gemini-2-5-flash",
    }
    chat = httpx.post(
        f"{tls_sim['base']}/v2/inference/deployments/dcert-gpt-4o/chat/completions?api-version=2024-12-01-preview",
        json={"messages": [{"role": "user", "content": "hi"}]},
        headers=headers,
    )
    assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"] == "gpt-4o says: hi"


def test_mtls_token_refuses_a_missing_or_foreign_certificate(tls_sim: dict[str, Any], tmp_path: Path) -> None:
    ca = tls_sim["ca_file"]
    # No certificate in the handshake: the X.509 client has no other credential.
    missing = _token(tls_sim["https"], CERT_CLIENT, ca, None)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    # The plain token URL has no TLS at all.
    assert (
        httpx.post(
            f"{tls_sim['base']}/oauth/token", data={"grant_type": "client_credentials", "client_id": CERT_CLIENT}
        ).status_code
        == 401
    )
    # A certificate of another CA fails the TLS handshake.
    other_key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
        _token(tls_sim["https"], CERT_CLIENT, ca, _rogue_certificate(tmp_path, None, other_key))
    # Same CA, same client id, but not the certificate bound to the client: refused.
    authority = Path(tls_sim["dir"])
    ca_cert = x509.load_pem_x509_certificate((authority / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((authority / "ca.key").read_bytes(), None)
    rogue = _token(tls_sim["https"], CERT_CLIENT, ca, _rogue_certificate(tmp_path, ca_cert, ca_key))
    assert rogue.status_code == 401
    # The right certificate for the wrong client id: refused too.
    key = _config(tls_sim)["subAccounts"][CERT_SUB]["service_key_json"]
    wrong = _token(tls_sim["https"], "sb-sim-a!b1001|aicore!b540", ca, _key_files(tmp_path, key))
    assert wrong.status_code == 401


def test_config_over_https_everywhere(tls_sim: dict[str, Any]) -> None:
    cfg = _config(tls_sim, tls="true")
    entry = cfg["subAccounts"]["sim-a"]
    key = entry["service_key_json"]
    assert key["url"] == key["serviceurls"]["AI_API_URL"] == tls_sim["https"]
    url = entry["deployment_models"]["gpt-4o"][0]
    assert url == f"{tls_sim['https']}/v2/inference/deployments/da-gpt-4o"
    trust = ssl.create_default_context(cafile=tls_sim["ca_file"])
    with httpx.Client(verify=trust) as client:  # the test CA is all a client needs to trust
        token = client.post(
            f"{key['url']}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(key["clientid"], key["clientsecret"]),
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        listing = client.get(f"{key['serviceurls']['AI_API_URL']}/v2/lm/deployments", headers=headers).json()
        listed = {r["id"]: r["deploymentUrl"] for r in listing["resources"]}
        assert listed["da-gpt-4o"] == url  # the listing names the listener it was asked on
        chat = client.post(
            f"{url}/chat/completions?api-version=2024-12-01-preview",
            json={"messages": [{"role": "user", "content": "hi"}]},
            headers=headers,
        )
        assert chat.status_code == 200
    with pytest.raises(httpx.ConnectError):  # without the CA the certificate is not trusted
        httpx.get(f"{tls_sim['https']}/__sim/health")


def test_print_config_and_a_later_start_share_the_certificates(tmp_path: Path) -> None:
    tls_dir, port, tls_port = tmp_path / "tls", free_port(), free_port()
    printed = subprocess.run(
        [
            sys.executable,
            "-m",
            "aicore_sim",
            "--print-config",
            "--x509-subaccount",
            "--port",
            str(port),
            "--tls-dir",
            str(tls_dir),
            "--tls-port",
            str(tls_port),
        ],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=30,
    )
    key = json.loads(printed.stdout)["subAccounts"][CERT_SUB]["service_key_json"]
    assert key["certurl"] == f"https://127.0.0.1:{tls_port}"
    refused = subprocess.run(
        [sys.executable, "-m", "aicore_sim", "--print-config", "--x509-subaccount"],
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    assert refused.returncode == 2 and b"--tls-dir" in refused.stderr
    proc, _ = start_sim("--x509-subaccount", "--tls-dir", str(tls_dir), "--tls-port", str(tls_port), port=port)
    try:
        resp = _token(key["certurl"], key["clientid"], str(tls_dir / "ca.pem"), _key_files(tmp_path, key))
        assert resp.status_code == 200, resp.text
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_topology_x509_subaccount_needs_no_secret(tmp_path: Path) -> None:
    topo = {
        "subaccounts": [
            {
                "name": "only-cert",
                "clientid": "cert-only",
                "credential_type": "x509",
                "deployments": [{"id": "dc-1", "model": "gpt-4o", "family": "openai"}],
            }
        ]
    }
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(topo))
    proc, base = start_sim("--topology", str(path))
    try:
        cfg = httpx.get(f"{base}/__sim/config").json()
        key = cfg["subAccounts"]["only-cert"]["service_key_json"]
        assert "clientsecret" not in key and key["certurl"].startswith("https://")
        # A Basic header with an empty secret is no way around the certificate.
        token = httpx.post(f"{base}/oauth/token", params={"grant_type": "client_credentials"}, auth=("cert-only", ""))
        assert token.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    bad = dict(topo)
    bad["subaccounts"] = [{**topo["subaccounts"][0], "credential_type": "password"}]
    path.write_text(json.dumps(bad))
    out = subprocess.run(
        [sys.executable, "-m", "aicore_sim", "--topology", str(path), "--print-config"],
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    assert out.returncode == 2 and b"credential_type" in out.stderr
