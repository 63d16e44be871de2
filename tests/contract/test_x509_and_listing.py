"""An X.509 sub-account found by discovery, on both stacks as real processes.

The simulator of this module adds ``sim-cert`` (an X.509 service key: token over mutual
TLS at ``certurl``) and serves a listing the way SAP AI Core can: two deployments per page,
with stopped, pending, dead and foreign-family deployments among the running ones. Each
stack's config names no deployment (``sim-cert`` discovers everything); the Flask stack
starts while the listing spells ``backendDetails`` in camelCase, the FastAPI stack while it
spells it in snake_case — both must end with the same models, serve chat (JSON and
stream) and ``/v1/messages`` through the certificate's token, and warn once about what
they left out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from proxyctl.procs import fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all
from tests.contract.conftest import API_KEY

SERVED = {"gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-flash"}  # sim-cert's running deployments
SPELLING = {"flask": "camel", "fastapi": "snake"}
both_stacks = pytest.mark.parametrize("stack_name", ["flask", "fastapi"])


@pytest.fixture(scope="module")
def x509_stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    """stack -> (URL, its log) for two stacks whose only sub-account is the X.509 one."""
    work = tmp_path_factory.mktemp("x509")
    port, tls_dir = free_port(), work / "tls"
    config_path = work / "sim-config.json"
    services = []
    try:
        argv = sim_argv(port, "--x509-subaccount", "--tls-port", "0", "--tls-dir", str(tls_dir),
                        "--listing-page-size", "2", "--listing-extras", "--write-config", str(config_path))  # fmt: skip
        services.append(start_service("aicore-sim-x509", argv, f"http://127.0.0.1:{port}/__sim/health", work))
        doc = json.loads(config_path.read_text())
        cert_account = doc["subAccounts"]["sim-cert"]
        assert "clientsecret" not in cert_account["service_key_json"]  # a real X.509 key
        cert_account.pop("deployment_models", None)  # everything comes from the listing
        doc["subAccounts"] = {"sim-cert": cert_account}
        doc["discovery"] = {"cache_dir": str(work / "cache")}
        (work / "config.json").write_text(json.dumps(doc, indent=2))
        ca = str(tls_dir / "ca.pem")  # the simulator's CA: first in the order the proxy reads the variables
        env = {"PROXY_CONFIG": str(work / "config.json"), "REQUESTS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca}
        out = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as sim:
            for name, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
                sim.post("/__sim/settings", json={"listing_spelling": SPELLING[name]}).raise_for_status()
                stack_port = free_port()
                url = f"http://127.0.0.1:{stack_port}"
                svc = start_service(f"{name}-x509", argv_for(stack_port), f"{url}/health", work, env)
                services.append(svc)
                out[name] = (url, svc.log_path)
        yield out
    finally:
        stop_all(services)


@both_stacks
def test_both_spellings_and_every_page_give_the_same_running_models(
    x509_stacks: dict[str, tuple[str, Path]], stack_name: str
) -> None:
    url, _ = x509_stacks[stack_name]
    r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert r.status_code == 200, r.text
    # stopped, pending, dead and foreign-family deployments of the listing are not models
    assert {m["id"] for m in r.json()["data"]} == SERVED


@both_stacks
def test_what_discovery_left_out_is_named_once_foreign_and_not_running_apart(
    x509_stacks: dict[str, tuple[str, Path]], stack_name: str
) -> None:
    _, log = x509_stacks[stack_name]
    text = log.read_text()
    foreign = [line for line in text.splitlines() if "families this proxy does not serve" in line]
    stopped = [line for line in text.splitlines() if "that are not running" in line]
    assert len(foreign) == 1 and len(stopped) == 1, text[-3000:]
    assert "sim-cert-x-nova-pro (amazon--nova-pro)" in foreign[0] and "stopped" not in foreign[0]
    assert "sim-cert-x-stopped-gpt-4o (gpt-4o: STOPPED)" in stopped[0]
    assert "BEGIN" not in text  # no certificate or key in the log


@both_stacks
def test_chat_and_streams_are_served_with_the_certificates_token(
    x509_stacks: dict[str, tuple[str, Path]], stack_name: str
) -> None:
    url, _ = x509_stacks[stack_name]
    with openai.OpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0) as client:
        for model in sorted(SERVED):
            answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi there"}])
            assert answer.choices[0].message.content, model
            chunks = client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi there"}], stream=True
            )
            text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            assert text, model


@both_stacks
def test_anthropic_messages_are_served_with_the_certificates_token(
    x509_stacks: dict[str, tuple[str, Path]], stack_name: str
) -> None:
    url, _ = x509_stacks[stack_name]
    with anthropic.Anthropic(base_url=url, api_key=API_KEY, max_retries=0) as client:
        message = client.messages.create(
            model="anthropic--claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi there"}]
        )
        assert message.content and message.content[0].type == "text"
        with client.messages.stream(
            model="anthropic--claude-4-sonnet", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            assert "".join(stream.text_stream)
