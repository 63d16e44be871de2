"""Runs benchmark profiles end to end: start the testbed, run Locust against each target, report.

Used by ``proxyctl bench --profile NAME`` and ``make bench`` (all three profiles).
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from proxyctl.procs import ROOT

from .checks import checks_for
from .locust_run import Result, run_locust
from .profiles import PROFILES, Profile, quick
from .report import write_report
from .targets import Testbed

__all__ = ["DEFAULT_OUT", "run_profile", "run_profiles"]

DEFAULT_OUT = ROOT / "docs" / "benchmarks"


def run_profile(profile: Profile, out: Path, workdir: Path, command: str) -> list[bool | None]:
    """Run every Locust run of ``profile`` and write ``out/<profile>.md``; return the verdicts."""
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    data = out / profile.name
    if data.exists():
        shutil.rmtree(data)
    data.mkdir(parents=True)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    bed = Testbed(workdir, profile.sim_args)
    results: dict[str, Result] = {}
    try:
        bed.start({r.target for r in profile.runs})
        for run in profile.runs:
            target = bed.targets[run.target]
            _say(f"{profile.name}: {run.key} ({run.users} users, {run.scenario}) against {target.url} ...")
            result = run_locust(run, target, data, bed.load_pids())
            results[run.key] = result
            ttft = result.entry(" ttft")
            extra = f", TTFT p50 {ttft.p50:.1f} ms" if ttft else ""
            _say(
                f"    {result.throughput:,.1f} req/s, {result.failed} failed of {result.requests:,}{extra}, "
                f"peak RSS {result.peak_rss:.0f} MB, peak connections {result.peak_connections:,}, "
                f"server CPU {result.cpu:.0f}%, load side CPU {result.load_cpu:.0f}%"
            )
    finally:
        bed.stop()
    checks = checks_for(profile.name, results, profile.upstream_gap_ms)
    minutes = (time.monotonic() - t0) / 60
    write_report(profile, results, checks, out / f"{profile.name}.md", data, command, started_at, minutes)
    for c in checks:
        mark = "met" if c.ok else ("MISSED" if c.ok is False else "not judged")
        _say(f"  [{mark}] {c.target}: {c.measured.replace('**', '')}")
    _say(f"{profile.name}: report in {out / (profile.name + '.md')} ({minutes:.1f} min)")
    return [c.ok for c in checks]


def run_profiles(names: list[str], out: Path | None, quick_mode: bool, command: str) -> int:
    unknown = [n for n in names if n not in PROFILES]
    if unknown:
        raise ValueError(f"unknown profile(s) {', '.join(unknown)}; choose from {', '.join(PROFILES)} or all")
    if out is None:
        out = ROOT / ".run" / "bench-quick" if quick_mode else DEFAULT_OUT
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for name in names:
        profile = quick(PROFILES[name]) if quick_mode else PROFILES[name]
        run_profile(profile, out, ROOT / ".run" / "bench" / name, command)
    _say(f"bench: {len(names)} profile(s) in {(time.monotonic() - t0) / 60:.1f} min; reports in {out}")
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
