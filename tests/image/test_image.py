"""The container image starts each stack and serves: /health, a chat request, a stream.

Each stack runs inside the image (``buildah run --isolation chroot``, host network, the
image's user) with the command the image declares — its ENTRYPOINT plus the stack as the
command — against the simulator running on the host. The HEALTHCHECK command is run in the
image beside it and must pass.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxyctl.procs import free_port, sim_argv, start_service, stop_all
from tests.contract.conftest import Sim
from tests.packaging.project import ROOT

pytestmark = [pytest.mark.image, pytest.mark.timeout(1800)]

# The command after the ENTRYPOINT (`proxyctl serve`): None = the image's default CMD.
FORMS = {"flask": None, "fastapi": ["fastapi"], "fastapi-gunicorn": ["fastapi", "--server", "gunicorn"]}
STACK = {"flask": "flask", "fastapi": "fastapi", "fastapi-gunicorn": "fastapi"}


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    port = free_port()
    logs = tmp_path_factory.mktemp("image-sim")
    service = start_service("aicore-sim", sim_argv(port), f"http://127.0.0.1:{port}/__sim/health", logs)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield Sim(f"http://127.0.0.1:{port}", client)
    finally:
        stop_all([service])


@pytest.fixture(scope="module")
def config(sim: Sim, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulator's proxy config, readable by the image's non-root user."""
    port = sim.url.rsplit(":", 1)[1]
    path = tmp_path_factory.mktemp("image-config") / "config.json"
    path.write_text(subprocess.check_output(sim_argv(int(port), "--print-config"), cwd=ROOT, text=True))
    path.chmod(0o644)
    return path


def running_as(port: int) -> int:
    """The uid of the process listening on ``port`` (found by its command line)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
            status = (cmdline.parent / "status").read_text()
        except OSError:
            continue
        if any(a in (str(port).encode(), f"0.0.0.0:{port}".encode()) for a in argv) and b"buildah" not in argv[0]:
            return int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    raise AssertionError(f"no process with port {port} in its command line")


@pytest.mark.parametrize("form", list(FORMS))
def test_the_image_serves_each_stack(form: str, image: dict, config: Path, tmp_path: Path):
    cfg = image["config"]
    assert cfg["User"] and not cfg["User"].startswith("0") and cfg["Healthcheck"]["Test"][0] == "CMD"
    command = cfg["Entrypoint"] + (FORMS[form] if FORMS[form] is not None else cfg["Cmd"])
    port = free_port()
    container = subprocess.run(["buildah", "from", image["name"]], capture_output=True, text=True, check=True)
    name = container.stdout.strip()
    mounts = ["-v", f"{config}:/etc/aicore-proxy/config.json:ro"]
    base = ["buildah", "run", "--isolation", "chroot", "--network", "host", "--user", cfg["User"], *mounts]
    log = (tmp_path / "stack.log").open("w")
    proc = subprocess.Popen(
        ["nice", "-n", "10", *base, "--env", f"PORT={port}", name, "--", *command],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "stack.log").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "stack.log").read_text()
            time.sleep(0.5)
        assert running_as(port) == int(cfg["User"].split(":")[0])

        healthcheck = cfg["Healthcheck"]["Test"][1:]
        checked = subprocess.run([*base, "--env", f"PORT={port}", name, "--", *healthcheck], capture_output=True)
        assert checked.returncode == 0, checked.stderr

        headers = {"Authorization": "Bearer sim-key"}
        body = {"model": "anthropic--claude-4-sonnet", "messages": [{"role": "user", "content": "Hello"}]}
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            reply = client.post("/v1/chat/completions", json=body)
            assert reply.status_code == 200, reply.text
            assert reply.headers["x-proxy-stack"] == STACK[form]
            assert reply.json()["choices"][0]["message"]["content"]
            with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as stream:
                assert stream.status_code == 200
                events = [line for line in stream.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "data: [DONE]" and events.count("data: [DONE]") == 1
        text = "".join(
            json.loads(e[6:])["choices"][0]["delta"].get("content") or ""
            for e in events[:-1]
            if json.loads(e[6:])["choices"]
        )
        assert text == reply.json()["choices"][0]["message"]["content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        subprocess.run(["buildah", "rm", name], capture_output=True)
