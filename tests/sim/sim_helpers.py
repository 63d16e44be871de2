"""Client-side helpers for the simulator tests (token handling, stream parsing)."""

from __future__ import annotations

import ast
import base64
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

API_VERSION = "2024-12-01-preview"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sim(*args: str, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start a simulator subprocess (on ``port``, else a free one) and wait until ``/__sim/health`` answers."""
    port = port or free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # stderr goes to an unnamed temp file, not a pipe: a full pipe would block the server.
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicore_sim", "--port", str(port), "--quiet", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    try:  # the child has its own descriptor of the file; ours is only for reading a failure
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                errors.seek(0)
                raise RuntimeError(f"simulator exited: {errors.read().decode(errors='replace')}")
            try:
                if httpx.get(f"{base}/__sim/health", timeout=0.5).status_code == 200:
                    return proc, base
            except httpx.HTTPError:
                time.sleep(0.05)
        proc.kill()
        raise RuntimeError("simulator did not become healthy")
    finally:
        errors.close()


class Sim:
    """A thin httpx wrapper that knows the simulator's topology and control API."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=10)
        self.topology = self.client.get("/__sim/topology").json()
        self.subs = {s["name"]: s for s in self.topology["subaccounts"]}
        self.deps = {d["id"]: {**d, "sub": s["name"]} for s in self.topology["subaccounts"] for d in s["deployments"]}
        self._tokens: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    def control(self, method: str, name: str, body: Any = None, **params: Any) -> Any:
        resp = self.client.request(method, f"/__sim/{name}", json=body, params=params or None)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def fetch_token(self, sub: str = "sim-a") -> httpx.Response:
        s = self.subs[sub]
        basic = base64.b64encode(f"{s['clientid']}:{s['clientsecret']}".encode()).decode()
        return self.client.post(
            "/oauth/token", params={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )

    def token(self, sub: str = "sim-a", fresh: bool = False) -> str:
        if fresh or sub not in self._tokens:
            resp = self.fetch_token(sub)
            assert resp.status_code == 200, resp.text
            self._tokens[sub] = resp.json()["access_token"]
        return self._tokens[sub]

    def headers(self, dep: str, **extra: str) -> dict[str, str]:
        sub = self.deps[dep]["sub"]
        return {
            "Authorization": f"Bearer {self.token(sub)}",
            "AI-Resource-Group": self.subs[sub]["resource_group"],
            "Content-Type": "application/json",
            **extra,
        }

    def url(self, dep: str, suffix: str) -> str:
        query = f"?api-version={API_VERSION}" if self.deps[dep]["family"] == "openai" else ""
        return f"/v2/inference/deployments/{dep}/{suffix}{query}"

    def post(self, dep: str, suffix: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(self.url(dep, suffix), content=orjson.dumps(body), headers=headers or self.headers(dep))

    def stream(self, dep: str, suffix: str, body: Any) -> tuple[httpx.Response, bytes]:
        resp = self.post(dep, suffix, body)
        return resp, resp.content

    def journal_last(self) -> dict[str, Any]:
        return self.control("GET", "journal", tail=1)["entries"][-1]


def sse_payloads(raw: bytes) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    out = []
    for frame in raw.decode().split("\n\n"):
        lines = [line[6:] for line in frame.split("\n") if line.startswith("data: ")]
        if lines:
            out.append("\n".join(lines))
    return out


def sse_json(raw: bytes) -> list[Any]:
    return [orjson.loads(p) for p in sse_payloads(raw) if p != "[DONE]"]


def sse_literals(raw: bytes) -> list[Any]:
    return [ast.literal_eval(p) for p in sse_payloads(raw)]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "detailed": {"type": "boolean"},
    },
    "required": ["city", "unit", "days", "detailed"],
}
WEATHER_ARGS = {"city": "sim-city", "unit": "celsius", "days": 1, "detailed": True}
