"""Both stacks behind a corporate forward proxy, and compressed upstream streams.

A second pair of stacks (Flask and FastAPI, as real processes) is started with
``HTTP_PROXY``/``HTTPS_PROXY`` pointing at a real forward proxy (tinyproxy, with Basic
credentials in the proxy URL, as corporate proxies often want) and ``NO_PROXY`` naming
only ``localhost``. The simulator is addressed as ``127.0.0.1``, so every call must go
through the proxy — which adds a ``Via`` header to what it forwards and logs every
request. A stack that connected directly would leave a journal entry without ``Via``,
and the proxy's log would not match the journal. One sub-account is addressed as
``localhost`` and must be reached directly.

The compressed-stream test asks the simulator to gzip its answers (``POST
/__sim/settings {"gzip": true}``); it is skipped while the simulator lacks that setting.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proxyctl.procs import ROOT, fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all
from shared.wire import ACCEPT_ENCODING
from tests.contract.conftest import API_KEY, STACKS, Sim, Stack
from tests.contract.sse_client import stream_raw
from tests.transports.forward_proxy import ForwardProxy, forward_proxy

DIRECT_MODEL = "gpt-4o-direct"  # served by the sub-account addressed as localhost (NO_PROXY)
UNREACHABLE_MODEL = "gpt-4o-unreachable"  # through the proxy to a port where nothing listens
PROXY_PASSWORD = "pr0xy-pass"
CHAT_MODELS = ["gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"]
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(scope="module")
def corp_proxy(run_dir: Path) -> Iterator[ForwardProxy]:
    with forward_proxy(run_dir / "tinyproxy", user="corp", password=PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def proxied_config(sim: Sim, run_dir: Path) -> Path:
    port = int(sim.url.rsplit(":", 1)[1])
    doc = json.loads(subprocess.check_output(sim_argv(port, "--print-config"), cwd=ROOT))
    first = doc["subAccounts"][next(iter(doc["subAccounts"]))]
    key = json.loads(json.dumps(first["service_key_json"]).replace("127.0.0.1", "localhost"))
    deployment = first["deployment_models"]["gpt-4o"][0].replace("127.0.0.1", "localhost")
    doc["subAccounts"]["direct"] = {
        "resource_group": first.get("resource_group", "default"),
        "service_key_json": key,
        "deployment_models": {DIRECT_MODEL: [deployment]},
    }
    first["deployment_models"][UNREACHABLE_MODEL] = [f"http://127.0.0.1:{free_port()}/v2/inference/deployments/x"]
    doc["timeouts"] = {"first_byte": 10, "idle": 10}
    doc["retry"] = {"max_attempts": 1}  # a call that fails through the proxy must show, not be retried away
    path = run_dir / "config-proxied.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


@pytest.fixture(scope="module")
def proxied_urls(proxied_config: Path, corp_proxy: ForwardProxy, run_dir: Path) -> Iterator[dict[str, str]]:
    env = {"PROXY_CONFIG": str(proxied_config)}
    for name in PROXY_VARIABLES:  # both spellings, so nothing inherited can win over them
        value = {"http_proxy": corp_proxy.url, "https_proxy": corp_proxy.url, "no_proxy": "localhost"}.get(name, "")
        env[name] = env[name.upper()] = value
    services = []
    urls: dict[str, str] = {}
    try:
        for name, argv_for in (("flask", flask_argv), ("fastapi", fastapi_argv)):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            services.append(start_service(f"{name}-proxied", argv_for(port), f"{url}/health", run_dir, env))
            urls[name] = url
        yield urls
    finally:
        stop_all(services)


@pytest.fixture(params=STACKS)
def proxied(request: pytest.FixtureRequest, proxied_urls: dict[str, str]) -> Stack:
    return Stack(request.param, proxied_urls[request.param], API_KEY)


def proxy_log_since(proxy: ForwardProxy, before: int, expected: int) -> list[tuple[str, str]]:
    """The proxy's requests after ``before``, waiting briefly for its log to catch up with ``expected``."""
    deadline = time.monotonic() + 3
    while True:
        got = proxy.requests()[before:]
        if len(got) >= expected or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def assert_all_through_proxy(entries: list[dict[str, Any]], proxy: ForwardProxy, before: int, sim: Sim) -> None:
    assert entries, "the stack made no upstream call"
    direct = [f"{e['method']} {e['path']}" for e in entries if "tinyproxy" not in e["headers"].get("via", "")]
    assert direct == [], "these reached the simulator without going through the proxy"
    logged = proxy_log_since(proxy, before, len(entries))
    assert sorted((m, t.partition("?")[0]) for m, t in logged) == sorted(
        ("POST", sim.url + e["path"]) for e in entries
    ), "the proxy's log does not match what the simulator received"


def chat(stack: Stack, model: str, stream: bool = False) -> Any:
    body = {"model": model, "messages": [{"role": "user", "content": "via the proxy"}], "stream": stream}
    with stack.client() as client:
        if stream:
            return stream_raw(client, "/v1/chat/completions", body)
        return client.post("/v1/chat/completions", json=body)


def test_token_and_chat_calls_reach_the_simulator_only_through_the_proxy(proxied, sim, corp_proxy):
    mark, before = sim.mark(), len(corp_proxy.requests())
    resp = chat(proxied, "gpt-4o")
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == "gpt-4o says: via the proxy"
    entries = sim.journal(mark)
    # The stacks are fresh: their first call authenticates, so the token call is among them.
    assert "/oauth/token" in [e["path"] for e in entries]
    assert_all_through_proxy(entries, corp_proxy, before, sim)
    assert all("proxy-authorization" not in e["headers"] for e in entries), "the proxy credentials leaked upstream"


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_streams_reach_the_simulator_only_through_the_proxy(proxied, sim, corp_proxy, model):
    mark, before = sim.mark(), len(corp_proxy.requests())
    s = chat(proxied, model, stream=True)
    assert s.status == 200, s.body
    assert s.text() == f"{model} says: via the proxy"
    assert s.data.count("[DONE]") == 1
    assert_all_through_proxy(sim.journal(mark), corp_proxy, before, sim)


def test_no_proxy_hosts_are_reached_directly(proxied, sim, corp_proxy):
    mark, before = sim.mark(), len(corp_proxy.requests())
    resp = chat(proxied, DIRECT_MODEL)
    assert resp.status_code == 200, resp.text
    entries = sim.journal(mark)
    assert entries and all("via" not in e["headers"] for e in entries)
    time.sleep(0.2)  # give the proxy's log a moment: nothing may appear in it
    assert corp_proxy.requests()[before:] == []


def test_failures_through_the_proxy_never_show_its_credentials(proxied, run_dir):
    resp = chat(proxied, UNREACHABLE_MODEL)
    assert resp.status_code in (502, 503, 504), resp.text
    encoded = base64.b64encode(f"corp:{PROXY_PASSWORD}".encode()).decode()
    for text in (resp.text, (run_dir / f"{proxied.name}-proxied.log").read_text(errors="replace")):
        assert PROXY_PASSWORD not in text and encoded not in text


@pytest.fixture
def gzip_sim(sim: Sim) -> Iterator[Sim]:
    resp = sim.client.post("/__sim/settings", json={"gzip": True})
    if resp.status_code != 200:
        pytest.skip(f"the simulator has no gzip setting yet ({resp.status_code}: {resp.text[:120]})")
    try:
        yield sim
    finally:
        sim.client.post("/__sim/settings", json={"gzip": False})


@pytest.mark.parametrize("model", CHAT_MODELS)
def test_gzipped_streams_and_answers_are_decoded(stack, gzip_sim, model):
    mark = gzip_sim.mark()
    s = chat(stack, model, stream=True)
    assert s.status == 200, s.body
    assert s.text() == f"{model} says: via the proxy"
    assert s.data.count("[DONE]") == 1 and s.data[-1] == "[DONE]"
    resp = chat(stack, model)
    assert resp.status_code == 200, resp.text
    assert resp.json()["choices"][0]["message"]["content"] == f"{model} says: via the proxy"
    asked = {e["headers"].get("accept-encoding") for e in gzip_sim.journal(mark)}
    assert asked == {ACCEPT_ENCODING}, "both stacks ask for the codings they decode"
