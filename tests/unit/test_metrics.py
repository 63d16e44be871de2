"""shared/metrics.py and shared/metrics_multiproc.py: labels, TTFT, retry reasons, multiprocess files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.parser import text_string_to_metric_families

from shared import metrics_multiproc
from shared.config import parse_config
from shared.convert.responses_stream import ChatToResponsesStream
from shared.errors import TokenFetchError, UpstreamError, UpstreamTimeout, UpstreamUnavailable, transport_error
from shared.metrics import (
    BUCKETS,
    CONTENT_TYPE,
    EXPOSITION_HANDLER,
    OTHER,
    RETRY_REASONS,
    Recorder,
    StackMetrics,
    carries_content,
    exposition,
    retry_reason,
)
from shared.routes import ROUTES
from shared.silence import KEEPALIVE
from shared.sse import encode_event
from shared.wire import UpstreamResponse

ROOT = Path(__file__).resolve().parents[2]
CONFIG = parse_config(
    {
        "subAccounts": {
            "a": {
                "service_key_json": {"clientid": "c", "clientsecret": "s", "url": "http://127.0.0.1:9"},
                "deployment_models": {
                    "gpt-4o": ["http://127.0.0.1:9/v2/inference/deployments/d1"],
                    "gemini-2.5-pro": ["http://127.0.0.1:9/v2/inference/deployments/d2"],
                },
            },
            "b": {
                "service_key_json": {"clientid": "c2", "clientsecret": "s2", "url": "http://127.0.0.1:9"},
                "deployment_models": {"gpt-4o": ["http://127.0.0.1:9/v2/inference/deployments/d3"]},
            },
        },
        "secret_authentication_tokens": ["k"],
    }
)
CHAT = "/v1/chat/completions"


def scraped(stack: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """This process's samples of one stack label, parsed back from the exposition."""
    out = {}
    for family in text_string_to_metric_families(exposition().decode()):
        for s in family.samples:
            if s.labels.get("stack") == stack:
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


@pytest.fixture
def stack() -> str:
    return f"unit-{uuid.uuid4().hex[:8]}"  # the registry is per process: a fresh label per test


def test_the_route_table_has_the_exposition_route():
    route = next(r for r in ROUTES if r.handler == EXPOSITION_HANDLER)
    assert (route.path, route.method, route.auth) == ("/metrics", "GET", False)
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
    assert BUCKETS == tuple(sorted(BUCKETS)) and BUCKETS[0] <= 0.005 and BUCKETS[-1] >= 300


def test_labels_are_bounded_and_children_cached(stack: str):
    m = StackMetrics(stack, CONFIG)
    chat = m.route(CHAT)
    assert m.route(CHAT) is chat
    assert m.route("/v1/chat/completions?x=1") is m.route("/wp-admin") is m.route(OTHER)
    assert chat.series("gpt-4o") is chat.series("gpt-4o")
    assert chat.series("no-such-model") is chat.series("another-one")  # both "other"
    assert chat.series(None) is chat.series("")
    chat.series("gpt-4o").done(200, 0.2)
    chat.series("no-such-model").done(404, 0.001)
    chat.series(None).done(401, 0.001)
    m.route("/nope").series(None).counted(404)
    got = scraped(stack)
    assert value(got, "proxy_requests_total", route=CHAT, model="gpt-4o", status="200") == 1
    assert value(got, "proxy_requests_total", route=CHAT, model=OTHER, status="404") == 1
    assert value(got, "proxy_requests_total", route=CHAT, model="", status="401") == 1
    assert value(got, "proxy_requests_total", route=OTHER, model="", status="404") == 1
    assert value(got, "proxy_request_duration_seconds_count", route=CHAT) == 3
    assert value(got, "proxy_request_duration_seconds_bucket", route=CHAT, model="gpt-4o", le="0.25") == 1
    assert value(got, "proxy_request_duration_seconds_bucket", route=CHAT, model="gpt-4o", le="0.1") == 0
    assert value(got, "proxy_request_duration_seconds_count", route=OTHER) == 0


def test_every_series_of_retries_and_tokens_exists_from_the_start(stack: str):
    StackMetrics(stack, CONFIG)
    got = scraped(stack)
    assert {dict(ls)["reason"] for n, ls in got if n == "proxy_upstream_retries_total"} == set(RETRY_REASONS)
    assert {dict(ls)["sub_account"] for n, ls in got if n == "proxy_token_refreshes_total"} == {"a", "b"}
    assert value(got, "proxy_streams_in_flight") == 0
    assert not any(n.endswith("_created") for n, _ in got)


def test_retries_token_refreshes_and_a_null_recorder(stack: str):
    m = StackMetrics(stack, CONFIG)
    m.retried("429")
    m.retried("429")
    m.retried("token")
    m.token_refreshed("b")
    got = scraped(stack)
    assert value(got, "proxy_upstream_retries_total", reason="429") == 2
    assert value(got, "proxy_upstream_retries_total", reason="token") == 1
    assert value(got, "proxy_token_refreshes_total", sub_account="b") == 1
    assert value(got, "proxy_token_refreshes_total", sub_account="a") == 0
    Recorder().retried("429")  # records nothing, raises nothing
    Recorder().token_refreshed("a")


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (UpstreamResponse(200, {}), None),
        (UpstreamResponse(429, {}), "429"),
        (UpstreamResponse(500, {}), "5xx"),
        (UpstreamResponse(503, {}), "5xx"),
        (UpstreamResponse(410, {}), "5xx"),  # an odd status the flow still retries elsewhere
        (UpstreamResponse(401, {}), "auth"),
        (UpstreamResponse(403, {}), "auth"),
        (UpstreamResponse(404, {}), "auth"),
        (UpstreamResponse(400, {}), None),  # the client's mistake: passed on, not retried
        (UpstreamResponse(422, {}), None),
        (transport_error("connect", "d"), "connect"),
        (transport_error("connect_timeout", "d"), "timeout"),
        (transport_error("timeout", "d"), "timeout"),
        (transport_error("other", "d"), "connect"),
        (UpstreamUnavailable("x"), "connect"),
        (UpstreamTimeout("x"), "timeout"),
        (UpstreamError("x"), "connect"),
        (TokenFetchError("x"), "token"),
    ],
)
def test_retry_reasons(outcome: object, reason: str | None):
    assert retry_reason(outcome) == reason  # type: ignore[arg-type]
    assert reason is None or reason in RETRY_REASONS


@pytest.mark.parametrize(
    ("chunk", "content"),
    [
        (b"", False),
        (KEEPALIVE, False),
        (b": keep-alive\n\n: again\n\n", False),
        (b'data: {"id":"chatcmpl-1","choices":[{"delta":{"role":"assistant"}}]}\n\n', True),
        (b'event: message_start\ndata: {"type":"message_start"}\n\n', True),
        (b'event: response.created\ndata: {"type":"response.created"}\n\n', True),
        (b": keep-alive\n\ndata: {}\n\n", True),
        (b'data: {"error": {"message": "upstream timed out"}}\n\ndata: [DONE]\n\n', False),
        (b'event: error\ndata: {"type":"error"}\n\n', False),
        (b': keep-alive\n\ndata: {"error": {}}\n\n', False),
    ],
)
def test_what_counts_as_the_first_token(chunk: bytes, content: bool):
    assert carries_content(chunk) is content


def test_a_responses_stream_that_fails_before_any_output_has_no_first_token():
    def named(events: list[dict[str, object]]) -> bytes:
        return b"".join(encode_event(str(e["type"]), e) for e in events)

    request = {"model": "gpt-4o", "input": "hi"}
    failed = ChatToResponsesStream(response_id="resp_1", created_at=1, request=request)
    assert not carries_content(named(failed.fail(UpstreamTimeout("slow"))))
    answering = ChatToResponsesStream(response_id="resp_1", created_at=1, request=request)
    delta = {"role": "assistant", "content": "Hel"}
    first = named(
        answering.feed({"id": "x", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]})
    )
    assert carries_content(first)
    assert carries_content(first + named(answering.fail(UpstreamTimeout("slow"))))


def test_a_stream_moves_the_gauge_and_ttft_once(stack: str):
    m = StackMetrics(stack, CONFIG)
    series = m.route(CHAT).series("gpt-4o")
    watch = m.stream(series, started=100.0)
    watch.opened()
    assert value(scraped(stack), "proxy_streams_in_flight") == 1
    watch.chunk(KEEPALIVE, 101.0)
    assert watch.waiting
    watch.chunk(b"data: {}\n\n", 102.5)
    assert not watch.waiting
    watch.closed()
    series.done(200, 9.0)
    got = scraped(stack)
    assert value(got, "proxy_streams_in_flight") == 0
    assert value(got, "proxy_ttft_seconds_count", route=CHAT, model="gpt-4o") == 1
    assert value(got, "proxy_ttft_seconds_sum", route=CHAT, model="gpt-4o") == 2.5
    assert value(got, "proxy_request_duration_seconds_sum", route=CHAT, model="gpt-4o") == 9.0


def test_both_apps_serve_the_exposition():
    from fastapi.testclient import TestClient

    import proxy_server
    import proxy_server_fastapi

    flask_resp = proxy_server.create_app(CONFIG).test_client().get("/metrics")
    with TestClient(proxy_server_fastapi.create_app(CONFIG)) as client:
        fastapi_resp = client.get("/metrics")
    for resp, name in ((flask_resp, "flask"), (fastapi_resp, "fastapi")):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == CONTENT_TYPE
        assert resp.headers["x-proxy-stack"] == name
        text = resp.text if name == "fastapi" else resp.get_data(as_text=True)
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"proxy_requests", "proxy_streams_in_flight", "proxy_upstream_retries"} <= names


# -- multiprocess -------------------------------------------------------------------------------


def touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"")


def test_reset_dir_creates_and_empties(tmp_path: Path):
    d = tmp_path / "m"
    metrics_multiproc.reset_dir(d)
    touch(d, "counter_1.db", "gauge_livesum_1.db", "keep.txt")
    metrics_multiproc.reset_dir(d)
    assert sorted(p.name for p in d.iterdir()) == ["keep.txt"]


FILES = [
    "counter_7.db", "histogram_7.db", "gauge_livesum_7.db", "gauge_liveall_7.db", "gauge_livemax_7.db",
    "gauge_livemin_7.db", "gauge_livemostrecent_7.db", "gauge_sum_7.db", "gauge_all_7.db",
    "gauge_livesum_77.db", "counter_8.db", "gauge_livesum_8.db",
]  # fmt: skip


def test_mark_process_dead_removes_what_prometheus_client_removes(tmp_path: Path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for d in (ours, theirs):
        d.mkdir()
        touch(d, *FILES)
    metrics_multiproc.mark_process_dead(7, ours)
    prom_multiprocess.mark_process_dead(7, str(theirs))
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    assert "counter_7.db" in {p.name for p in ours.iterdir()}  # totals stay


def test_sweep_removes_only_dead_workers_live_gauges(tmp_path: Path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, me = int(dead.stdout), os.getpid()
    touch(tmp_path, f"gauge_livesum_{dead_pid}.db", f"counter_{dead_pid}.db", f"gauge_livesum_{me}.db")
    assert metrics_multiproc.sweep_dead_workers(tmp_path) == [dead_pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{dead_pid}.db", f"gauge_livesum_{me}.db"])


WORKER = textwrap.dedent(
    """
    import sys
    from tests.unit.test_metrics import CONFIG, CHAT
    from shared.metrics import StackMetrics, exposition, multiprocess

    assert multiprocess()
    m = StackMetrics("mp", CONFIG)
    for _ in range(int(sys.argv[1])):
        m.route(CHAT).series("gpt-4o").done(200, 0.3)
    watch = m.stream(m.route(CHAT).series("gpt-4o"), 0.0)
    watch.opened()  # left open: this "worker" dies with a stream in flight
    m.retried("5xx")
    if sys.argv[2] == "scrape":
        sys.stdout.write(exposition().decode())
    """
)


def test_workers_write_files_and_any_scrape_sums_them(tmp_path: Path):
    env = {**os.environ, metrics_multiproc.ENV: str(tmp_path)}

    def worker(n: int, then: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(n), then], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker(3, "exit")
    text = worker(4, "scrape")  # the second worker sweeps the first one's live gauge as it starts
    got: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            got[(s.name, frozenset(s.labels.items()))] = s.value
    assert value(got, "proxy_requests_total", stack="mp", route=CHAT, model="gpt-4o", status="200") == 7
    assert value(got, "proxy_request_duration_seconds_count", stack="mp") == 7
    assert value(got, "proxy_upstream_retries_total", stack="mp", reason="5xx") == 2
    assert value(got, "proxy_streams_in_flight", stack="mp") == 1  # the dead worker's stream is not counted
