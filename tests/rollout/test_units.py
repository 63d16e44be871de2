"""The pieces without processes: weight arithmetic, the generated config, /metrics maths, the gate."""

from __future__ import annotations

import argparse
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from proxyctl import metrics
from proxyctl.haproxy import render_config, servers_for, split_weights
from proxyctl.promote import judge
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


EXPOSITION = """# HELP proxy_request_duration_seconds x
# TYPE proxy_request_duration_seconds histogram
proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",le="0.1"} 50.0
proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",le="1.0"} 90.0
proxy_request_duration_seconds_bucket{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",le="+Inf"} 100.0
proxy_request_duration_seconds_bucket{stack="fastapi",route="/health",model="",le="0.1"} 1000.0
proxy_request_duration_seconds_bucket{stack="fastapi",route="/health",model="",le="+Inf"} 1000.0
proxy_ttft_seconds_bucket{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",le="0.5"} 10.0
proxy_ttft_seconds_bucket{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",le="+Inf"} 10.0
proxy_requests_total{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",status="200"} 95.0
proxy_requests_total{stack="fastapi",route="/v1/chat/completions",model="gpt-4o",status="502"} 5.0
proxy_streams_in_flight{stack="fastapi"} 2.0
proxy_upstream_retries_total{stack="fastapi",reason="5xx"} 7.0
"""


def test_metrics_are_aggregated_and_quantiles_interpolated() -> None:
    agg = metrics.aggregate(metrics.parse(EXPOSITION))
    assert agg is not None
    assert agg["duration"] == {"0.1": 50.0, "1.0": 90.0, "+Inf": 100.0}  # /health left out
    assert agg["requests"] == 100 and agg["errors_5xx"] == 5 and agg["streams_in_flight"] == 2
    assert metrics.quantile(0.5, agg["duration"]) == pytest.approx(0.1)
    assert metrics.quantile(0.7, agg["duration"]) == pytest.approx(0.1 + 0.9 * 20 / 40)
    assert metrics.quantile(0.95, agg["duration"]) == pytest.approx(1.0)  # past the last finite bucket
    assert metrics.quantile(0.95, agg["ttft"]) == pytest.approx(0.475)
    assert metrics.quantile(0.5, {}) is None
    later = metrics.merge([agg, agg])
    assert later is not None
    window = metrics.delta(later, agg)
    assert window["duration"] == agg["duration"] and window["streams_in_flight"] == 4
    assert metrics.delta(agg, later)["duration"] == agg["duration"]  # a restart: counted from zero
    assert metrics.aggregate(metrics.parse("# nothing of ours\nhttp_requests_total 3\n")) is None


def _stats(fa: dict[str, float | int | None], fl: dict[str, float | int | None]) -> dict[str, dict[str, object]]:
    base = {
        "requests": 100,
        "errors": 0,
        "error_rate": 0.0,
        "avg_s": 0.1,
        "p50_s": None,
        "p95_s": None,
        "ttft_p95_s": None,
    }
    return {"fastapi": {**base, **fa}, "flask": {**base, **fl}}


ARGS = argparse.Namespace(min_requests=20, max_error_rate=0.01, max_latency_ratio=1.25, latency_floor=0.05)


def test_gate_judges_error_rate_traffic_and_latency() -> None:
    assert judge(_stats({}, {}), ARGS, True, {}) is None
    reason = judge(_stats({"errors": 5, "error_rate": 0.05}, {}), ARGS, False, {})
    assert reason and "error rate 5.00%" in reason
    assert judge(_stats({"requests": 10, "errors": 5, "error_rate": 0.5}, {}), ARGS, False, {}) is None  # too few yet
    assert "only 10 FastAPI requests" in (judge(_stats({"requests": 10}, {}), ARGS, True, {}) or "")
    assert "avg" in (judge(_stats({"avg_s": 0.2}, {"avg_s": 0.1}), ARGS, True, {}) or "")
    assert judge(_stats({"avg_s": 0.04}, {"avg_s": 0.01}), ARGS, True, {}) is None  # under the floor
    # with /metrics on both stacks: p95 and TTFT p95 decide, not the averages
    assert judge(_stats({"p95_s": 0.3, "avg_s": 9}, {"p95_s": 0.3}), ARGS, True, {}) is None
    assert "ttft_p95" in (
        judge(_stats({"p95_s": 0.3, "ttft_p95_s": 2.0}, {"p95_s": 0.3, "ttft_p95_s": 1.0}), ARGS, True, {}) or ""
    )
    # at 100 % Flask has no traffic: the previous step's Flask numbers are the baseline
    at_100 = _stats({"p95_s": 0.5}, {"requests": 0, "error_rate": None, "avg_s": None})
    assert "p95" in (judge(at_100, ARGS, True, {"p95_s": 0.2}) or "")
    assert judge(at_100, ARGS, True, {"p95_s": 0.45}) is None
