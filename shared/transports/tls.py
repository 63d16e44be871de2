"""TLS contexts for upstream calls: one per (trusted CAs, client certificate), built once and reused.

Shared by both transports and discovery (stdlib ``ssl`` only, so importing it imports
no client library). Building a context reads the CA store (milliseconds), so it happens
once per distinct :class:`~shared.netenv.Trust` and :class:`~shared.wire.ClientCert`,
never per request or per connection.

The system store is ``ssl.create_default_context()``'s (what aiohttp and ``urllib`` use;
requests' own default, certifi, would ignore a corporate CA installed in the system).
Where the system store is empty — some minimal images — certifi's bundle is used when it
is installed.

A client certificate (mTLS, X.509 service keys) arrives as PEM text, while ``ssl`` loads
certificates only from files: the texts are written to a private temporary directory,
loaded, and deleted before :meth:`TLSContexts.get` returns.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading

from shared.errors import ConfigError
from shared.netenv import Trust
from shared.wire import ClientCert

__all__ = ["CertificateError", "TLSContexts"]


class CertificateError(ValueError):
    """A client certificate or key that ``ssl`` refuses; the message says why, never the PEM."""


class TLSContexts:
    """``get(trust, cert) -> ssl.SSLContext``, cached; thread-safe (the Flask stack builds from greenlets)."""

    __slots__ = ("_contexts", "_lock")

    def __init__(self) -> None:
        self._contexts: dict[tuple[Trust, ClientCert | None], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def get(self, trust: Trust, cert: ClientCert | None = None) -> ssl.SSLContext:
        key = (trust, cert)
        found = self._contexts.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._contexts.get(key)
            if found is None:
                found = self._contexts[key] = _build(trust, cert)
            return found


def _build(trust: Trust, cert: ClientCert | None) -> ssl.SSLContext:
    if trust.is_system:
        ctx = ssl.create_default_context()
        if not ctx.cert_store_stats()["x509_ca"]:
            _add_certifi(ctx)
    else:
        bundle, directory = trust.bundle, trust.directory
        try:
            if bundle is not None and os.path.isdir(bundle):
                bundle, directory = None, directory or bundle
            ctx = ssl.create_default_context(cafile=bundle, capath=directory)
        except (OSError, ssl.SSLError) as exc:
            paths = " and ".join(p for p in (trust.bundle, trust.directory) if p)
            raise ConfigError(f"{trust.variable}: cannot read CA certificates from {paths}: {_reason(exc)}") from None
    if cert is not None:
        _load_client_cert(ctx, cert)
    return ctx


def _add_certifi(ctx: ssl.SSLContext) -> None:
    try:
        import certifi
    except ImportError:
        return
    ctx.load_verify_locations(cafile=certifi.where())


def _load_client_cert(ctx: ssl.SSLContext, cert: ClientCert) -> None:
    with tempfile.TemporaryDirectory(prefix="aicore-mtls-") as directory:  # mode 0700
        path = os.path.join(directory, "client.pem")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(cert.certificate.strip() + "\n" + cert.key.strip() + "\n")
            ctx.load_cert_chain(path)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise CertificateError(
                "the service key's certificate and key are not usable: they must be a PEM certificate chain "
                f"and its PEM private key ({_reason(exc)})"
            ) from None


def _reason(exc: BaseException) -> str:
    """OpenSSL's reason in words (``KEY_VALUES_MISMATCH`` -> ``key values mismatch``); never file contents."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc.library or "unreadable").lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__
