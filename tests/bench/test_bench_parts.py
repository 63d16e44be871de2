"""The benchmark's own logic: stream-line classification, percentiles, profiles, target checks.

The locustfile itself is not imported here (Locust monkey-patches the process with
gevent on import); ``test_bench_quick.py`` runs it for real.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from loadtests.bench.checks import checks_for
from loadtests.bench.locust_run import Entry, Result, percentile
from loadtests.bench.profiles import PROFILES, SOAK, TARGETS, Run, quick
from loadtests.bench.sampler import Sample
from loadtests.bench.targets import Target
from loadtests.stream_lines import anthropic_line, openai_line
from proxyctl.procs import ROOT


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n', "other"),
        (b'data: {"choices":[{"delta":{"content":"Hello"}}]}\n', "token"),
        (b'data: {"choices": [{"delta": {"content": "Hi"}}]}\n', "token"),
        (b"data: [DONE]\n", "end"),
        (b'data: {"error":{"message":"upstream cut"}}\n', "error"),
        (b": keep-alive\n", "other"),
        (b"\n", "other"),
    ],
)
def test_openai_lines_are_classified(line: bytes, kind: str) -> None:
    assert openai_line(line) == kind


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b"event: message_start\n", "other"),
        (b"event: content_block_delta\n", "token"),
        (b'data: {"type":"content_block_delta"}\n', "other"),
        (b"event: message_stop\n", "end"),
        (b"event: error\n", "error"),
    ],
)
def test_anthropic_lines_are_classified(line: bytes, kind: str) -> None:
    assert anthropic_line(line) == kind


def test_percentile_interpolates_and_handles_empty() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    assert math.isnan(percentile([], 50))


def test_profiles_are_well_formed() -> None:
    for profile in PROFILES.values():
        keys = [r.key for r in profile.runs]
        assert len(keys) == len(set(keys)), profile.name
        assert all(r.target in TARGETS for r in profile.runs)
    overhead = {r.target for r in PROFILES["overhead"].runs}
    assert overhead == set(TARGETS), "every baseline, both stacks and the 50/50 split in one run"
    soak = [r for r in PROFILES["overhead"].runs if r.stop_after]
    assert {r.target for r in soak} == {"flask", "fastapi"} and all(r.stop_after >= SOAK for r in soak)
    slow = {r.key: r.users for r in PROFILES["slow-upstream"].runs}
    assert slow["streams-5000-fastapi"] == 5000 and slow["streams-2000-flask"] == 2000


def test_quick_mode_shrinks_every_run() -> None:
    q = quick(PROFILES["slow-upstream"])
    assert all(r.users <= 8 and r.seconds <= 2 for r in q.runs)
    assert "--ttft-ms" in q.sim_args and q.sim_args[q.sim_args.index("--ttft-ms") + 1] == "50"


def _result(key: str, target: str, rps: float, *, failures: int = 0, rss: tuple[float, float] = (50, 50)) -> Result:
    run = Run(key, target, ("chat",), 32, 32, 15, warmup=1, stop_after=SOAK + 1000)
    entry = Entry("chat", "POST", SOAK + 10, failures, rps, 1.0, 2.0, 3.0, 1.5)
    samples = [Sample(2.0, rss[0], 90, 32), Sample(100.0, rss[1], 90, 32)]
    return Result(run, Target(target, "http://x", 1), {"chat": entry}, samples, [])


def _overhead(**rps: float) -> dict[str, Result]:
    base = {"ceiling": 9000, "seed": 20, "shared-httpx": 250, "flask": 400, "fastapi": 1200, "haproxy-50-50": 500}
    base |= {k.replace("_", "-"): v for k, v in rps.items()}
    results = {f"chat-{t}": _result(f"chat-{t}", t, v) for t, v in base.items()}
    results["claude-flask"] = _result("claude-flask", "flask", base["flask"] * 0.9)
    results["claude-fastapi"] = _result("claude-fastapi", "fastapi", base["fastapi"] * 0.9)
    return results


def test_overhead_targets_met_and_missed() -> None:
    met = checks_for("overhead", _overhead(), 0)
    assert all(c.ok for c in met), [c for c in met if not c.ok]
    slow = {c.target: c.ok for c in checks_for("overhead", _overhead(fastapi=900), 0)}
    assert slow["FastAPI ≥ 2.5× Flask"] is False  # 900 / 400 = 2.25
    assert slow["FastAPI ≥ 4× one shared httpx.AsyncClient"] is False  # 900 / 250 = 3.6
    leaky = _overhead()
    leaky["chat-fastapi"] = _result("chat-fastapi", "fastapi", 1200, rss=(50, 60))
    verdicts = {c.target: c.ok for c in checks_for("overhead", leaky, 0)}
    assert verdicts["FastAPI: RSS grows < 10% across 100,000 requests after warm-up"] is False


def test_a_missing_run_is_not_judged() -> None:
    results = _overhead()
    del results["chat-seed"]
    verdicts = {c.target: c.ok for c in checks_for("overhead", results, 0)}
    assert verdicts["FastAPI ≥ 20× the seed-style baseline"] is None


def test_stack_failures_fail_the_run_but_baseline_failures_do_not() -> None:
    results = _overhead()
    results["chat-seed"] = _result("chat-seed", "seed", 20, failures=5)
    assert {c.target: c.ok for c in checks_for("overhead", results, 0)}[
        "no failed request in any run of the two stacks"
    ]
    results["chat-flask"] = _result("chat-flask", "flask", 400, failures=1)
    assert not {c.target: c.ok for c in checks_for("overhead", results, 0)}[
        "no failed request in any run of the two stacks"
    ]


def test_unknown_profile_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "proxyctl", "bench", "--profile", "fastest"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "unknown profile 'fastest'" in out.stderr and "overhead" in out.stderr


def test_revision_report_gives_medians_and_the_after_before_ratio():
    from loadtests.bench.revisions import Tree, report

    def row(tree: str, rps: float) -> dict[str, object]:
        return {"scenario": "chat", "stack": "flask", "tree": tree, "rps": rps, "p50_ms": 10.0,
                "ttft_p50_ms": math.nan, "cpu_pct": 90.0, "failed": 0.0}  # fmt: skip

    rows = [row("old", 100.0), row("old", 300.0), row("old", 200.0), row("new", 260.0), row("new", 240.0)]
    text = report(rows, [Tree("old", ROOT), Tree("new", ROOT)], reps=3, seconds=15)
    assert "| chat | flask | rps | 200.0 | 250.0 | 1.250 |" in text
    assert "Failed requests over all runs: 0." in text
