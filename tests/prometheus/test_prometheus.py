"""A real Prometheus against both stacks: the shipped rules and dashboard queries work on real series.

``promtool`` checks and unit-tests ``deploy/prometheus/rules.yml``; then the Debian
``prometheus`` server scrapes the two stacks (two workers each, summed through
``PROMETHEUS_MULTIPROC_DIR``) while every model family answers, streamed and not, and a few
streams per stack break mid-way (tests/prometheus/live.py). Skipped only where the package
is missing; ``make test`` installs it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prometheus.live import (
    RULES,
    Drive,
    Testbed,
    dashboard_queries,
    prometheus_binary,
    settle,
    started,
    warmed_drive,
)

PROMTOOL = "promtool"


@pytest.fixture(scope="module")
def promtool() -> str:
    if prometheus_binary() is None:
        pytest.skip("prometheus is not installed (`make test` installs the Debian package)")
    return PROMTOOL


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, promtool: str) -> Iterator[tuple[Testbed, Drive, Drive]]:
    """The testbed, everything sent, and the second phase (the one rates see in full)."""
    with started(tmp_path_factory.mktemp("prometheus")) as tb:
        done, second = warmed_drive(tb)
        settle(tb, done.requests)
        yield tb, done, second


def test_promtool_accepts_the_rules_and_their_unit_tests_pass(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "rules_test.yml"], cwd=RULES.parent, capture_output=True, text=True
    )
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def test_every_request_is_counted_once_over_two_workers(world: tuple[Testbed, Drive, Drive]) -> None:
    tb, done, _ = world
    assert tb.values("sum by (stack) (aicore_proxy_requests_total)") == {
        f"stack={stack}": float(n) for stack, n in done.requests.items()
    }
    # two gunicorn/uvicorn workers each wrote their part; the build series says so once per stack
    builds = tb.values("count by (stack) (aicore_proxy_build_info)")
    assert set(builds) == {"stack=fastapi", "stack=flask"}


def test_mid_stream_failures_show_in_prometheus_and_the_rules(world: tuple[Testbed, Drive, Drive]) -> None:
    tb, done, second = world
    assert all(n > 0 for n in done.broken_streams.values())
    cut = tb.values('sum by (stack) (aicore_proxy_requests_total{outcome="stream_failed", code="200"})')
    assert cut == {f"stack={stack}": float(n) for stack, n in done.broken_streams.items()}
    opened = tb.values("sum by (stack) (aicore_proxy_streams_total)")
    assert opened == {f"stack={stack}": float(n) for stack, n in done.streams.items()}
    # rate() over a few seconds of samples: near the second phase's shares, not exactly them
    mid = tb.values("stack:aicore_proxy_mid_stream_failure_share:ratio5m")
    failed = tb.values("stack:aicore_proxy_failure_share:ratio5m")
    for stack, n in second.broken_streams.items():
        assert mid[f"stack={stack}"] == pytest.approx(n / second.streams[stack], rel=0.2)  # of the streams
        assert failed[f"stack={stack}"] == pytest.approx(n / second.requests[stack], rel=0.2)  # of all requests


def test_token_counts_equal_the_usage_the_answers_reported(world: tuple[Testbed, Drive, Drive]) -> None:
    tb, done, _ = world
    counted = tb.values('sum by (stack, model, kind) (aicore_proxy_tokens_total{kind=~"input|output"})')
    expected = {
        f"kind={kind},model={model},stack={stack}": float(n)
        for (stack, model), usage in done.usage.items()
        for kind, n in usage.items()
        if n
    }
    assert counted == expected
    assert {key.split(",")[1] for key in expected} == {
        "model=gpt-4o",
        "model=anthropic--claude-4-sonnet",
        "model=gemini-2.5-pro",
    }


def test_every_recording_rule_and_dashboard_query_returns_data(world: tuple[Testbed, Drive, Drive]) -> None:
    tb, _, _ = world
    rules = [line.split(":", 1)[1].strip() for line in RULES.read_text().splitlines() if "- record:" in line]
    # what this traffic cannot produce: retries (no upstream error), dropped fields, 429s, token failures
    quiet = {"Fields dropped for the target model", "Upstream 429s per second", "Token fetch failures"}
    quiet_rules = {
        "stack:aicore_proxy_upstream_rate_limited:rate5m",
        "stack_sub_account:aicore_proxy_token_fetch_failures:rate5m",
    }
    empty = []
    for title, expr in [(name, name) for name in rules] + dashboard_queries():
        doc = tb.query(expr)
        assert doc.get("status") == "success", f"{title}: {expr}: {doc}"
        if not doc["data"]["result"] and title not in quiet | quiet_rules:
            empty.append(f"{title}: {expr}")
    assert empty == []
    ratios = tb.values("aicore_proxy:time_to_first_token_p95_ratio_fastapi_flask:5m")
    assert len(ratios) == 1 and 0 < next(iter(ratios.values())) < 100


def test_no_alert_expression_is_broken(world: tuple[Testbed, Drive, Drive]) -> None:
    tb, _, _ = world
    doc = tb.query("ALERTS")
    assert doc["status"] == "success"
    rules = tb.query("up")  # both scrape jobs are up
    assert {r["metric"]["job"] for r in rules["data"]["result"] if r["value"][1] == "1"} == {
        "aicore-proxy-flask",
        "aicore-proxy-fastapi",
    }


def test_rules_file_is_the_one_shipped(promtool: str) -> None:
    assert RULES == Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "rules.yml"
