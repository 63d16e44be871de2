"""One headless Locust run, and what it measured.

Locust writes its CSVs (``--csv``) and our locustfile writes the unrounded times
(``--samples-file``); :func:`run_locust` starts it pinned to the load CPU while a
:class:`~loadtests.bench.sampler.Sampler` watches the target, and returns a
:class:`Result` with throughput, exact percentiles, failures and resource samples.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .profiles import Run
from .sampler import Sample, Sampler
from .targets import LOAD_CPU, Target, pinned

__all__ = ["Entry", "Result", "percentile", "run_locust"]

LOCUSTFILE = Path(__file__).resolve().parent.parent / "locustfile.py"


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


@dataclass
class Entry:
    """One Locust statistics line (``chat``, ``chat-stream ttft``, ...)."""

    name: str
    kind: str
    requests: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    mean: float


@dataclass
class Result:
    run: Run
    target: Target
    entries: dict[str, Entry]
    samples: list[Sample]
    failures: list[tuple[str, str, int]]  # name, error, occurrences
    command: list[str] = field(default_factory=list)
    load_cpu: float = math.nan  # simulator + Locust, % of one core, mean after the warm-up

    @property
    def main(self) -> list[Entry]:
        """The request entries (not the derived SSE ones)."""
        return [e for e in self.entries.values() if e.kind != "SSE"]

    @property
    def throughput(self) -> float:
        return sum(e.rps for e in self.main)

    @property
    def requests(self) -> int:
        return sum(e.requests for e in self.main)

    @property
    def failed(self) -> int:
        return sum(e.failures for e in self.main)

    def entry(self, suffix: str) -> Entry | None:
        for e in self.entries.values():
            if e.name.endswith(suffix):
                return e
        return None

    def measured_samples(self) -> list[Sample]:
        """Resource samples after the warm-up."""
        return [s for s in self.samples if s.t >= self.run.warmup] or self.samples

    @property
    def peak_rss(self) -> float:
        return max((s.rss_mb for s in self.samples), default=math.nan)

    @property
    def peak_connections(self) -> int:
        return max((s.connections for s in self.samples), default=0)

    @property
    def cpu(self) -> float:
        m = self.measured_samples()
        return sum(s.cpu_pct for s in m) / len(m) if m else math.nan

    def rss_growth(self) -> tuple[float, float]:
        """RSS right after the warm-up and at the end of the run (MB)."""
        m = self.measured_samples()
        if not m:
            return math.nan, math.nan
        return m[0].rss_mb, m[-1].rss_mb


def run_locust(run: Run, target: Target, outdir: Path, load_pids: list[int] | None = None) -> Result:
    prefix = outdir / run.key
    samples_file = outdir / f"{run.key}_samples.json"
    total = math.ceil(run.warmup + run.seconds)
    load_pids = load_pids or []
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "-H", target.url, "-u", str(run.users), "-r", str(run.spawn_rate), "-t", f"{total}s",
        "--stop-timeout", "0", "--exit-code-on-error", "0", "--loglevel", "WARNING",
        "--csv", str(prefix), "--warmup", str(run.warmup), "--samples-file", str(samples_file),
        "--chat-model", run.chat_model,
    ]  # fmt: skip
    if run.tags:
        argv += ["--tags", *run.tags]
    if run.stop_after:
        argv += ["--stop-after", str(run.stop_after)]
    if run.no_gaps:
        argv += ["--no-gaps"]
    argv = pinned(LOAD_CPU, argv)
    sampler = Sampler(target.pids, target.port).start()
    log_path = outdir / f"{run.key}_locust.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True)
        # The load side (simulator + Locust, CPU 1): if it were saturated, the run would
        # measure the load generator, not the proxy; the report shows its CPU.
        load = Sampler([*load_pids, proc.pid], 0).start()
        try:
            code = proc.wait(timeout=total + 120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            load_samples = load.stop()
    samples = sampler.stop()
    if code not in (0, 1) or not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError(f"locust failed ({code}) for {run.key}:\n{log_path.read_text()[-3000:]}")
    exact = json.loads(samples_file.read_text()) if samples_file.exists() else {}
    samples_file.unlink(missing_ok=True)
    _write_samples_csv(outdir / f"{run.key}_resources.csv", samples)
    measured = [x.cpu_pct for x in load_samples if x.t >= run.warmup + 1.0]
    load_cpu = sum(measured) / len(measured) if measured else math.nan
    entries = _entries(Path(f"{prefix}_stats.csv"), exact)
    return Result(run, target, entries, samples, _failures(prefix), argv, load_cpu)


def _entries(path: Path, exact: dict[str, list[float]]) -> dict[str, Entry]:
    out: dict[str, Entry] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = row["Name"]
            if name == "Aggregated":
                continue
            times = exact.get(name)
            p50, p95, p99 = (
                (percentile(times, 50), percentile(times, 95), percentile(times, 99))
                if times
                else (_num(row["50%"]), _num(row["95%"]), _num(row["99%"]))
            )
            out[name] = Entry(
                name,
                row["Type"],
                int(row["Request Count"]),
                int(row["Failure Count"]),
                float(row["Requests/s"]),
                p50,
                p95,
                p99,
                float(row["Average Response Time"]),
            )
    return out


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:  # Locust writes N/A for an entry without requests
        return math.nan


def _failures(prefix: Path) -> list[tuple[str, str, int]]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [(r["Name"], r["Error"], int(r["Occurrences"])) for r in csv.DictReader(fh)]


def _write_samples_csv(path: Path, samples: list[Sample]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["t_s", "rss_mb", "cpu_pct", "connections"])
        for s in samples:
            w.writerow([s.t, s.rss_mb, s.cpu_pct, s.connections])
