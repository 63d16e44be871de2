"""Which forward proxy and which CA certificates an upstream call uses: decided once, here.

Corporate networks reach SAP AI Core through an egress proxy named in the environment,
and sometimes inspect TLS with their own root CA. The Flask stack (requests), the
FastAPI stack (aiohttp) and discovery (stdlib ``urllib``) each read that environment
differently, or not at all, so none of them reads it: :class:`NetworkEnvironment` is
built from the environment mapping (passed in; nothing here touches ``os``) and answers,
per origin, with an :class:`Egress` that every transport turns into its own client's
arguments. Transports memoize the answer per origin, so the hot path is one dict lookup.

The rules (docs/configuration.md, "Networks"):

* **Proxy**: ``https_proxy``/``HTTPS_PROXY`` for ``https://`` URLs, ``http_proxy``/``HTTP_PROXY``
  for ``http://`` URLs, else ``all_proxy``/``ALL_PROXY``; the lower-case name wins when it
  is set, and an empty value means "none". A proxy URL without a scheme is ``http://``;
  only ``http://`` proxies are supported (``https://`` URLs are tunnelled with
  ``CONNECT``), and anything else stops start-up with a message. Credentials in the
  proxy URL (``http://user:pass@host:port``, percent-encoded) are used and never shown:
  :attr:`Proxy.address` is the URL without them.
* **NO_PROXY** (``no_proxy`` wins): comma- or space-separated entries, matched
  case-insensitively against the URL's host, without any DNS lookup. ``*`` exempts
  everything; ``example.com``, ``.example.com`` and ``*.example.com`` all exempt
  ``example.com`` and every sub-domain of it (never ``badexample.com``); an entry with a
  port (``example.com:8443``, ``10.1.2.3:443``, ``[::1]:8080``) only that port; an IP
  address that address; a CIDR block (``10.0.0.0/8``, ``fd00::/8``) any IP-address host
  inside it. ``localhost`` and loopback addresses are not exempt unless listed.
* **CA certificates**: ``REQUESTS_CA_BUNDLE``, else ``CURL_CA_BUNDLE``, else
  ``SSL_CERT_FILE`` names a PEM bundle (a directory is accepted too), and
  ``SSL_CERT_DIR`` a hashed certificate directory; when any is set, exactly those are
  trusted (as requests does with ``REQUESTS_CA_BUNDLE``), otherwise the system's store.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import ConfigError, UpstreamUnavailable

__all__ = [
    "CA_BUNDLE_VARIABLES",
    "CA_DIR_VARIABLE",
    "Egress",
    "NetworkEnvironment",
    "Proxy",
    "Trust",
    "origin_of",
    "proxy_failure",
    "tls_failure",
]

CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")
CA_DIR_VARIABLE = "SSL_CERT_DIR"
_DEFAULT_PORTS = {"http": 80, "https": 443}

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Proxy:
    """A forward proxy. ``url`` carries its credentials: hand it to the client library, never to a log."""

    url: str  # http://[user:pass@]host:port
    address: str  # http://host:port, safe to show
    variable: str  # the environment variable it came from

    def __repr__(self) -> str:
        return f"Proxy({self.address} from {self.variable})"


@dataclass(frozen=True, slots=True)
class Trust:
    """The CA certificates that verify upstream servers: paths from the environment, or the system store."""

    bundle: str | None = None  # a PEM file (or directory) from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE
    directory: str | None = None  # SSL_CERT_DIR
    variable: str | None = None  # where ``bundle`` (or ``directory``) came from, for messages

    @property
    def is_system(self) -> bool:
        return self.bundle is None and self.directory is None


@dataclass(frozen=True, slots=True)
class Egress:
    """How to reach one origin: through ``proxy`` (or directly), verifying TLS with ``trust`` (None: plain HTTP)."""

    proxy: Proxy | None
    trust: Trust | None


def origin_of(url: str) -> str:
    """``scheme://authority`` of an absolute URL, as given (the memo key; cheap on the hot path)."""
    start = url.find("//")
    end = url.find("/", start + 2) if start >= 0 else -1
    if end < 0:
        end = url.find("?", start + 2)
    return url if end < 0 else url[:end]


@dataclass(frozen=True, slots=True)
class _Exemption:
    """One NO_PROXY entry: a domain (with sub-domains), an IP network, or everything."""

    domain: str | None = None
    network: IPNetwork | None = None
    port: int | None = None

    def covers(self, host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return ip is not None and ip.version == self.network.version and ip in self.network
        if self.domain is None:
            return True
        return host == self.domain or host.endswith("." + self.domain)


class NetworkEnvironment:
    """The proxy and CA decisions for one environment; :meth:`egress` memoizes them per origin."""

    __slots__ = ("_proxies", "_exempt", "trust", "_memo")

    def __init__(self, proxies: Mapping[str, Proxy | None], exempt: tuple[_Exemption, ...], trust: Trust) -> None:
        self._proxies = dict(proxies)
        self._exempt = exempt
        self.trust = trust
        self._memo: dict[str, Egress] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> NetworkEnvironment:
        """Read the proxy and CA variables; raises :class:`ConfigError` naming a variable it cannot use."""
        proxies = {scheme: _proxy_for(scheme, env) for scheme in ("http", "https")}
        _, no_proxy = _first_set(env, "no_proxy", "NO_PROXY")
        exempt = tuple(_exemption(entry) for entry in no_proxy.replace(",", " ").split())
        return cls(proxies, exempt, _trust(env))

    def egress(self, url: str) -> Egress:
        origin = origin_of(url)
        found = self._memo.get(origin)
        if found is None:
            found = self._memo[origin] = self._decide(origin)
        return found

    def _decide(self, origin: str) -> Egress:
        scheme, _, authority = origin.partition("://")
        scheme = scheme.lower()
        try:
            host, port = _split_authority(authority.rpartition("@")[2], _DEFAULT_PORTS[scheme])
        except (KeyError, ValueError):
            return Egress(None, None)  # not an http(s) URL: the client library reports it
        trust = self.trust if scheme == "https" else None
        proxy = self._proxies.get(scheme)
        if proxy is None or self._is_exempt(host, port):
            return Egress(None, trust)
        return Egress(proxy, trust)

    def _is_exempt(self, host: str, port: int) -> bool:
        if not self._exempt:
            return False
        ip = _ip(host)
        return any(rule.covers(host, ip, port) for rule in self._exempt)


def proxy_failure(where: str, proxy: Proxy) -> UpstreamUnavailable:
    """The error for a call that could not get through the forward proxy (refused, 407, CONNECT failed)."""
    return UpstreamUnavailable(
        f"could not reach {where} through the forward proxy {proxy.address} (from {proxy.variable}): "
        "check that the proxy is up, lets this host through and accepts the credentials in the proxy URL"
    )


def tls_failure(where: str, trust: Trust | None, *, client_cert: bool = False) -> UpstreamUnavailable:
    """The error for a failed TLS handshake: usually a CA not trusted here (a TLS-inspecting firewall's),
    or, with mutual TLS, a client certificate the server refused (which some stacks only see as a reset)."""
    source = (
        f"the CA certificates from {trust.variable}"
        if trust is not None and not trust.is_system
        else "the system's CA certificates (set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to a bundle with your network's CA)"
    )
    refused = ", or it refused the service key's client certificate" if client_cert else ""
    return UpstreamUnavailable(
        f"the TLS handshake with {where} failed: its certificate is not trusted by {source}{refused}"
    )


def _first_set(env: Mapping[str, str], *names: str) -> tuple[str, str]:
    """The first of ``names`` present in ``env`` (even if empty: an empty lower-case value turns it off)."""
    for name in names:
        if name in env:
            return name, env[name].strip()
    return names[0], ""


def _proxy_for(scheme: str, env: Mapping[str, str]) -> Proxy | None:
    name, value = _first_set(env, f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
    if not value:
        name, value = _first_set(env, "all_proxy", "ALL_PROXY")
    return _parse_proxy(name, value) if value else None


def _parse_proxy(variable: str, value: str) -> Proxy:
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "http", value
    scheme = scheme.lower()
    userinfo, at, hostport = rest.partition("/")[0].rpartition("@")
    if not at:
        hostport = rest.partition("/")[0]
    shown = f"{scheme}://{hostport}"
    if scheme != "http":
        raise ConfigError(
            f"{variable}={shown}: only http:// forward proxies are supported "
            f"(HTTPS is tunnelled through them with CONNECT); use http://{hostport}"
        )
    try:
        host, port = _split_authority(hostport, 80)
    except ValueError:
        raise ConfigError(f"{variable}={shown}: not a proxy URL (expected http://host:port)") from None
    if not host:
        raise ConfigError(f"{variable}={shown}: the proxy URL names no host (expected http://host:port)")
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    url = f"http://{userinfo}@{netloc}" if at else f"http://{netloc}"
    return Proxy(url=url, address=f"http://{netloc}", variable=variable)


def _split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """``host[:port]`` or ``[v6][:port]`` -> (lower-case host without brackets or trailing dot, port)."""
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = authority.partition(":")
    port = int(port_text) if port_text else default_port
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return host.lower().rstrip("."), port


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def _exemption(entry: str) -> _Exemption:
    entry = entry.strip().lower()
    if entry == "*":
        return _Exemption()
    if "/" in entry:
        try:
            return _Exemption(network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            pass  # not a CIDR block: taken as a (useless) domain below, as other clients would
    port: int | None = None
    if entry.startswith("["):
        host, _, tail = entry[1:].partition("]")
        port = _port(tail[1:]) if tail.startswith(":") else None
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
        port = _port(port_text)
    else:
        host = entry  # a name, an IPv4 address or a bare IPv6 address
    ip = _ip(host)
    if ip is not None:
        return _Exemption(network=ipaddress.ip_network(ip), port=port)
    return _Exemption(domain=host.lstrip("*").lstrip(".").rstrip("."), port=port)


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _trust(env: Mapping[str, str]) -> Trust:
    bundle_var = next((name for name in CA_BUNDLE_VARIABLES if env.get(name, "").strip()), None)
    bundle = env[bundle_var].strip() if bundle_var else None
    directory = env.get(CA_DIR_VARIABLE, "").strip() or None
    if bundle is None and directory is None:
        return Trust()
    names = " and ".join(n for n in (bundle_var, CA_DIR_VARIABLE if directory else None) if n)
    return Trust(bundle=bundle, directory=directory, variable=names)
