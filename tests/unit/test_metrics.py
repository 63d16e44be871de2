"""shared/runtime/metrics.py and multiproc.py: what one ended request adds, labels, buckets, workers summed."""

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

from shared.adjustments import Adjustments
from shared.config import parse_config
from shared.endpoints import ENDPOINTS
from shared.errors import ProxyError, UpstreamStatusError, UpstreamTimeout
from shared.record import RequestRecord
from shared.replies import Reply
from shared.runtime import multiproc
from shared.runtime.metrics import (
    CONTENT_TYPE,
    EXPOSITION_HANDLER,
    LATENCY_BUCKETS,
    OTHER,
    OVERHEAD_BUCKETS,
    StackMetrics,
    exposition,
)
from shared.usage import Usage
from tests.unit.records import new_record

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


def metrics(stack: str) -> StackMetrics:
    return StackMetrics(stack, CONFIG, server="test")


def test_the_endpoint_table_has_the_exposition_endpoint():
    endpoint = next(e for e in ENDPOINTS if e.handler == EXPOSITION_HANDLER)
    assert (endpoint.path, endpoint.method, endpoint.auth) == ("/metrics", "GET", False)


@pytest.mark.parametrize(("buckets", "low", "high"), [(LATENCY_BUCKETS, 0.05, 60.0), (OVERHEAD_BUCKETS, 0.0005, 2.0)])
def test_buckets_are_fine_enough_for_a_10_percent_comparison(buckets: tuple[float, ...], low: float, high: float):
    inside = [b for b in buckets if low <= b <= high]
    assert inside[0] <= low * 1.1 and inside[-1] >= high / 1.1
    assert all(b / a <= 1.1 for a, b in zip(inside, inside[1:], strict=False))
    assert list(buckets) == sorted(set(buckets))


def ended(m: StackMetrics, record: RequestRecord, reply: Reply, now: float) -> None:
    """What a sink does with a record: the record ends, the metrics count it."""
    record.finished(reply, now)
    m.finished(record, now)


def test_a_completed_request_adds_every_series_once(stack: str):
    m = metrics(stack)
    record = new_record(started=10.0)
    m.request_started(record)
    record.model = "gpt-4o"
    record.token_fetched("a", True, 0.1)
    record.attempt_failed("error", 0.2)
    record.retried("connect", failover=True)
    record.attempted("200", 0.3, "deployment d3")
    record.adjustments.drop("prompt_cache_key", "not defined")
    body = (
        b'{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":4}}}'
    )
    ended(m, record, Reply(200, body), 11.0)
    got = scraped(stack)
    route = {"stack": stack, "route": CHAT}
    assert value(got, "aicore_proxy_requests_total", **route, model="gpt-4o", outcome="completed", code="200") == 1
    assert value(got, "aicore_proxy_request_duration_seconds_count", **route) == 1
    assert value(got, "aicore_proxy_request_duration_seconds_sum", **route) == pytest.approx(1.0)
    assert value(got, "aicore_proxy_upstream_time_to_first_byte_seconds_sum", **route) == pytest.approx(0.3)
    # overhead: 1.0 s to the first byte, 0.6 s of it waiting on SAP AI Core (token, failed try, answer)
    assert value(got, "aicore_proxy_overhead_seconds_sum", **route) == pytest.approx(0.4)
    assert value(got, "aicore_proxy_time_to_first_token_seconds_count", **route) == 0  # not a stream
    tokens = {"stack": stack, "model": "gpt-4o"}
    assert value(got, "aicore_proxy_tokens_total", **tokens, kind="input") == 12
    assert value(got, "aicore_proxy_tokens_total", **tokens, kind="output") == 5
    assert value(got, "aicore_proxy_tokens_total", **tokens, kind="cached_input") == 4
    assert value(got, "aicore_proxy_upstream_requests_total", stack=stack, code="error") == 1
    assert value(got, "aicore_proxy_upstream_requests_total", stack=stack, code="200") == 1
    assert value(got, "aicore_proxy_upstream_retries_total", stack=stack, reason="connect") == 1
    assert value(got, "aicore_proxy_upstream_failovers_total", stack=stack, reason="connect") == 1
    assert value(got, "aicore_proxy_token_fetches_total", stack=stack, sub_account="a", result="ok") == 1
    assert value(got, "aicore_proxy_dropped_fields_total", **route, field="prompt_cache_key") == 1
    assert value(got, "aicore_proxy_requests_in_flight", stack=stack) == 0


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (Reply(400, b"{}", error=UpstreamStatusError("bad", upstream_status=400, status=400)), "upstream_failed"),
        (Reply(401, b"{}"), "refused"),
        (Reply(504, b"{}", error=UpstreamTimeout("slow")), "upstream_failed"),
        (Reply(500, b"{}", error=ProxyError("a bug")), "proxy_failed"),
    ],
)
def test_outcomes_of_complete_answers(stack: str, reply: Reply, outcome: str):
    m = metrics(stack)
    record = new_record()
    m.request_started(record)
    ended(m, record, reply, 1.0)
    assert value(scraped(stack), "aicore_proxy_requests_total", stack=stack, outcome=outcome) == 1


@pytest.mark.parametrize(
    ("end", "outcome", "ttft"),
    [
        (None, "completed", 1),
        (UpstreamTimeout("silent"), "stream_timed_out", 1),
        (UpstreamStatusError("cut", upstream_status=500), "stream_failed", 1),
        ("gone", "client_gone", 1),
    ],
)
def test_a_stream_ends_with_its_outcome_and_moves_the_gauge(stack: str, end: object, outcome: str, ttft: int):
    m = metrics(stack)
    sink_streams = []
    record = new_record(started=0.0)
    m.request_started(record)
    record.model = "gpt-4o"
    record.stream_opened()
    m.stream_started()
    sink_streams.append(value(scraped(stack), "aicore_proxy_streams_in_flight", stack=stack))
    record.attempted("200", 0.2, "d1")
    record.bytes_sent(0.25, content=False)  # a keep-alive: no token yet
    record.bytes_sent(0.5, content=True)
    if end != "gone":
        record.stream_ended(end if isinstance(end, Exception) else None, Usage(3, 7))
    record.stream_closed(2.0)
    m.stream_ended()
    m.finished(record, 2.0)
    got = scraped(stack)
    assert sink_streams == [1] and value(got, "aicore_proxy_streams_in_flight", stack=stack) == 0
    assert value(got, "aicore_proxy_requests_total", stack=stack, outcome=outcome, code="200") == 1
    assert value(got, "aicore_proxy_time_to_first_token_seconds_sum", stack=stack) == pytest.approx(0.5 * ttft)
    assert value(got, "aicore_proxy_overhead_seconds_sum", stack=stack) == pytest.approx(0.05)  # 0.25 - 0.2
    tokens = value(got, "aicore_proxy_tokens_total", stack=stack, kind="output")
    assert tokens == (0 if end == "gone" else 7)


def test_labels_are_bounded(stack: str):
    m = metrics(stack)
    for model, path in (("gpt-4o", CHAT), ("made-up", CHAT), (None, CHAT), ("gpt-4o", "/wp-admin")):
        record = new_record()
        m.request_started(record)
        record.path = path
        record.endpoint = None if path != CHAT else record.endpoint
        record.model = model
        record.adjustments = Adjustments()
        record.adjustments.drop("x-invented-by-a-client", "unknown")
        ended(m, record, Reply(200, b"{}"), 1.0)
    got = scraped(stack)
    assert value(got, "aicore_proxy_requests_total", stack=stack, route=CHAT, model="gpt-4o") == 1
    assert value(got, "aicore_proxy_requests_total", stack=stack, route=CHAT, model=OTHER) == 1
    assert value(got, "aicore_proxy_requests_total", stack=stack, route=CHAT, model="") == 1
    assert value(got, "aicore_proxy_requests_total", stack=stack, route=OTHER) == 1
    assert value(got, "aicore_proxy_dropped_fields_total", stack=stack, field=OTHER) == 4


def test_build_info_and_process_series(stack: str):
    metrics(stack)
    got = scraped(stack)
    (build,) = [labels for (name, labels) in got if name == "aicore_proxy_build_info"]
    assert dict(build)["server"] == "test" and dict(build)["python"].count(".") == 2
    assert value(got, "aicore_proxy_process_resident_memory_bytes", stack=stack) > 10_000_000
    assert value(got, "aicore_proxy_process_cpu_seconds_total", stack=stack) > 0
    assert value(got, "aicore_proxy_process_open_fds", stack=stack) > 2


def test_every_retry_reason_and_token_fetch_series_exists_from_the_start(stack: str):
    metrics(stack)
    got = scraped(stack)
    assert value(got, "aicore_proxy_upstream_retries_total", stack=stack, reason="429") == 0
    assert ("aicore_proxy_upstream_retries_total", frozenset({("stack", stack), ("reason", "429")})) in got
    assert (
        "aicore_proxy_token_fetches_total",
        frozenset({("stack", stack), ("sub_account", "b"), ("result", "failed")}),
    ) in got


def test_both_apps_serve_the_exposition():
    from starlette.testclient import TestClient

    import proxy_server
    import proxy_server_fastapi

    flask = proxy_server.create_app(CONFIG).test_client()
    with TestClient(proxy_server_fastapi.create_app(CONFIG)) as fastapi:
        for name, client in (("flask", flask), ("fastapi", fastapi)):
            resp = client.get("/metrics")
            assert resp.status_code == 200
            assert resp.headers["content-type"] == CONTENT_TYPE
            assert resp.headers["x-proxy-stack"] == name
            text = resp.text if name == "fastapi" else resp.get_data(as_text=True)
            names = {f.name for f in text_string_to_metric_families(text)}
            assert {"aicore_proxy_requests", "aicore_proxy_streams_in_flight", "aicore_proxy_build_info"} <= names


# -- multiprocess -------------------------------------------------------------------------------


def touch(directory: Path, *names: str) -> None:
    for name in names:
        (directory / name).write_bytes(b"")


def test_reset_dir_creates_and_empties(tmp_path: Path):
    d = tmp_path / "m"
    multiproc.reset_dir(d)
    touch(d, "counter_1.db", "gauge_livesum_1.db", "keep.txt")
    multiproc.reset_dir(d)
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
    multiproc.mark_process_dead(7, ours)
    prom_multiprocess.mark_process_dead(7, str(theirs))
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    assert "counter_7.db" in {p.name for p in ours.iterdir()}  # totals stay


def test_sweep_removes_only_dead_workers_live_gauges(tmp_path: Path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, me = int(dead.stdout), os.getpid()
    touch(tmp_path, f"gauge_livesum_{dead_pid}.db", f"counter_{dead_pid}.db", f"gauge_livesum_{me}.db")
    assert multiproc.sweep_dead_workers(tmp_path) == [dead_pid]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"counter_{dead_pid}.db", f"gauge_livesum_{me}.db"])


WORKER = textwrap.dedent(
    """
    import sys
    from tests.unit.test_metrics import CONFIG, CHAT
    from shared.runtime.metrics import StackMetrics, exposition, multiprocess

    assert multiprocess()
    from shared.replies import Reply
    from tests.unit.records import new_record

    m = StackMetrics("mp", CONFIG, server="test")
    for _ in range(int(sys.argv[1])):
        record = new_record()
        m.request_started(record)
        record.model = "gpt-4o"
        record.retried("5xx", failover=False)
        record.finished(Reply(200, b"{}"), 0.3)
        m.finished(record, 0.3)
    m.stream_started()  # left open: this "worker" dies with a stream in flight
    if sys.argv[2] == "scrape":
        sys.stdout.write(exposition().decode())
    """
)


def test_workers_write_files_and_any_scrape_sums_them(tmp_path: Path):
    env = {**os.environ, multiproc.ENV: str(tmp_path)}

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
    assert value(got, "aicore_proxy_requests_total", stack="mp", route=CHAT, model="gpt-4o", code="200") == 7
    assert value(got, "aicore_proxy_request_duration_seconds_count", stack="mp") == 7
    assert value(got, "aicore_proxy_upstream_retries_total", stack="mp", reason="5xx") == 7
    assert value(got, "aicore_proxy_streams_in_flight", stack="mp") == 1  # the dead worker's stream is not counted
    assert value(got, "aicore_proxy_build_info", stack="mp") == 1  # one per label set, not one per worker
