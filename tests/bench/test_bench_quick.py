"""``proxyctl bench --quick``: the whole pipeline against real processes, in about two minutes.

Every profile runs with seconds-long Locust runs and a fast simulator, so this proves
the machinery (processes, Locust, stream checks, sampling, report, charts, CSVs) and
keeps ``make bench`` from rotting; it measures nothing. HAProxy is needed for the
ceiling and the 50/50 runs.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.bench.profiles import PROFILES
from proxyctl.haproxy import find_binary
from proxyctl.runstate import CliError

STACKS = {"flask", "fastapi", "haproxy-50-50"}


def _haproxy() -> bool:
    try:
        find_binary()
        return True
    except CliError:
        return False


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not _haproxy():
        pytest.skip("haproxy is not installed (make test installs it)")
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "proxyctl", "bench", "--profile", "all", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


@pytest.mark.timeout(660)
@pytest.mark.parametrize("name", list(PROFILES))
def test_each_profile_writes_a_report_with_charts_and_csvs(reports: Path, name: str) -> None:
    text = (reports / f"{name}.md").read_text()
    assert text.startswith(f"# Benchmark: `{name}`")
    for section in ("## Targets", "## Results", "## Setup", "## Raw data", "Machine:"):
        assert section in text, section
    data = reports / name
    for chart in ("throughput.png", "latency.png", "memory.png"):
        png = (data / chart).read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000, chart
        assert f"({name}/{chart})" in text
    for run in PROFILES[name].runs:
        assert f"| {run.key} |" in text, run.key
        with (data / f"{run.key}_stats.csv").open() as fh:
            rows = {r["Name"]: r for r in csv.DictReader(fh)}
        main = [r for n, r in rows.items() if n != "Aggregated" and r["Type"] != "SSE"]
        assert main and sum(int(r["Request Count"]) for r in main) > 0, run.key
        if run.target in STACKS:
            assert sum(int(r["Failure Count"]) for r in main) == 0, (run.key, (data / f"{run.key}_locust.log"))
        resources = (data / f"{run.key}_resources.csv").read_text().splitlines()
        assert resources[0] == "t_s,rss_mb,cpu_pct,connections" and len(resources) > 2


@pytest.mark.timeout(660)
def test_stream_runs_report_ttft_and_gaps_as_their_own_entries(reports: Path) -> None:
    with (reports / "realistic" / "stream-fastapi_stats.csv").open() as fh:
        names = {r["Name"]: r for r in csv.DictReader(fh)}
    for entry in ("chat-stream total", "chat-stream ttft", "chat-stream gap"):
        assert int(names[entry]["Request Count"]) > 0, entry
    assert (reports / "realistic" / "ttft.png").read_bytes().startswith(b"\x89PNG")
