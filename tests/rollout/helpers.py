"""Helpers of the rollout tests: the CLI as a subprocess, counting stacks, a bounded load."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from proxyctl.haproxy import Runtime
from proxyctl.procs import ROOT

API_KEY = "sim-key"


def ctl(
    run_dir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """``proxyctl ARGS`` as a real process against ``run_dir``."""
    full_env = {**os.environ, "PROXYCTL_RUN_DIR": str(run_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "proxyctl", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def ok(run_dir: Path, *args: str, **kw: Any) -> str:
    done = ctl(run_dir, *args, **kw)
    assert done.returncode == 0, f"proxyctl {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Cluster:
    """A running ``proxyctl up`` (HAProxy in front of one Flask and one FastAPI server)."""

    run_dir: Path
    url: str
    flask: str  # host:port
    fastapi: str
    client: httpx.Client = field(repr=False)

    @property
    def runtime(self) -> Runtime:
        return Runtime(self.run_dir / "haproxy.sock")

    def percent(self) -> int:
        return self.runtime.percent()

    def rollout(self, percent: int) -> None:
        ok(self.run_dir, "rollout", str(percent))
        assert self.percent() == percent


def band(n: int, p: float, sigmas: float = 3.0) -> tuple[float, float]:
    """The ``sigmas`` binomial band of the count of successes in ``n`` trials."""
    half = sigmas * math.sqrt(n * p * (1 - p))
    return n * p - half, n * p + half


def count_stacks(client: httpx.Client, n: int, path: str = "/v1/models", threads: int = 8, **kw: Any) -> Counter[str]:
    """Send ``n`` GETs over the pooled client; count ``X-Proxy-Stack``; every answer must be 200."""

    def one(_: int) -> str:
        r = client.get(path, **kw)
        assert r.status_code == 200, r.text
        return r.headers["x-proxy-stack"]

    with ThreadPoolExecutor(threads) as pool:
        return Counter(pool.map(one, range(n)))


def chat(stream: bool, words: int = 4) -> dict[str, Any]:
    text = " ".join(f"w{i}" for i in range(words))
    return {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": text}]}


@dataclass
class StreamResult:
    stack: str
    started: float
    ended: float
    done: bool
    status: int


def run_stream(
    client: httpx.Client, words: int, headers: dict[str, str] | None = None, first_chunk: threading.Event | None = None
) -> StreamResult:
    """One streamed chat completion read to the end; ``done`` if it ended with ``data: [DONE]``."""
    started = time.monotonic()
    with client.stream("POST", "/v1/chat/completions", json=chat(True, words), headers=headers) as r:
        last = ""
        for line in r.iter_lines():
            if line.startswith("data:"):
                last = line
                if first_chunk is not None:
                    first_chunk.set()
        return StreamResult(
            r.headers.get("x-proxy-stack", "?"), started, time.monotonic(), last == "data: [DONE]", r.status_code
        )


@dataclass
class Load:
    """A bounded background load: ``workers`` threads alternating a stream and a JSON chat."""

    client: httpx.Client
    workers: int = 4
    words: int = 8
    pause: float = 0.0
    stop: threading.Event = field(default_factory=threading.Event)
    failures: list[str] = field(default_factory=list)
    streams: list[StreamResult] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                s = run_stream(self.client, self.words)
                self.streams.append(s)
                if s.status != 200 or not s.done:
                    self.failures.append(f"stream via {s.stack}: status {s.status}, done={s.done}")
                r = self.client.post("/v1/chat/completions", json=chat(False))
                self.answers[r.headers.get("x-proxy-stack", "?")] += 1
                if r.status_code != 200:
                    self.failures.append(f"chat via {r.headers.get('x-proxy-stack')}: {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                self.failures.append(f"{type(exc).__name__}: {exc}")
            if self.pause:
                time.sleep(self.pause)

    def __enter__(self) -> Load:
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(self.workers)]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(60)
