"""The simulator's test certificate authority: the HTTPS listener's certificate and X.509 client keys.

SAP AI Core service keys can carry an X.509 credential instead of a client secret
(SAP-docs/sap-artificial-intelligence, docs/sap-ai-core/create-a-service-key-7323ff4.md:
``certificate``, ``certurl``, ``key`` "your RSA private key"; the certificate is requested with
``"credential-type": "x509"``, default key length 2048 and validity 7 days). The token is then
fetched over mutual TLS from ``certurl`` (use-a-service-key-3a97465.md:
``curl --cert <cert.pem> --key <key.pem> -XPOST <certUrl>/oauth/token -d
'grant_type=client_credentials&client_id=<client id>'``; SAP/ai-sdk-python,
packages/base/ai_api_client_sdk/helpers/authenticator.py posts the same form with
``cert=(cert_file, key_file)``).

The authority lives in a directory (``--tls-dir``, a temporary one by default): ``ca.pem``
(the file to hand to a client as ``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``), ``ca.key``,
``server.pem``/``server.key`` (re-issued at every start) and ``client-<sub-account>.pem``/``.key``
per X.509 sub-account. CA and client files already there are reused (a test can put its own
CA in place, and ``--print-config`` and a later start agree on the keys); a client
certificate not signed by the CA, issued for another client id or about to expire is re-issued.

``cryptography`` is imported only when TLS is used, so plain runs start as fast as before.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aicore_sim.topology import Topology

__all__ = ["X509_SUBACCOUNT", "Authority", "ClientCredential", "TlsSetup", "fingerprint"]

# The sub-account ``--x509-subaccount`` adds to the topology: an X.509 service key, its own
# resource group and one deployment of each family.
X509_SUBACCOUNT: dict[str, Any] = {
    "name": "sim-cert",
    "clientid": "sb-sim-cert!b1004|aicore!b540",
    "credential_type": "x509",
    "identityzoneid": "sim-cert-zone",
    "resource_group": "rg-cert",
    "deployments": [
        {"id": "dcert-gpt-4o", "model": "gpt-4o", "family": "openai", "kind": "chat"},
        {"id": "dcert-claude-4-sonnet", "model": "anthropic--claude-4-sonnet", "family": "claude", "kind": "chat"},
        {"id": "dcert-gemini-2-5-flash", "model": "gemini-2.5-flash", "family": "gemini", "kind": "chat"},
    ],
}

_CA_DAYS = 365
_CLIENT_DAYS = 7  # the X.509 service-key default validity (create-a-service-key-7323ff4.md)
_CLIENT_KEY_BITS = 2048  # the default key-length there, RSA
_RENEW_BEFORE = datetime.timedelta(days=1)


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, hex: how the token endpoint recognises a client certificate."""
    return hashlib.sha256(der).hexdigest()


@dataclass(slots=True, frozen=True)
class ClientCredential:
    """The X.509 credential of one sub-account (PEM texts as a service key carries them)."""

    certificate: str  # the client certificate followed by the CA certificate (a chain)
    key: str
    fingerprint: str


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


class Authority:
    """A CA that issues the HTTPS server certificate and the sub-accounts' client certificates."""

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.ca_file = directory / "ca.pem"
        ca_key_file = directory / "ca.key"
        if self.ca_file.exists() and ca_key_file.exists():
            self._ca_cert = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
            self._ca_key: Any = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
        else:
            self._ca_cert, self._ca_key = self._new_ca()
            _write(ca_key_file, self._pem_key(self._ca_key), private=True)
            _write(self.ca_file, self._ca_cert.public_bytes(serialization.Encoding.PEM))
        self.ca_pem = self.ca_file.read_text()

    # -- certificate building ---------------------------------------------------------
    @staticmethod
    def _pem_key(key: Any) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return key.private_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @staticmethod
    def _name(common_name: str, unit: str) -> Any:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "aicore_sim"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def _new_ca(self) -> tuple[Any, Any]:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        key = ec.generate_private_key(ec.SECP256R1())
        name = self._name("aicore_sim test CA", "test authority")
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    def _issue(self, subject: Any, key: Any, days: int, usage: Any, san: Any = None) -> Any:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_key.public_key()), critical=False
            )
        )
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(self._ca_key, hashes.SHA256())

    # -- what the simulator needs -----------------------------------------------------
    def server_context(self, hosts: list[str]) -> ssl.SSLContext:
        """TLS context of the HTTPS listener: its certificate names ``hosts`` (plus localhost).

        Client certificates are requested and, when sent, verified against the CA (a
        certificate from another CA fails the handshake); whether one is *needed* is
        decided per request (the token endpoint, for X.509 sub-accounts).
        """
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID

        names: list[Any] = [x509.DNSName("localhost")]
        for host in ["127.0.0.1", "::1", *hosts]:
            if host in ("", "0.0.0.0", "::"):
                continue
            try:
                entry: Any = x509.IPAddress(ipaddress.ip_address(host))
            except ValueError:
                entry = x509.DNSName(host)
            if entry not in names:
                names.append(entry)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue(self._name("aicore_sim", "server"), key, _CA_DAYS, ExtendedKeyUsageOID.SERVER_AUTH, names)
        cert_file, key_file = self.directory / "server.pem", self.directory / "server.key"
        _write(key_file, self._pem_key(key), private=True)
        _write(cert_file, cert.public_bytes(serialization.Encoding.PEM) + self.ca_pem.encode())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        ctx.load_verify_locations(cafile=self.ca_file)
        ctx.verify_mode = ssl.CERT_OPTIONAL
        return ctx

    def client(self, subaccount: str, clientid: str) -> ClientCredential:
        """The client certificate of an X.509 sub-account (reused from the directory when still good)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        stem = "client-" + re.sub(r"[^A-Za-z0-9._-]", "_", subaccount)
        cert_file, key_file = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        if cert_file.exists() and key_file.exists():
            cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
            names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            try:
                cert.verify_directly_issued_by(self._ca_cert)
                good = (
                    bool(names)
                    and names[0].value == clientid
                    and cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC) > _RENEW_BEFORE
                )
            except Exception:  # InvalidSignature, or a key type the check does not support
                good = False
            if good:
                der = cert.public_bytes(serialization.Encoding.DER)
                pem = cert.public_bytes(serialization.Encoding.PEM).decode()
                return ClientCredential(pem + self.ca_pem, key_file.read_text(), fingerprint(der))
        key = rsa.generate_private_key(public_exponent=65537, key_size=_CLIENT_KEY_BITS)
        cert = self._issue(
            self._name(clientid, "sub-account clients"), key, _CLIENT_DAYS, ExtendedKeyUsageOID.CLIENT_AUTH
        )
        _write(key_file, self._pem_key(key), private=True)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        _write(cert_file, pem)
        der = cert.public_bytes(serialization.Encoding.DER)
        return ClientCredential(pem.decode() + self.ca_pem, key_file.read_text(), fingerprint(der))


class TlsSetup:
    """The HTTPS side of a running simulator: its authority, the X.509 credentials, the bound port."""

    def __init__(self, authority: Authority, topology: Topology) -> None:
        self.authority = authority
        self.credentials = {
            sub.name: authority.client(sub.name, sub.clientid)
            for sub in topology.subaccounts.values()
            if sub.credential_type == "x509"
        }
        self.owner = {cred.fingerprint: name for name, cred in self.credentials.items()}
        self.port: int | None = None

    def subaccount_of(self, der: bytes | None) -> str | None:
        """The sub-account a presented client certificate (DER) was issued to, if any."""
        return self.owner.get(fingerprint(der)) if der else None
