"""``GET /metrics`` on both stacks: the same names and labels, counts that move exactly, workers summed.

The rollout tooling (``proxyctl status``/``promote``) reads these, so the tests pin the
names, the label sets and what one request of each kind adds. The last test starts each
stack with two workers and ``PROMETHEUS_MULTIPROC_DIR``: every scrape, whichever worker
answers it, must show the totals of both.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from proxyctl.procs import fastapi_argv, flask_argv, free_port, metrics_env, start_service, stop_all
from tests.contract.conftest import API_KEY, STACKS, Sim, Stack
from tests.contract.sse_client import stream_raw

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "metrics"}]}
FAMILIES = {
    "proxy_requests": ("counter", {"stack", "route", "model", "status"}),
    "proxy_request_duration_seconds": ("histogram", {"stack", "route", "model"}),
    "proxy_ttft_seconds": ("histogram", {"stack", "route", "model"}),
    "proxy_streams_in_flight": ("gauge", {"stack"}),
    "proxy_upstream_retries": ("counter", {"stack", "reason"}),
    "proxy_token_refreshes": ("counter", {"stack", "sub_account"}),
    "proxy_dropped_fields": ("counter", {"stack", "route", "field"}),
}


class Scrape:
    """One scrape, parsed with prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        self.families = list(text_string_to_metric_families(text))
        self.samples = [s for f in self.families for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        """Sum of the samples called ``name`` whose labels include ``labels``."""
        return sum(
            s.value for s in self.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        )

    def __sub__(self, before: Scrape) -> Delta:
        return Delta(self, before)


class Delta:
    def __init__(self, after: Scrape, before: Scrape) -> None:
        self.after, self.before = after, before

    def __call__(self, name: str, **labels: str) -> float:
        return self.after.value(name, **labels) - self.before.value(name, **labels)


def scrape(url: str) -> Scrape:
    """A scrape on a new connection (so with several workers any of them may answer)."""
    r = httpx.get(f"{url}/metrics", timeout=10, headers={"Connection": "close"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "x-proxy-stack" in r.headers and "x-request-id" in r.headers
    return Scrape(r.text)


def chat(stack: Stack, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    with stack.client() as c:
        return c.post(CHAT, json=body or BODY, **kw)


def test_metrics_need_no_key_and_name_the_same_families_on_both_stacks(both: list[Stack]):
    shapes = []
    for stack in both:
        assert chat(stack).status_code == 200
        with stack.client() as c:  # one finished stream, so the TTFT histogram has a series
            assert stream_raw(c, CHAT, {**BODY, "stream": True}).status == 200
        got = scrape(stack.url)
        shape = {}
        for family in got.families:
            if family.name.startswith("proxy_"):
                label_sets = {frozenset(s.labels) - {"le"} for s in family.samples}
                assert len(label_sets) == 1, family.name
                shape[family.name] = (family.type, set(next(iter(label_sets))))
                assert {s.labels["stack"] for s in family.samples} == {stack.name}
        assert shape == FAMILIES
        shapes.append(shape)
        buckets = {s.labels["le"] for s in got.samples if s.name == "proxy_request_duration_seconds_bucket"}
        assert {"0.005", "1.0", "60.0", "300.0", "+Inf"} <= buckets
    assert shapes[0] == shapes[1]


def test_a_known_mix_moves_the_counters_exactly(stack: Stack):
    before = scrape(stack.url)
    assert chat(stack).status_code == 200
    with stack.client() as c:
        streamed = stream_raw(c, CHAT, {**BODY, "stream": True})
    assert streamed.status == 200 and streamed.data[-1] == "[DONE]"
    assert chat(stack, {**BODY, "model": "no-such-model"}).status_code == 404
    assert chat(stack, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with stack.client() as c:
        assert c.get("/v1/no-such-route?x=1").status_code == 404
    d = scrape(stack.url) - before

    count = "proxy_requests_total"
    assert d(count, stack=stack.name) == 5, "scrapes are not counted"
    assert d(count, route=CHAT, model="gpt-4o", status="200") == 2
    assert d(count, route=CHAT, model="other", status="404") == 1  # not configured: one label for all such
    assert d(count, route=CHAT, model="", status="401") == 1
    assert d(count, route="other", model="", status="404") == 1  # never the raw path, never the query

    assert d("proxy_request_duration_seconds_count", route=CHAT, model="gpt-4o") == 2
    assert d("proxy_request_duration_seconds_count", route=CHAT, model="other") == 1
    assert d("proxy_request_duration_seconds_count", route=CHAT, model="") == 1  # the 401: no model read
    assert d("proxy_request_duration_seconds_bucket", route=CHAT, model="gpt-4o", le="+Inf") == 2
    assert d("proxy_ttft_seconds_count", route=CHAT, model="gpt-4o") == 1
    assert d("proxy_ttft_seconds_count", stack=stack.name) == 1
    ttft = d("proxy_ttft_seconds_sum", route=CHAT, model="gpt-4o")
    assert 0 < ttft <= d("proxy_request_duration_seconds_sum", route=CHAT, model="gpt-4o")
    assert d("proxy_upstream_retries_total", stack=stack.name) == 0
    assert scrape(stack.url).value("proxy_streams_in_flight", stack=stack.name) == 0


def test_other_model_names_share_one_label(stack: Stack):
    before = scrape(stack.url)
    body = {"model": "claude-haiku-unconfigured", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    with stack.client() as c:  # served through fallback_models: a Job, with the client's own model name
        assert c.post("/v1/messages", json=body).status_code == 200
    d = scrape(stack.url) - before
    assert d("proxy_requests_total", route="/v1/messages", model="other", status="200") == 1


def test_retries_and_token_refreshes_are_counted_by_reason(stack: Stack, sim: Sim):
    for _ in range(2):  # both sub-accounts hold a token, so only the faults below fetch one
        assert chat(stack).status_code == 200
    before = scrape(stack.url)
    faults: list[tuple[dict[str, Any], str]] = [
        ({"status": 429}, "429"),
        ({"status": 503}, "5xx"),
        ({"drop_connection": True}, "connect"),
        ({"delay_headers_ms": 3000}, "timeout"),  # past timeouts.first_byte (2 s)
        ({"revoke_token": True}, "auth"),  # refreshed once and retried: one retry, one token fetch
    ]
    for fault, _reason in faults:
        sim.fault(target="*", times=1, **fault)
        assert chat(stack).status_code == 200
    d = scrape(stack.url) - before
    for _fault, reason in faults:
        assert d("proxy_upstream_retries_total", stack=stack.name, reason=reason) == 1, reason
    assert d("proxy_upstream_retries_total", stack=stack.name) == len(faults)
    assert d("proxy_token_refreshes_total", stack=stack.name) == 1
    assert d("proxy_requests_total", route=CHAT, model="gpt-4o", status="200") == len(faults)

    # The refreshed token is refused again and the token endpoint fails: re-auth, then failover.
    before = scrape(stack.url)
    sim.fault(target="*", times=1, revoke_token=True)
    sim.fault(target="token", times=1, status=500)
    assert chat(stack).status_code == 200
    d = scrape(stack.url) - before
    assert d("proxy_upstream_retries_total", reason="auth") == 1
    assert d("proxy_upstream_retries_total", reason="token") == 1
    assert d("proxy_token_refreshes_total", stack=stack.name) == 0


# -- several workers ------------------------------------------------------------------------------


def worker_pids(directory: Path) -> set[int]:
    return {int(p.stem.rsplit("_", 1)[1]) for p in directory.glob("counter_*.db")}


def served_by(directory: Path, pid: int) -> float:
    """Chat requests one worker counted, from its own file alone."""
    metrics = MultiProcessCollector.merge([str(directory / f"counter_{pid}.db")])
    return sum(
        s.value
        for m in metrics
        for s in m.samples
        if s.name == "proxy_requests_total" and s.labels.get("route") == CHAT
    )


@pytest.fixture(params=STACKS)
def two_workers(request: pytest.FixtureRequest, proxy_config: Path, run_dir: Path) -> Iterator[tuple[str, Path]]:
    name = request.param
    directory = run_dir / f"metrics-{name}-2w"
    env = {"PROXY_CONFIG": str(proxy_config), **metrics_env(directory)}
    port = free_port()
    argv = (flask_argv if name == "flask" else fastapi_argv)(port, workers=2)
    url = f"http://127.0.0.1:{port}"
    service = start_service(f"{name}-2w", argv, f"{url}/health", run_dir, env)
    try:
        deadline = time.monotonic() + 30
        while len(worker_pids(directory)) < 2:  # each worker writes its files when its app is built
            assert time.monotonic() < deadline, service.log_tail()
            time.sleep(0.1)
        yield url, directory
    finally:
        stop_all([service])


def send(url: str, stream: bool) -> int:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30) as c:
        if stream:
            return stream_raw(c, CHAT, {**BODY, "stream": True}).status
        return c.post(CHAT, json=BODY).status_code


@pytest.mark.timeout(180)
def test_two_workers_every_scrape_sums_both(two_workers: tuple[str, Path], sim: Sim):
    url, directory = two_workers
    sent = streams = 0
    with ThreadPoolExecutor(16) as pool:
        for _ in range(20):  # until both workers have served some (the kernel picks who accepts)
            kinds = [i % 4 == 0 for i in range(32)]
            assert all(s == 200 for s in pool.map(lambda st: send(url, st), kinds))
            sent, streams = sent + len(kinds), streams + sum(kinds)
            if all(served_by(directory, pid) > 0 for pid in worker_pids(directory)):
                break
    pids = worker_pids(directory)
    assert len(pids) == 2 and all(served_by(directory, pid) > 0 for pid in pids), "one worker served everything"
    assert sum(served_by(directory, pid) for pid in pids) == sent

    for _ in range(12):  # new connection each time: whichever worker answers, the totals are the same
        got = scrape(url)
        assert got.value("proxy_requests_total", route=CHAT, model="gpt-4o", status="200") == sent
        assert got.value("proxy_request_duration_seconds_count", route=CHAT) == sent
        assert got.value("proxy_ttft_seconds_count", route=CHAT) == streams
        assert got.value("proxy_streams_in_flight") == 0
        assert len([s for s in got.samples if s.name == "proxy_streams_in_flight"]) == 1

    # A worker that dies takes nothing with it: its counts stay in the totals.
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(worker_pids(directory) - {victim}) < 2:  # the server starts a replacement
        assert time.monotonic() < deadline, "no replacement worker"
        time.sleep(0.1)
    assert send(url, False) == 200
    for _ in range(6):
        assert scrape(url).value("proxy_requests_total", route=CHAT, model="gpt-4o", status="200") == sent + 1
