"""An X.509 sub-account end to end: token over mutual TLS, listing, chat, streams, messages — both stacks.

A simulator of its own (``--x509-subaccount``) adds ``sim-cert``, whose service key
carries ``certificate``/``key``/``certurl`` instead of a client secret, as SAP's BTP
cockpit hands it out for ``"credential-type": "x509"``; its token endpoint (``certurl``,
the HTTPS listener) accepts only that certificate. The config names no deployment for
``sim-cert``: every model comes from the deployment listing, which needs the token the
certificate got — so a served request proves the whole chain.

A second pair of stacks gets a key whose certificate comes from another CA (what a key
of another landscape, or a mixed-up file, looks like): both stacks must start, warn,
and answer every request with the same clear 503 naming the certificate.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
import trustme

from proxyctl.procs import fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all
from tests.contract.conftest import API_KEY, STACKS, Sim

X509_SUB = "sim-cert"  # aicore_sim.tls.X509_SUBACCOUNT
RESOURCE_GROUP = "rg-cert"
CHAT_MODELS = ["gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-flash"]
DEPLOYMENT_OF = {
    "gpt-4o": "dcert-gpt-4o",
    "anthropic--claude-4-sonnet": "dcert-claude-4-sonnet",
    "gemini-2.5-flash": "dcert-gemini-2-5-flash",
}


@pytest.fixture(scope="module")
def cert_sim(run_dir: Path) -> Iterator[tuple[Sim, Path]]:
    """A simulator with the X.509 sub-account and its HTTPS listener; the test CA's directory."""
    port = free_port()
    tls_dir = run_dir / "x509-tls"
    argv = sim_argv(port, "--x509-subaccount", "--tls-port", "0", "--tls-dir", str(tls_dir))
    service = start_service("aicore-sim-x509", argv, f"http://127.0.0.1:{port}/__sim/health", run_dir)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Sim(f"http://127.0.0.1:{port}", client), tls_dir
    finally:
        stop_all([service])


def _config(sim: Sim, run_dir: Path, name: str, **cert_key: str) -> Path:
    """The simulator's config reduced to ``sim-cert``; its key changed by ``cert_key``."""
    doc = sim.client.get("/__sim/config").json()
    sub = doc["subAccounts"][X509_SUB]
    doc["subAccounts"] = {X509_SUB: sub}
    key = sub["service_key_json"]
    assert "clientsecret" not in key and {"certificate", "key", "certurl"} <= set(key)
    key.update(cert_key)
    if cert_key:
        # The listing cannot be had without a token, so configure the deployments.
        doc["model_settings"] = {m: s for m, s in doc.get("model_settings", {}).items() if m in CHAT_MODELS}
    else:
        del sub["deployment_models"]  # everything from the listing, read with the mTLS token
        doc.pop("model_settings", None)
    doc["fallback_models"] = {"claude": "anthropic--claude-4-sonnet"}
    doc["discovery"] = {"cache_dir": str(run_dir / f"{name}-cache")}
    doc["retry"] = {"max_attempts": 2, "backoff_base": 0.05, "backoff_max": 0.1}
    path = run_dir / f"config-{name}.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def _start_pair(config: Path, tls_dir: Path, run_dir: Path, name: str) -> tuple[dict[str, str], list[Any]]:
    # The HTTPS listener's certificate comes from the simulator's test CA: trust it the
    # way an operator trusts a corporate CA (REQUESTS_CA_BUNDLE wins over the others).
    ca = str(tls_dir / "ca.pem")
    env = {"PROXY_CONFIG": str(config), "REQUESTS_CA_BUNDLE": ca, "CURL_CA_BUNDLE": "", "SSL_CERT_FILE": ca}
    services: list[Any] = []
    urls: dict[str, str] = {}
    try:
        for stack, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            services.append(start_service(f"{stack}-{name}", argv_for(port), f"{url}/health", run_dir, env))
            urls[stack] = url
    except BaseException:
        stop_all(services)
        raise
    return urls, services


@pytest.fixture(scope="module")
def x509_stacks(cert_sim: tuple[Sim, Path], run_dir: Path) -> Iterator[tuple[dict[str, str], int]]:
    sim, tls_dir = cert_sim
    mark = sim.mark()
    urls, services = _start_pair(_config(sim, run_dir, "x509"), tls_dir, run_dir, "x509")
    try:
        yield urls, mark
    finally:
        stop_all(services)


def _foreign_certificate() -> dict[str, str]:
    """A well-formed certificate and key the simulator's token endpoint does not trust."""
    leaf = trustme.CA().issue_cert("sb-sim-cert")
    return {
        "certificate": "".join(blob.bytes().decode() for blob in leaf.cert_chain_pems),
        "key": leaf.private_key_pem.bytes().decode(),
    }


@pytest.fixture(scope="module")
def foreign_cert_stacks(cert_sim: tuple[Sim, Path], run_dir: Path) -> Iterator[dict[str, str]]:
    sim, tls_dir = cert_sim
    config = _config(sim, run_dir, "x509-foreign", **_foreign_certificate())
    urls, services = _start_pair(config, tls_dir, run_dir, "x509-foreign")
    try:
        yield urls
    finally:
        stop_all(services)


def _openai(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0, timeout=30)


@pytest.mark.parametrize("stack", STACKS)
def test_the_listing_is_read_with_the_certificates_token(
    x509_stacks: tuple[dict[str, str], int], cert_sim: tuple[Sim, Path], stack: str
) -> None:
    urls, mark = x509_stacks
    sim, _ = cert_sim
    entries = sim.journal(mark)
    listings = [e for e in entries if e["path"] == "/v2/lm/deployments"]
    assert listings and all(e["status"] == 200 for e in listings), listings
    assert {e["headers"].get("ai-resource-group") for e in listings} == {RESOURCE_GROUP}
    tokens = [e for e in entries if e["path"] == "/oauth/token"]
    assert tokens and all(e["status"] == 200 for e in tokens)
    assert not any("authorization" in e["headers"] for e in tokens)  # the certificate, not a secret
    listed = {m.id for m in _openai(urls[stack]).models.list().data}
    assert set(CHAT_MODELS) <= listed


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("model", CHAT_MODELS)
def test_chat_and_streams_through_the_openai_sdk(
    x509_stacks: tuple[dict[str, str], int], cert_sim: tuple[Sim, Path], stack: str, model: str
) -> None:
    urls, _ = x509_stacks
    sim, _ = cert_sim
    mark = sim.mark()
    client = _openai(urls[stack])
    answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}])
    assert answer.choices[0].message.content and answer.choices[0].finish_reason == "stop"
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hello"}], stream=True
        )
        if chunk.choices
    ]
    assert "".join(pieces)
    calls = sim.calls(mark)
    assert [e["deployment"] for e in calls] == [DEPLOYMENT_OF[model]] * 2
    assert all(e["status"] == 200 for e in calls)


@pytest.mark.parametrize("stack", STACKS)
def test_messages_through_the_anthropic_sdk(x509_stacks: tuple[dict[str, str], int], stack: str) -> None:
    urls, _ = x509_stacks
    client = anthropic.Anthropic(base_url=urls[stack], api_key=API_KEY, max_retries=0, timeout=30)
    message = client.messages.create(
        model="claude-sonnet-4-20250514", max_tokens=64, messages=[{"role": "user", "content": "hello"}]
    )
    assert message.type == "message" and message.content[0].type == "text" and message.content[0].text
    with client.messages.stream(
        model="anthropic--claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "hello"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn"


def test_a_foreign_certificate_is_the_same_clear_503_on_both_stacks(
    foreign_cert_stacks: dict[str, str], run_dir: Path
) -> None:
    errors = {}
    for stack, url in foreign_cert_stacks.items():
        with pytest.raises(openai.APIStatusError) as info:
            _openai(url).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
        assert info.value.status_code == 503
        errors[stack] = info.value.body
        messages = anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0, timeout=30).messages
        with pytest.raises(anthropic.APIStatusError) as refused:
            messages.create(
                model="anthropic--claude-4-sonnet", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert refused.value.status_code == 503
        assert "client certificate" in str(refused.value.body)
    assert errors["flask"] == errors["fastapi"], errors
    error = errors["flask"]
    assert isinstance(error, dict) and error["code"] == "token_fetch_failed", error
    assert f"sub-account '{X509_SUB}' (X.509)" in error["message"]
    assert "refused the service key's client certificate" in error["message"]
    assert "BEGIN" not in error["message"]
    for stack in STACKS:
        log = (run_dir / f"{stack}-x509-foreign.log").read_text(errors="replace")
        warned = [line for line in log.splitlines() if '"level":"warning"' in line and X509_SUB in line]
        assert any("the deployment listing could not be read" in line for line in warned), warned
        assert "PRIVATE KEY" not in log
