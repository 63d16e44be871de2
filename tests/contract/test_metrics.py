"""``GET /metrics`` on both stacks: the same names and labels, counts that move exactly, workers summed.

The rollout tooling (``proxyctl status``/``promote``) reads these, so the tests pin the
names, the label sets and what one request of each kind adds. The last test starts each
stack with two workers and ``PROMETHEUS_MULTIPROC_DIR``: every scrape, whichever worker
answers it, must show the totals of both.
"""

from __future__ import annotations

import json
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
ROUTE = {"stack", "route"}
FAMILIES = {
    "aicore_proxy_requests": ("counter", {"stack", "route", "model", "outcome", "code"}),
    "aicore_proxy_request_duration_seconds": ("histogram", ROUTE),
    "aicore_proxy_time_to_first_token_seconds": ("histogram", ROUTE),
    "aicore_proxy_upstream_time_to_first_byte_seconds": ("histogram", ROUTE),
    "aicore_proxy_overhead_seconds": ("histogram", ROUTE),
    "aicore_proxy_tokens": ("counter", {"stack", "model", "kind"}),
    "aicore_proxy_upstream_requests": ("counter", {"stack", "code"}),
    "aicore_proxy_upstream_retries": ("counter", {"stack", "reason"}),
    "aicore_proxy_upstream_failovers": ("counter", {"stack", "reason"}),
    "aicore_proxy_token_fetches": ("counter", {"stack", "sub_account", "result"}),
    "aicore_proxy_requests_in_flight": ("gauge", {"stack"}),
    "aicore_proxy_streams_in_flight": ("gauge", {"stack"}),
    "aicore_proxy_streams": ("counter", {"stack"}),
    "aicore_proxy_build_info": ("gauge", {"version", "stack", "python", "server"}),
    "aicore_proxy_process_resident_memory_bytes": ("gauge", {"stack"}),
    "aicore_proxy_process_cpu_seconds": ("counter", {"stack"}),
    "aicore_proxy_process_open_fds": ("gauge", {"stack"}),
}
DROPPED = {"aicore_proxy_dropped_fields": ("counter", {"stack", "route", "field"})}  # once something was dropped


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
            if family.name.startswith("aicore_proxy_") and family.samples:
                label_sets = {frozenset(s.labels) - {"le"} for s in family.samples}
                assert len(label_sets) == 1, family.name
                shape[family.name] = (family.type, set(next(iter(label_sets))))
                assert {s.labels["stack"] for s in family.samples} == {stack.name}
        assert FAMILIES.items() <= shape.items() <= {**FAMILIES, **DROPPED}.items()
        shapes.append(shape)
        buckets = {s.labels["le"] for s in got.samples if s.name == "aicore_proxy_request_duration_seconds_bucket"}
        assert {"0.005", "0.05256", "1.0", "58.69", "120.0", "600.0", "+Inf"} <= buckets
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

    count = "aicore_proxy_requests_total"
    assert d(count, stack=stack.name) == 5, "scrapes, health and readiness checks are not counted"
    assert d(count, route=CHAT, model="gpt-4o", outcome="completed", code="200") == 2
    assert d(count, route=CHAT, model="other", outcome="refused", code="404") == 1  # one label for all such
    assert d(count, route=CHAT, model="", outcome="refused", code="401") == 1
    assert d(count, route="other", model="", outcome="refused", code="404") == 1  # never the raw path or query

    assert d("aicore_proxy_request_duration_seconds_count", route=CHAT) == 4
    assert d("aicore_proxy_request_duration_seconds_bucket", route=CHAT, le="+Inf") == 4
    assert d("aicore_proxy_time_to_first_token_seconds_count", stack=stack.name) == 1
    assert d("aicore_proxy_streams_total", stack=stack.name) == 1  # the one stream; the JSON answers are none
    ttft = d("aicore_proxy_time_to_first_token_seconds_sum", route=CHAT)
    assert 0 < ttft <= d("aicore_proxy_request_duration_seconds_sum", route=CHAT)
    assert d("aicore_proxy_upstream_time_to_first_byte_seconds_count", route=CHAT) == 2  # the two that went upstream
    assert d("aicore_proxy_overhead_seconds_count", route=CHAT) == 2
    assert 0 < d("aicore_proxy_overhead_seconds_sum", route=CHAT) < d("aicore_proxy_request_duration_seconds_sum")
    assert d("aicore_proxy_upstream_requests_total", stack=stack.name, code="200") == 2
    assert d("aicore_proxy_upstream_retries_total", stack=stack.name) == 0
    assert d("aicore_proxy_tokens_total", stack=stack.name, model="gpt-4o", kind="output") > 0
    after = scrape(stack.url)
    assert after.value("aicore_proxy_streams_in_flight", stack=stack.name) == 0
    assert after.value("aicore_proxy_requests_in_flight", stack=stack.name) == 0


def test_other_model_names_share_one_label(stack: Stack):
    before = scrape(stack.url)
    body = {"model": "claude-haiku-unconfigured", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    with stack.client() as c:  # served through fallback_models: a Job, with the client's own model name
        assert c.post("/v1/messages", json=body).status_code == 200
    d = scrape(stack.url) - before
    assert d("aicore_proxy_requests_total", route="/v1/messages", model="other", code="200") == 1


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
        assert d("aicore_proxy_upstream_retries_total", stack=stack.name, reason=reason) == 1, reason
    assert d("aicore_proxy_upstream_retries_total", stack=stack.name) == len(faults)
    assert d("aicore_proxy_token_fetches_total", stack=stack.name, result="ok") == 1
    assert d("aicore_proxy_requests_total", route=CHAT, model="gpt-4o", code="200") == len(faults)
    # 429, 5xx, connect and timeout moved to the model's other deployment; the re-auth did not
    assert d("aicore_proxy_upstream_failovers_total", stack=stack.name) == 4
    assert d("aicore_proxy_upstream_requests_total", stack=stack.name, code="429") == 1
    assert d("aicore_proxy_upstream_requests_total", stack=stack.name, code="timeout") == 1

    # The refreshed token is refused again and the token endpoint fails: re-auth, then failover.
    before = scrape(stack.url)
    sim.fault(target="*", times=1, revoke_token=True)
    sim.fault(target="token", times=1, status=500)
    assert chat(stack).status_code == 200
    d = scrape(stack.url) - before
    assert d("aicore_proxy_upstream_retries_total", reason="auth") == 1
    assert d("aicore_proxy_upstream_retries_total", reason="token") == 1
    assert d("aicore_proxy_token_fetches_total", stack=stack.name, result="ok") == 0
    assert d("aicore_proxy_token_fetches_total", stack=stack.name, result="failed") == 1


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
        if s.name == "aicore_proxy_requests_total" and s.labels.get("route") == CHAT
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
        assert got.value("aicore_proxy_requests_total", route=CHAT, model="gpt-4o", code="200") == sent
        assert got.value("aicore_proxy_request_duration_seconds_count", route=CHAT) == sent
        assert got.value("aicore_proxy_time_to_first_token_seconds_count", route=CHAT) == streams
        assert got.value("aicore_proxy_streams_in_flight") == 0
        assert len([s for s in got.samples if s.name == "aicore_proxy_streams_in_flight"]) == 1
        assert got.value("aicore_proxy_build_info") == 1  # two workers, one build

    # A worker that dies takes nothing with it: its counts stay in the totals.
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while len(worker_pids(directory) - {victim}) < 2:  # the server starts a replacement
        assert time.monotonic() < deadline, "no replacement worker"
        time.sleep(0.1)
    assert send(url, False) == 200
    for _ in range(6):
        assert scrape(url).value("aicore_proxy_requests_total", route=CHAT, model="gpt-4o", code="200") == sent + 1


# -- what the canary compares: outcomes, tokens, readiness ------------------------------------------


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [({"cut_after_chunks": 2}, "stream_failed"), ({"malformed_after_chunks": 2}, "stream_failed")],
)
def test_a_stream_that_fails_after_its_first_byte_is_a_failure(stack: Stack, sim: Sim, fault: dict, outcome: str):
    before = scrape(stack.url)
    sim.fault(target="*", stream=True, malformed_then="stop", **fault)
    long = {**BODY, "stream": True, "messages": [{"role": "user", "content": "a b c d e f g h"}]}
    with stack.client() as c:
        streamed = stream_raw(c, CHAT, long)
    assert streamed.status == 200 and streamed.data[-2].startswith('{"error"')  # the client saw it in-band
    d = scrape(stack.url) - before
    assert d("aicore_proxy_requests_total", route=CHAT, outcome=outcome, code="200") == 1
    assert d("aicore_proxy_requests_total", route=CHAT, outcome="completed") == 0


def test_a_silent_stream_is_a_timeout_after_its_first_byte(stack: Stack, sim: Sim):
    before = scrape(stack.url)
    sim.fault(target="*", stream=True, times=1, delay_first_chunk_ms=4000)  # past timeouts.first_byte (2 s)
    with stack.client() as c:
        streamed = stream_raw(c, CHAT, {**BODY, "stream": True})
    assert streamed.status == 200
    d = scrape(stack.url) - before
    assert d("aicore_proxy_requests_total", route=CHAT, outcome="stream_timed_out", code="200") == 1


def usage_of(stack: Stack, model: str, stream: bool) -> tuple[int, int]:
    """What the client sees of the usage the upstream reported (prompt, completion)."""
    body = {"model": model, "messages": [{"role": "user", "content": "count my tokens please"}], "max_tokens": 50}
    with stack.client() as c:
        if not stream:
            usage = c.post(CHAT, json=body).json()["usage"]
            return usage["prompt_tokens"], usage["completion_tokens"]
        events = stream_raw(c, CHAT, {**body, "stream": True, "stream_options": {"include_usage": True}})
    (usage,) = [json.loads(d)["usage"] for d in events.data if d != "[DONE]" and '"usage":{' in d.replace(" ", "")]
    return usage["prompt_tokens"], usage["completion_tokens"]


@pytest.mark.parametrize(
    "model", ["gpt-4o", "anthropic--claude-4.5-sonnet", "anthropic--claude-3.7-sonnet", "gemini-2.5-pro"]
)
def test_token_counts_equal_the_usage_the_upstream_reported(stack: Stack, model: str):
    kinds = {"stack": stack.name, "model": model}
    for stream in (False, True):
        before = scrape(stack.url)
        prompt, completion = usage_of(stack, model, stream)
        d = scrape(stack.url) - before
        assert (
            d("aicore_proxy_tokens_total", **kinds, kind="input"),
            d("aicore_proxy_tokens_total", **kinds, kind="output"),
        ) == (
            prompt,
            completion,
        ), f"stream={stream}"
    # A stream whose client did not ask for usage is counted all the same (the answer is deterministic).
    before = scrape(stack.url)
    with stack.client() as c:
        body = {"model": model, "messages": [{"role": "user", "content": "count my tokens please"}], "max_tokens": 50}
        quiet = stream_raw(c, CHAT, {**body, "stream": True})
    assert not any('"usage":{' in d.replace(" ", "") for d in quiet.data)  # not sent to the client
    d = scrape(stack.url) - before
    assert d("aicore_proxy_tokens_total", **kinds, kind="output") == completion


def test_ready_needs_a_token_and_is_not_counted(stack: Stack, sim: Sim):
    before = scrape(stack.url)
    r = httpx.get(f"{stack.url}/ready", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert (scrape(stack.url) - before)("aicore_proxy_requests_total") == 0
