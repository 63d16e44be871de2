"""The proxy and CA decisions both transports and discovery follow (shared/netenv.py).

An operator behind a corporate egress proxy sets the usual variables once; what they
mean is decided here, so a wrong decision shows up as a call that bypasses the proxy
(and fails at the firewall) or one that sends internal traffic through it.
"""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.netenv import NetworkEnvironment, Proxy, Trust, origin_of, proxy_failure, tls_failure

SAP = "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com/v2/inference/deployments/d1/chat/completions"
XSUAA = "https://tenant.authentication.eu10.hana.ondemand.com/oauth/token?grant_type=client_credentials"


def proxy_for(url: str, **env: str) -> str | None:
    egress = NetworkEnvironment.from_env(env).egress(url)
    return egress.proxy.address if egress.proxy else None


def test_https_urls_use_https_proxy_and_http_urls_use_http_proxy():
    env = {"HTTPS_PROXY": "http://secure.corp:3128", "HTTP_PROXY": "http://plain.corp:3128"}
    assert proxy_for(SAP, **env) == "http://secure.corp:3128"
    assert proxy_for("http://10.0.0.5:8900/oauth/token", **env) == "http://plain.corp:3128"


def test_lower_case_wins_and_all_proxy_is_the_fallback():
    assert proxy_for(SAP, https_proxy="http://lower:1", HTTPS_PROXY="http://upper:2") == "http://lower:1"
    assert proxy_for(SAP, ALL_PROXY="http://everything:3") == "http://everything:3"
    assert proxy_for(SAP, all_proxy="http://a:1", ALL_PROXY="http://b:2") == "http://a:1"
    assert proxy_for(SAP, HTTP_PROXY="http://plain:1") is None  # an http proxy is not used for https URLs


def test_an_empty_lower_case_variable_turns_the_upper_case_one_off():
    assert proxy_for(SAP, https_proxy="", HTTPS_PROXY="http://upper:2") is None
    assert proxy_for(SAP, HTTPS_PROXY="") is None


def test_scheme_and_port_defaults_and_credentials():
    env = NetworkEnvironment.from_env({"HTTPS_PROXY": "us%40er:p%3Ass@Proxy.Corp"})
    proxy = env.egress(SAP).proxy
    assert proxy is not None
    assert proxy.url == "http://us%40er:p%3Ass@proxy.corp:80"  # as written: each client library decodes it
    assert proxy.address == "http://proxy.corp:80"
    assert "p%3Ass" not in repr(proxy) and "us%40er" not in repr(proxy)
    assert proxy_for(SAP, HTTPS_PROXY="http://[fd00::1]:3128") == "http://[fd00::1]:3128"


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("socks5://user:secret@socks.corp:1080", "only http:// forward proxies"),
        ("https://user:secret@tls.corp:443", "use http://tls.corp:443"),
        ("http://user:secret@corp:notaport", "not a proxy URL"),
        ("http://user:secret@:3128", "names no host"),
    ],
)
def test_unusable_proxy_urls_stop_start_up_naming_the_variable_without_the_password(value, needle):
    with pytest.raises(ConfigError) as info:
        NetworkEnvironment.from_env({"https_proxy": value})
    message = str(info.value)
    assert message.startswith("https_proxy=") and needle in message
    assert "secret" not in message and "user" not in message


def test_an_unused_all_proxy_is_not_an_error_when_scheme_variables_are_set():
    env = {"HTTPS_PROXY": "http://corp:3128", "HTTP_PROXY": "http://corp:3128", "ALL_PROXY": "socks5://x:1"}
    assert proxy_for(SAP, **env) == "http://corp:3128"


@pytest.mark.parametrize(
    ("no_proxy", "url", "exempt"),
    [
        ("*", SAP, True),
        ("hana.ondemand.com", SAP, True),  # a domain covers its sub-domains
        (".hana.ondemand.com", SAP, True),
        ("*.hana.ondemand.com", SAP, True),
        ("HANA.ONDEMAND.COM.", SAP, True),  # case and a trailing dot do not matter
        ("ondemand.com", "https://hana.ondemand.com/x", True),
        ("hana.ondemand.com", "https://hana.ondemand.com/x", True),
        ("ondemand.com", "https://badondemand.com/x", False),  # only at a dot
        ("corp.example, internal , hana.ondemand.com", SAP, True),  # commas and spaces
        ("corp.example internal", SAP, False),
        ("hana.ondemand.com:443", SAP, True),  # with a port: only that port
        ("hana.ondemand.com:8443", SAP, False),
        ("10.1.2.3", "http://10.1.2.3:8900/x", True),
        ("10.1.2.3:8900", "http://10.1.2.3:8900/x", True),
        ("10.1.2.3:8901", "http://10.1.2.3:8900/x", False),
        ("10.0.0.0/8", "http://10.1.2.3:8900/x", True),  # CIDR blocks cover IP-address hosts
        ("10.0.0.0/8", "http://11.1.2.3/x", False),
        ("10.0.0.0/8", "http://ten.example/x", False),  # never a name: no DNS lookups
        ("fd00::/8", "http://[fd12::5]:80/x", True),
        ("::1", "http://[::1]:8900/x", True),
        ("[::1]:8900", "http://[::1]:8900/x", True),
        ("[::1]:8901", "http://[::1]:8900/x", False),
        ("fd00::/8", "http://10.1.2.3/x", False),  # an IPv4 host is never inside an IPv6 block
        ("", "http://127.0.0.1:8900/x", False),  # loopback is proxied unless listed
        ("localhost", "http://127.0.0.1:8900/x", False),
        ("localhost", "http://localhost:8900/x", True),
    ],
)
def test_no_proxy_entries(no_proxy, url, exempt):
    env = {"HTTPS_PROXY": "http://corp:3128", "HTTP_PROXY": "http://corp:3128", "NO_PROXY": no_proxy}
    assert (proxy_for(url, **env) is None) is exempt


def test_lower_case_no_proxy_wins():
    env = {"HTTPS_PROXY": "http://corp:3128", "no_proxy": "other.example", "NO_PROXY": "hana.ondemand.com"}
    assert proxy_for(SAP, **env) == "http://corp:3128"


def test_ca_variables_in_order_of_precedence():
    trust = NetworkEnvironment.from_env({}).egress(SAP).trust
    assert trust == Trust() and trust.is_system
    env = {"SSL_CERT_FILE": "/c.pem", "CURL_CA_BUNDLE": "/b.pem", "REQUESTS_CA_BUNDLE": "/a.pem"}
    assert NetworkEnvironment.from_env(env).trust == Trust("/a.pem", None, "REQUESTS_CA_BUNDLE")
    env.pop("REQUESTS_CA_BUNDLE")
    assert NetworkEnvironment.from_env(env).trust.bundle == "/b.pem"
    env.pop("CURL_CA_BUNDLE")
    both = NetworkEnvironment.from_env({**env, "SSL_CERT_DIR": "/certs"}).trust
    assert both == Trust("/c.pem", "/certs", "SSL_CERT_FILE and SSL_CERT_DIR")
    assert NetworkEnvironment.from_env({"SSL_CERT_DIR": "/certs"}).trust == Trust(None, "/certs", "SSL_CERT_DIR")


def test_plain_http_urls_have_no_trust_and_tls_urls_share_one():
    env = NetworkEnvironment.from_env({"REQUESTS_CA_BUNDLE": "/corp.pem"})
    assert env.egress("http://127.0.0.1:8900/x").trust is None
    assert env.egress(SAP).trust is env.egress(XSUAA).trust is env.trust


def test_decisions_are_made_once_per_origin():
    env = NetworkEnvironment.from_env({"HTTPS_PROXY": "http://corp:3128"})
    first = env.egress(SAP)
    assert env.egress(SAP.replace("/d1/", "/d2/")) is first
    assert env.egress(XSUAA) is not first


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (SAP, "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com"),
        ("http://127.0.0.1:8900", "http://127.0.0.1:8900"),
        ("http://127.0.0.1:8900?x=1", "http://127.0.0.1:8900"),
        ("https://u:p@[::1]:443/a/b", "https://u:p@[::1]:443"),
    ],
)
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_failure_messages_name_the_proxy_and_the_ca_source_but_no_secret():
    proxy = Proxy("http://bob:hunter2@corp:3128", "http://corp:3128", "HTTPS_PROXY")
    message = proxy_failure("the XSUAA token endpoint", proxy).message
    assert "http://corp:3128" in message and "HTTPS_PROXY" in message and "hunter2" not in message
    assert "REQUESTS_CA_BUNDLE" in tls_failure("x", Trust()).message
    assert "/corp.pem" not in tls_failure("x", Trust("/corp.pem", None, "SSL_CERT_FILE")).message
    assert "SSL_CERT_FILE" in tls_failure("x", Trust("/corp.pem", None, "SSL_CERT_FILE")).message
