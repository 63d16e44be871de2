"""Both transports and discovery honour the proxy and CA environment the same way (shared/netenv.py).

Behind a corporate egress proxy, a transport that connects directly fails at the
firewall — the FastAPI stack used to, because its aiohttp session ignored the
environment. The decisions are checked in-process, then proven against a real forward
proxy (tinyproxy, with Basic credentials) and real TLS servers with a private CA.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import requests
import trustme

from shared.errors import ConfigError
from shared.netenv import NetworkEnvironment
from shared.transports import async_aiohttp, discovery_http, sync_requests
from shared.wire import UpstreamRequest
from tests.transports.driving import KINDS, error_of, make_core, run, stream_text
from tests.transports.forward_proxy import ForwardProxy, forward_proxy
from tests.transports.servers import CHAT_PATH, TOKEN_PATH, Upstream, serve

SAP = "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com/v2/inference/deployments/d1/chat/completions"
CORPORATE = {
    "HTTPS_PROXY": "http://bob:pw@corp-proxy.example:8080",
    "HTTP_PROXY": "http://corp-proxy.example:3128",
    "NO_PROXY": "internal.example, 10.0.0.0/8",
}
URLS = [
    SAP,
    "https://tenant.authentication.eu10.hana.ondemand.com/oauth/token?grant_type=client_credentials",
    "https://api.internal.example/v2/lm/deployments",
    "http://10.1.2.3:8900/oauth/token",
    "http://127.0.0.1:8900/v2/inference/deployments/d1/chat/completions",
]
PROXY_VARIABLES = [f"{n}_proxy" for n in ("http", "https", "all", "no")]
PROXY_VARIABLES += [n.upper() for n in PROXY_VARIABLES]
CA_VARIABLES = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"]


def placeholder_core():
    return make_core("http://127.0.0.1:9", "http://127.0.0.1:9/v2/inference/deployments/d1")


def sync_decision(upstream: sync_requests.UpstreamClient, url: str) -> tuple[str | None, bool]:
    settings = upstream._session._settings(url)
    proxy = settings["proxies"].get(url.partition(":")[0])
    return proxy, isinstance(settings["verify"], ssl.SSLContext)


def async_decision(upstream: async_aiohttp.UpstreamClient, url: str) -> tuple[str | None, bool]:
    settings = upstream._route(url).kwargs
    return settings["proxy"], isinstance(settings.get("ssl"), ssl.SSLContext)


@pytest.mark.parametrize("url", URLS)
def test_both_transports_follow_the_one_decision(url):
    egress = NetworkEnvironment.from_env(CORPORATE).egress(url)
    expected = (egress.proxy.url if egress.proxy else None, egress.trust is not None)
    core = placeholder_core()
    assert sync_decision(sync_requests.UpstreamClient(core, env=CORPORATE), url) == expected
    assert async_decision(async_aiohttp.UpstreamClient(core, env=CORPORATE), url) == expected


@pytest.mark.parametrize("url", URLS)
def test_the_decision_matches_requests_own_rules_for_ordinary_settings(url, monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = {"HTTPS_PROXY": "http://corp-proxy.example:8080", "NO_PROXY": "internal.example,10.1.2.3"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    theirs = requests.Session().merge_environment_settings(url, {}, None, None, None)["proxies"]
    egress = NetworkEnvironment.from_env(env).egress(url)
    assert theirs.get(url.partition(":")[0]) == (egress.proxy.url if egress.proxy else None)


def test_settings_are_decided_once_per_origin(monkeypatch):
    asked: list[str] = []
    real = NetworkEnvironment.egress

    def counting(self, url):  # type: ignore[no-untyped-def]
        asked.append(url)
        return real(self, url)

    monkeypatch.setattr(NetworkEnvironment, "egress", counting)
    core = placeholder_core()
    for upstream in (
        sync_requests.UpstreamClient(core, env=CORPORATE),
        async_aiohttp.UpstreamClient(core, env=CORPORATE),
    ):
        asked.clear()
        decide = upstream._session._settings if isinstance(upstream, sync_requests.UpstreamClient) else upstream._route
        for path in ("/a", "/b", "/c"):
            decide(f"https://host.example{path}")
        decide("https://other.example/a")
        assert asked == ["https://host.example/a", "https://other.example/a"]


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HTTPS_PROXY": "socks5://bob:pw@socks.corp:1080"}, "HTTPS_PROXY=socks5://socks.corp:1080"),
        ({"REQUESTS_CA_BUNDLE": "/nonexistent/corp-ca.pem"}, "REQUESTS_CA_BUNDLE: cannot read CA certificates"),
    ],
)
def test_an_unusable_environment_stops_both_transports_at_start_up(env, needle):
    core = placeholder_core()
    for make in (sync_requests.UpstreamClient, async_aiohttp.UpstreamClient):
        with pytest.raises(ConfigError, match=needle) as info:
            make(core, env=env)
        assert "pw" not in str(info.value)


# --- through a real forward proxy -------------------------------------------------------------


@pytest.fixture(scope="module")
def corp_proxy(tmp_path_factory: pytest.TempPathFactory):
    with forward_proxy(tmp_path_factory.mktemp("tinyproxy"), user="bob", password="s3cr-e.t_X") as proxy:
        yield proxy


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "corp-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def tls_server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def new_requests(proxy: ForwardProxy, since: int) -> list[tuple[str, str]]:
    return proxy.requests()[since:]


@pytest.mark.parametrize("kind", KINDS)
def test_plain_http_calls_go_through_the_proxy_with_its_credentials(kind, corp_proxy):
    env = {"HTTP_PROXY": corp_proxy.url}
    with serve(Upstream(coding="gzip")) as up:
        up.first_event_delivered.set()
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        before = len(corp_proxy.requests())
        [(status, body)] = run(kind, core, env=env)
        [(stream_status, stream)] = run(kind, core, env=env, stream=True)
    assert (status, stream_status) == (200, 200), body
    assert stream_text(stream) == "Hello, world"
    # Every call the upstream saw came through tinyproxy (it adds Via), which logged each one.
    assert [s["path"] for s in up.seen] == [TOKEN_PATH, CHAT_PATH, CHAT_PATH]  # one token, cached
    assert all("tinyproxy" in s["headers"].get("via", "") for s in up.seen), up.seen
    assert all("proxy-authorization" not in s["headers"] for s in up.seen)
    logged = new_requests(corp_proxy, before)
    assert [(m, t.partition("?")[0]) for m, t in logged] == [("POST", up.url + s["path"]) for s in up.seen]


@pytest.mark.parametrize("kind", KINDS)
def test_no_proxy_hosts_are_reached_directly(kind, corp_proxy):
    env = {"HTTP_PROXY": corp_proxy.url, "NO_PROXY": "127.0.0.1"}
    with serve() as up:
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        before = len(corp_proxy.requests())
        [(status, _)] = run(kind, core, env=env)
    assert status == 200
    assert up.seen and not any("via" in s["headers"] for s in up.seen)
    assert new_requests(corp_proxy, before) == []


@pytest.mark.parametrize("ca_variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
@pytest.mark.parametrize("kind", KINDS)
def test_https_is_tunnelled_through_the_proxy_and_verified_with_the_ca_from_the_environment(
    kind, ca_variable, corp_proxy, ca, ca_file
):
    env = {"HTTPS_PROXY": corp_proxy.url, ca_variable: str(ca_file)}
    with serve(Upstream(coding="gzip"), tls=tls_server_context(ca)) as up:
        up.first_event_delivered.set()
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        before = len(corp_proxy.requests())
        [(status, body), (again, _)] = run(kind, core, env=env, requests=2)
        [(_, stream)] = run(kind, core, env=env, stream=True)
    assert (status, again) == (200, 200), body
    assert stream_text(stream) == "Hello, world"
    tunnels = new_requests(corp_proxy, before)
    host = up.url.removeprefix("https://")
    # One CONNECT per connection the server accepted: none of them bypassed the proxy.
    assert tunnels and tunnels == [("CONNECT", host)] * up.connections


def test_failures_through_the_proxy_read_the_same_on_both_transports(corp_proxy, ca, ca_file):
    without_credentials = f"http://{corp_proxy.host}:{corp_proxy.port}"
    with serve(tls=tls_server_context(ca)) as up:
        core = make_core(up.url, f"{up.url}/v2/inference/deployments/d1")
        refused = {kind: run(kind, core, env={"HTTPS_PROXY": without_credentials, "SSL_CERT_FILE": str(ca_file)})
                   for kind in KINDS}  # fmt: skip
        untrusted = {kind: run(kind, core, env={"HTTPS_PROXY": corp_proxy.url}) for kind in KINDS}
    assert refused["sync"] == refused["async"]
    [(status, body)] = refused["sync"]
    err = error_of(body)
    assert status == 503 and err["code"] == "token_fetch_failed"
    assert f"through the forward proxy {without_credentials} (from HTTPS_PROXY)" in err["message"]
    assert untrusted["sync"] == untrusted["async"]
    [(status, body)] = untrusted["sync"]
    err = error_of(body)
    assert status == 503 and "TLS handshake" in err["message"] and "REQUESTS_CA_BUNDLE" in err["message"]
    assert "s3cr-e.t_X" not in err["message"]


def test_discovery_calls_follow_the_same_decisions(corp_proxy, ca, ca_file, monkeypatch):
    for name in PROXY_VARIABLES + CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", corp_proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", corp_proxy.url)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("NO_PROXY", "localhost")
    monkeypatch.setattr(discovery_http, "_openers", discovery_http._Openers())
    with serve() as plain, serve(tls=tls_server_context(ca)) as tls, serve() as exempt:
        before = len(corp_proxy.requests())
        direct_url = exempt.url.replace("127.0.0.1", "localhost")
        for url in (plain.url, tls.url, direct_url):
            status, body = discovery_http._send(UpstreamRequest("POST", f"{url}{TOKEN_PATH}", {}, b""), 5)
            assert status == 200 and b"access_token" in body
    assert "tinyproxy" in plain.seen[0]["headers"].get("via", "")
    assert "via" not in exempt.seen[0]["headers"]
    assert new_requests(corp_proxy, before) == [
        ("POST", f"{plain.url}{TOKEN_PATH}"),
        ("CONNECT", tls.url.removeprefix("https://")),
    ]
