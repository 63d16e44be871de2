"""The Flask transport still honours the proxy environment after resolving it once per origin.

A corporate network reaches SAP AI Core through ``HTTPS_PROXY`` while ``NO_PROXY``
exempts internal hosts; ``_PooledSession`` reads both once per origin instead of on
every request (docs/load-testing.md), and must give the same answer requests would.
"""

from __future__ import annotations

import pytest
import requests

from shared.transports.sync_requests import _PooledSession


@pytest.fixture
def corporate_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://corp-proxy.example:8080")
    monkeypatch.setenv("NO_PROXY", "internal.example")


@pytest.mark.usefixtures("corporate_proxy")
@pytest.mark.parametrize(
    "url",
    [
        "https://api.ai.prod.eu-central-1.aws.ml.hana.ondemand.com/v2/inference/deployments/d1/chat/completions",
        "https://internal.example/v2/inference/deployments/d1/chat/completions",
        "http://127.0.0.1:8900/oauth/token",
    ],
)
def test_per_origin_settings_match_what_requests_itself_would_use(url: str) -> None:
    expected = requests.Session().merge_environment_settings(url, {}, None, None, None)
    got = _PooledSession(4)._settings(url)
    assert got["proxies"] == expected["proxies"]
    assert got["verify"] == expected["verify"]


@pytest.mark.usefixtures("corporate_proxy")
def test_the_proxy_applies_to_sap_hosts_and_not_to_exempt_ones() -> None:
    session = _PooledSession(4)
    sap = session._settings("https://api.ai.example.com/v2/lm/deployments")
    assert sap["proxies"].get("https") == "http://corp-proxy.example:8080"
    assert "https" not in session._settings("https://internal.example/x")["proxies"]


def test_settings_are_looked_up_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    session = _PooledSession(4)
    calls: list[str] = []
    real = session._probe.merge_environment_settings

    def counting(url, *args):  # type: ignore[no-untyped-def]
        calls.append(url)
        return real(url, *args)

    monkeypatch.setattr(session._probe, "merge_environment_settings", counting)
    for path in ("/a", "/b", "/c"):
        session._settings(f"https://host.example{path}")
    session._settings("https://other.example/a")
    assert calls == ["https://host.example/a", "https://other.example/a"]
