"""The pieces without processes: weight arithmetic, the generated config, /metrics maths, the gate."""

from __future__ import annotations

import argparse
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from proxyctl import metrics
from proxyctl.haproxy import render_config, servers_for, split_weights
from proxyctl.procs import free_port
from proxyctl.promote import COMPARED, judge, preflight
from tests.rollout.conftest import HAPROXY


@pytest.mark.parametrize(("n_flask", "n_fastapi"), [(1, 1), (2, 1), (1, 3), (3, 2), (4, 4)])
@pytest.mark.parametrize("percent", [0, 1, 10, 33, 50, 90, 100])
def test_weights_give_the_percentage_whatever_the_fleet_sizes(n_flask: int, n_fastapi: int, percent: int) -> None:
    wf, wa = split_weights(percent, n_flask, n_fastapi)
    assert 0 <= wf <= 256 and 0 <= wa <= 256
    share = Fraction(wa * n_fastapi, wf * n_flask + wa * n_fastapi)
    assert abs(share - Fraction(percent, 100)) <= Fraction(1, 100)
    assert (wa == 0) == (percent == 0) and (wf == 0) == (percent == 100)


def _config(tmp_path: Path, sticky: bool) -> str:
    servers = servers_for(["10.0.0.1:3001", "10.0.0.2:3001"], ["10.0.1.1:3002"])
    return render_config(
        servers,
        percent=10,
        bind="0.0.0.0",
        port=3000,
        admin_port=3003,
        socket_path=tmp_path / "s.sock",
        state_file=tmp_path / "state",
        sticky=sticky,
    )


@pytest.mark.parametrize("sticky", [False, True])
def test_generated_config_streams_and_keeps_state(tmp_path: Path, sticky: bool) -> None:
    cfg = _config(tmp_path, sticky)
    for line in (
        "timeout server 10m",
        "timeout client 10m",
        "timeout tunnel 10m",
        "no option http-buffer-request",
        "load-server-state-from-file global",
        f"server-state-file {tmp_path / 'state'}",
        "level admin expose-fd listeners",
        "http-check send meth GET uri /health",
        "use_backend be_fastapi if force_fastapi",
        "server flask_2 10.0.0.2:3001 weight 90",
        "server fastapi_1 10.0.1.1:3002 weight 20",
    ):
        assert line in cfg
    assert "compression" not in cfg
    assert ("hash-type consistent" in cfg) == sticky and ("balance roundrobin  #" in cfg) != sticky
    if HAPROXY:
        (tmp_path / "h.cfg").write_text(cfg)
        checked = subprocess.run([HAPROXY, "-c", "-f", str(tmp_path / "h.cfg")], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


EXPOSITION = """# HELP aicore_proxy_request_duration_seconds x
# TYPE aicore_proxy_request_duration_seconds histogram
aicore_proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="0.1"} 50.0
aicore_proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="1.0"} 90.0
aicore_proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="+Inf"} 100.0
aicore_proxy_request_duration_seconds_bucket{stack="fastapi",route="/health",le="0.1"} 1000.0
aicore_proxy_request_duration_seconds_bucket{stack="fastapi",route="/health",le="+Inf"} 1000.0
aicore_proxy_time_to_first_token_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="0.5"} 10.0
aicore_proxy_time_to_first_token_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="+Inf"} 10.0
aicore_proxy_overhead_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="0.002"} 80.0
aicore_proxy_overhead_seconds_bucket{stack="fastapi",route="/v1/chat/completions",le="+Inf"} 100.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="completed",code="200"} 80.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="stream_failed",code="200"} 4.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="stream_timed_out",code="200"} 1.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="upstream_failed",code="502"} 2.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="upstream_failed",code="429"} 3.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="proxy_failed",code="500"} 1.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="other",outcome="refused",code="400"} 6.0
aicore_proxy_requests_total{stack="fastapi",route="/v1/chat",model="gpt-4o",outcome="client_gone",code="200"} 3.0
aicore_proxy_streams_in_flight{stack="fastapi"} 2.0
aicore_proxy_upstream_retries_total{stack="fastapi",reason="5xx"} 7.0
aicore_proxy_token_fetches_total{stack="fastapi",sub_account="a",result="failed"} 1.0
aicore_proxy_token_fetches_total{stack="fastapi",sub_account="a",result="ok"} 9.0
"""


def test_metrics_are_aggregated_and_quantiles_interpolated() -> None:
    agg = metrics.aggregate(metrics.parse(EXPOSITION))
    assert agg is not None
    assert agg["duration"] == {"0.1": 50.0, "1.0": 90.0, "+Inf": 100.0}  # /health left out
    assert agg["streams_in_flight"] == 2 and agg["retries"] == 7 and agg["token_failures"] == 1
    assert metrics.quantile(0.5, agg["duration"]) == pytest.approx(0.1)
    assert metrics.quantile(0.7, agg["duration"]) == pytest.approx(0.1 + 0.9 * 20 / 40)
    assert metrics.quantile(0.95, agg["duration"]) == pytest.approx(1.0)  # past the last finite bucket
    assert metrics.quantile(0.95, agg["ttft"]) == pytest.approx(0.475)
    assert metrics.quantile(0.5, agg["overhead"]) == pytest.approx(0.002 * 50 / 80)
    assert metrics.quantile(0.5, {}) is None
    later = metrics.merge([agg, agg])
    assert later is not None
    window = metrics.delta(later, agg)
    assert window["duration"] == agg["duration"] and window["streams_in_flight"] == 4
    assert metrics.delta(agg, later)["duration"] == agg["duration"]  # a restart: counted from zero
    assert metrics.aggregate(metrics.parse("# nothing of ours\nhttp_requests_total 3\n")) is None
    # the old names of an earlier build are not ours either
    assert metrics.aggregate(metrics.parse('proxy_requests_total{status="200"} 3\n')) is None


def test_failure_share_counts_mid_stream_failures_and_not_the_clients_own() -> None:
    agg = metrics.aggregate(metrics.parse(EXPOSITION))
    assert agg is not None
    # failed: 4 + 1 mid-stream, 2 upstream 502s, 1 proxy 500; not the 3 upstream 429s passed on
    assert agg["failures"] == 8 and agg["mid_stream"] == 5
    # judged: all 100 but the refused (6) and the clients that left (3)
    assert agg["requests"] == 100 and agg["judged"] == 91


def _stats(fa: dict[str, object], fl: dict[str, object]) -> dict[str, dict[str, object]]:
    base: dict[str, object] = {
        "source": "haproxy",
        "requests": 100,
        "failures": 0,
        "failure_rate": 0.0,
        "mid_stream_failures": None,
        "avg_s": 0.1,
        **{key: None for key, _, _ in COMPARED},
    }
    return {"fastapi": {**base, **fa}, "flask": {**base, **fl}}


ARGS = argparse.Namespace(
    min_requests=20,
    max_failure_rate=0.01,
    max_latency_ratio=1.25,
    max_ttft_ratio=1.25,
    max_overhead_ratio=1.5,
    latency_floor=0.05,
    overhead_floor=0.01,
)
M = {"source": "metrics"}


def test_gate_judges_failure_rate_and_traffic() -> None:
    assert judge(_stats({}, {}), ARGS, True, {}) is None
    reason = judge(_stats({"failures": 5, "failure_rate": 0.05, "mid_stream_failures": 4}, {}), ARGS, False, {})
    assert reason and "failure rate 5.00%" in reason and "4 of them mid-stream" in reason
    assert judge(_stats({"requests": 10, "failures": 5, "failure_rate": 0.5}, {}), ARGS, False, {}) is None  # too few
    assert "only 10 FastAPI requests" in (judge(_stats({"requests": 10}, {}), ARGS, True, {}) or "")


def test_gate_compares_haproxy_averages_without_metrics() -> None:
    assert "avg" in (judge(_stats({"avg_s": 0.2}, {"avg_s": 0.1}), ARGS, True, {}) or "")
    assert judge(_stats({"avg_s": 0.04}, {"avg_s": 0.01}), ARGS, True, {}) is None  # under the floor


def test_gate_compares_latency_ttft_and_overhead_ratios_with_metrics() -> None:
    assert judge(_stats({**M, "p95_s": 0.3, "avg_s": 9}, {**M, "p95_s": 0.3}), ARGS, True, {}) is None
    slow_ttft = judge(_stats({**M, "ttft_p50_s": 0.2}, {**M, "ttft_p50_s": 0.1}), ARGS, True, {})
    assert slow_ttft and "ttft_p50" in slow_ttft
    assert "ttft_p95" in (judge(_stats({**M, "ttft_p95_s": 2.0}, {**M, "ttft_p95_s": 1.0}), ARGS, True, {}) or "")
    assert judge(_stats({**M, "ttft_p50_s": 0.12}, {**M, "ttft_p50_s": 0.1}), ARGS, True, {}) is None  # 1.2x
    costly = judge(_stats({**M, "overhead_p95_s": 0.04}, {**M, "overhead_p95_s": 0.02}), ARGS, True, {})
    assert costly and "overhead_p95" in costly
    # both under the 10 ms floor: 3 ms against 1 ms is noise, not a breach
    assert judge(_stats({**M, "overhead_p50_s": 0.003}, {**M, "overhead_p50_s": 0.001}), ARGS, True, {}) is None


def test_gate_at_100_percent_uses_the_previous_steps_flask_numbers() -> None:
    at_100 = _stats({**M, "p95_s": 0.5}, {"requests": 0, "failure_rate": None, "avg_s": None})
    assert "p95" in (judge(at_100, ARGS, True, {"p95_s": 0.2}) or "")
    assert judge(at_100, ARGS, True, {"p95_s": 0.45}) is None


class _FakeRuntime:
    def __init__(self, rows: list[dict[str, str]]) -> None:
        self.rows = rows

    def servers(self) -> list[dict[str, str]]:
        return self.rows


def test_preflight_refuses_unhealthy_unready_or_unscraped_stacks() -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens: GET /ready cannot be answered
    rows = [
        {"svname": "flask_1", "stack": "flask", "status": "DOWN", "addr": closed},
        {"svname": "fastapi_1", "stack": "fastapi", "status": "UP", "addr": closed},
    ]
    problem = preflight(_FakeRuntime(rows), {"metrics": {"flask": {"requests": 0.0}, "fastapi": None}})  # type: ignore[arg-type]
    assert problem is not None
    assert "flask_1 is DOWN in HAProxy" in problem
    assert f"fastapi_1 ({closed}) answers GET /ready with down" in problem
    assert "the fastapi stack serves no aicore_proxy_* metrics" in problem


def test_prometheus_beside_haproxy_scrapes_every_server_of_each_stack_with_the_rules(tmp_path: Path) -> None:
    import json

    from proxyctl.prometheus import RULES, config

    doc = json.loads(config({"flask": ["10.0.0.1:3001", "10.0.0.2:3001"], "fastapi": ["10.0.0.1:3002"]}, 2.5))
    assert doc["global"] == {"scrape_interval": "2.5s", "evaluation_interval": "2.5s"}
    jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in doc["scrape_configs"]}
    assert jobs == {"aicore-proxy-flask": ["10.0.0.1:3001", "10.0.0.2:3001"], "aicore-proxy-fastapi": ["10.0.0.1:3002"]}
    assert doc["rule_files"] == [str(RULES)]
    # from an installed wheel there is no deploy/: no rules rather than a file Prometheus cannot load
    assert "rule_files" not in json.loads(config({"flask": ["a:1"]}, 5, rules=tmp_path / "missing.yml"))
