"""A real Prometheus scraping both stacks (two workers each) while traffic with mid-stream failures runs.

Used by ``tests/prometheus/test_prometheus.py`` and runnable by hand —
``python -m tests.prometheus.live`` — to print every rule's and dashboard query's result
(the numbers in docs/operations.md came from such a run).

What runs: ``proxyctl up --detach --workers 2 --prometheus --prometheus-interval 1`` —
the simulator, gunicorn+gevent and uvicorn with ``PROMETHEUS_MULTIPROC_DIR`` each, HAProxy,
and the Debian ``prometheus`` server scraping the two stacks' servers directly every second
(as docs/operations.md recommends: not through the frontend) and evaluating
``deploy/prometheus/rules.yml`` as often.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proxyctl.procs import ROOT, free_port
from proxyctl.prometheus import find_binary as prometheus_binary
from tests.rollout.helpers import ctl, ok

__all__ = [
    "DASHBOARD", "RULES", "Drive", "Testbed", "dashboard_queries", "drive", "prometheus_binary", "settle",
    "started", "warmed_drive",
]  # fmt: skip

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboard.json"
API_KEY = "sim-key"
# Every model family, streamed and not: (model, stream)
CALLS = [(m, s) for m in ("gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro") for s in (False, True)]


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every target of the shipped Grafana dashboard."""
    doc = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in doc["panels"] for target in panel["targets"]]


@dataclass
class Testbed:
    __test__ = False  # not a test class (pytest collects Test* names)

    run_dir: Path
    frontend: str  # HAProxy
    stacks: dict[str, str]  # stack -> host:port of its server
    sim: str
    prometheus: str = ""

    def query(self, expr: str) -> dict[str, Any]:
        """Prometheus' ``/api/v1/query`` answer (``status``, ``data``), errors included."""
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                doc: dict[str, Any] = json.loads(resp.read())
        except urllib.error.HTTPError as err:
            doc = json.loads(err.read())
        return doc

    def values(self, expr: str) -> dict[str, float]:
        """Each result series (its labels as ``k=v,...``) -> value."""
        doc = self.query(expr)
        assert doc.get("status") == "success", f"{expr}: {doc}"
        out = {}
        for item in doc["data"]["result"]:
            labels = ",".join(f"{k}={v}" for k, v in sorted(item["metric"].items()) if k != "__name__")
            out[labels] = float(item["value"][1])
        return out


@dataclass
class Drive:
    """What the traffic did: usage each answer reported, per (stack, model); how many streams broke."""

    usage: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    broken_streams: dict[str, int] = field(default_factory=lambda: {"flask": 0, "fastapi": 0})
    requests: dict[str, int] = field(default_factory=lambda: {"flask": 0, "fastapi": 0})
    streams: dict[str, int] = field(default_factory=lambda: {"flask": 0, "fastapi": 0})

    def add(self, stack: str, model: str, usage: dict[str, Any] | None) -> None:
        counts = self.usage.setdefault((stack, model), {"input": 0, "output": 0})
        if usage:
            counts["input"] += int(usage.get("prompt_tokens", 0))
            counts["output"] += int(usage.get("completion_tokens", 0))


@contextmanager
def started(work: Path) -> Iterator[Testbed]:
    """``proxyctl up --workers 2 --prometheus``: the stacks behind HAProxy, Prometheus scraping them."""
    assert prometheus_binary(), "prometheus is not installed (make test installs the Debian package)"
    run_dir = work / "run"
    ports = {name: free_port() for name in ("haproxy", "admin", "flask", "fastapi", "sim", "prometheus")}
    ok(
        run_dir, "up", "--detach", "--workers", "2", "--fastapi-weight", "50",
        "--haproxy-port", str(ports["haproxy"]), "--admin-port", str(ports["admin"]),
        "--flask-port", str(ports["flask"]), "--fastapi-port", str(ports["fastapi"]), "--sim-port", str(ports["sim"]),
        "--prometheus", "--prometheus-port", str(ports["prometheus"]), "--prometheus-interval", "1",
        timeout=120,
    )  # fmt: skip
    try:
        yield Testbed(
            run_dir,
            f"http://127.0.0.1:{ports['haproxy']}",
            {"flask": f"127.0.0.1:{ports['flask']}", "fastapi": f"127.0.0.1:{ports['fastapi']}"},
            f"http://127.0.0.1:{ports['sim']}",
            f"http://127.0.0.1:{ports['prometheus']}",
        )
    finally:
        ctl(run_dir, "down", "--drain", "5")


def drive(tb: Testbed, rounds: int = 5, cut_streams: int = 4, done: Drive | None = None) -> Drive:
    """On each stack directly: ``cut_streams`` gpt-4o streams cut after two chunks, then
    ``rounds`` of every family, streamed and not, whose reported usage is added up.

    The cut streams are Azure OpenAI ones, whose usage comes only in the last chunk: they
    report no tokens, so the tokens in Prometheus must equal the usage of the clean answers.
    Adds to ``done`` when given.
    """
    done = done or Drive()
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        for stack, addr in tb.stacks.items():
            url = f"http://{addr}/v1/chat/completions"
            fault = {"target": "*", "stream": True, "cut_after_chunks": 2, "times": cut_streams}
            client.post(f"{tb.sim}/__sim/faults", json=fault).raise_for_status()
            for _ in range(cut_streams):
                usage, failed = _stream(client, url, _body("gpt-4o", True))
                done.requests[stack] += 1
                done.streams[stack] += 1
                done.broken_streams[stack] += failed
            client.delete(f"{tb.sim}/__sim/faults").raise_for_status()
            for _ in range(rounds):
                for model, stream in CALLS:
                    done.requests[stack] += 1
                    if stream:
                        done.streams[stack] += 1
                        usage, failed = _stream(client, url, _body(model, True))
                        assert not failed, f"{stack} {model}: a stream failed without a fault"
                    else:
                        r = client.post(url, json=_body(model, False))
                        assert r.status_code == 200, r.text
                        usage = r.json().get("usage")
                    done.add(stack, model, usage)
    return done


def _body(model: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "Count the tokens of this sentence, please."}],
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _stream(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    """The usage the stream reported, and whether it ended with an in-band error (HTTP 200 regardless)."""
    usage, failed = None, False
    with client.stream("POST", url, json=body) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                failed = failed or "error" in chunk
                usage = chunk.get("usage") or usage
    return usage, failed


def warmed_drive(tb: Testbed) -> tuple[Drive, Drive]:
    """(everything sent, the second phase alone): a short first phase creates every series.

    ``rate()`` needs two samples of a series: one that first appears already at its final
    value (created and counted between two scrapes) shows no increase. After the first
    phase and a few scrapes, the rates over the second phase are exact.
    """
    total = drive(tb, rounds=1, cut_streams=1)
    settle(tb, total.requests)
    second = drive(tb)
    for stack, n in second.requests.items():
        total.requests[stack] += n
        total.streams[stack] += second.streams[stack]
        total.broken_streams[stack] += second.broken_streams[stack]
    for key, usage in second.usage.items():
        for kind, n in usage.items():
            total.usage.setdefault(key, {"input": 0, "output": 0})[kind] += n
    return total, second


def settle(tb: Testbed, expected: dict[str, int], timeout: float = 20.0) -> None:
    """Wait until Prometheus has scraped every request of each stack (counters are summed over workers)."""
    deadline = time.monotonic() + timeout
    got: dict[str, float] = {}
    while time.monotonic() < deadline:
        got = tb.values("sum by (stack) (aicore_proxy_requests_total)")
        if all(got.get(f"stack={s}") == n for s, n in expected.items()):
            time.sleep(2.5)  # a few rule evaluations over the final samples
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus saw {got}, the traffic sent {expected}")


def main() -> int:
    import tempfile

    if not prometheus_binary():
        print("prometheus is not installed: `make prometheus` installs the Debian package", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, started(Path(tmp)) as tb:
        done, _ = warmed_drive(tb)
        settle(tb, done.requests)
        print(f"sent {done.requests}; streams cut mid-way {done.broken_streams}\n")
        rules = [line.split(":", 1)[1].strip() for line in RULES.read_text().splitlines() if "- record:" in line]
        for title, expr in [(f"rule {name}", name) for name in rules] + dashboard_queries():
            values = tb.values(expr)
            shown = ", ".join(f"{k or '-'}: {v:.4g}" for k, v in sorted(values.items())[:6]) or "(empty)"
            print(f"{title}\n    {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
