"""The values that cross between the core and the transports.

The core describes upstream calls as :class:`UpstreamRequest` and reads answers as
:class:`UpstreamResponse`; transports turn them into real HTTP and back. Neither side
knows the other's libraries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ACCEPT_ENCODING", "ClientCert", "UpstreamRequest", "UpstreamResponse"]

# What both transports ask upstream for, on every call: the codings both client libraries
# decode incrementally (urllib3 ``read1(decode_content=True)``, aiohttp's auto-decompression),
# so a gateway that compresses event streams cannot break them. Set explicitly because each
# library's default depends on what else is installed (``br`` with brotli, ``zstd`` with
# zstandard), which would make the two stacks ask for different things.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True, slots=True)
class ClientCert:
    """A client certificate for mutual TLS (X.509 service keys): PEM texts, never logged."""

    certificate: str  # PEM, the certificate chain
    key: str  # PEM, the private key

    def __repr__(self) -> str:
        return "ClientCert(<pem>)"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None = None
    stream: bool = False
    # Where the call goes, for error messages and logs (never the URL's secrets).
    label: str = ""
    client_cert: ClientCert | None = None


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """Status and headers; ``body`` is empty for a successful streaming call."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup (transports hand over lower-cased names)."""
        return self.headers.get(name.lower())
