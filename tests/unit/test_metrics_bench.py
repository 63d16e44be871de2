"""What recording costs per request, in both modes (run with ``-s`` to see the numbers).

The bound is loose — it catches a hot path that starts resolving labels or building
dicts per request (``labels()`` alone costs several microseconds), not a slow machine.
Measured on the 2-core CI box: ~2.5 µs per JSON request and ~6 µs per stream in one
process; ~5 µs and ~13 µs with ``PROMETHEUS_MULTIPROC_DIR`` (every value is also
written to the worker's mmap file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = textwrap.dedent(
    """
    import gc, time
    from tests.unit.test_metrics import CONFIG, CHAT
    from shared.metrics import StackMetrics

    m = StackMetrics("bench", CONFIG)
    route = m.route(CHAT)  # once per route, at app creation

    def json_request():
        route.series("gpt-4o").done(200, 0.123)

    def stream():
        series = route.series("gpt-4o")
        watch = m.stream(series, 0.0)
        watch.opened()
        watch.chunk(b'data: {"choices": []}\\n\\n', 0.05)
        watch.closed()
        series.done(200, 1.5)

    def noop():
        pass

    def best(fn, n=20000, reps=5):
        out = float("inf")
        for _ in range(reps):
            t = time.perf_counter_ns()
            for _ in range(n):
                fn()
            out = min(out, (time.perf_counter_ns() - t) / n)
        return out

    gc.disable()
    base = best(noop)
    print(round(best(json_request) - base), round(best(stream) - base))
    """
)


def measure(multiproc_dir: Path | None) -> tuple[int, int]:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    if multiproc_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc_dir)
    done = subprocess.run([sys.executable, "-c", BENCH], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    json_ns, stream_ns = map(int, done.stdout.split())
    return json_ns, stream_ns


def test_recording_costs_microseconds(tmp_path: Path):
    single = measure(None)
    multi = measure(tmp_path)
    print(f"\nmetrics per request (ns): single-process json={single[0]} stream={single[1]}; "
          f"multiprocess json={multi[0]} stream={multi[1]}")  # fmt: skip
    assert single[0] < 50_000 and multi[0] < 50_000
    assert single[1] < 100_000 and multi[1] < 100_000
