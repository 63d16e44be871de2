"""The wheel works on its own: installed with the locks into a clean venv, outside the tree.

``proxyctl up --detach`` (simulator, both stacks, HAProxy), one request through HAProxy to
each stack, ``proxyctl parity`` over the packaged corpus and ``proxyctl down``, all from the
venv's console scripts, with the working directory outside the repo and no source tree on
``sys.path``. Each lock is also installed alone and its stack's modules imported, so every
runtime lock is proved sufficient and ``pip check``-clean.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import httpx
import pytest

from proxyctl.haproxy import find_binary
from proxyctl.procs import free_port, port_in_use
from proxyctl.runstate import CliError
from tests.packaging.project import ROOT, lock_envs
from tests.packaging.tools import clean_env, make_venv, run

pytestmark = pytest.mark.timeout(900)

# What each lock must be enough for, imported in a venv holding that lock and the wheel alone.
IMPORTS = {
    "flask": ["proxy_server", "shared.runtime.gunicorn_settings", "shared.transports.sync_requests", "gevent"],
    "fastapi": ["proxy_server_fastapi", "shared.transports.async_aiohttp", "uvicorn_worker", "uvloop"],
    "sim": ["aicore_sim.cli", "aicore_sim.app", "uvloop", "httptools"],
    "bench": ["loadtests.bench.runner", "loadtests.baselines.seed_style", "locust", "proxy_server"],
}


def test_the_wheel_carries_what_the_commands_need(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    metadata = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "shared/runtime/gunicorn_settings.py" in names
    assert "proxyctl/corpus/chat-gpt-4o-json.json" in names
    assert {"proxy_server.py", "proxy_server_fastapi.py", "aicore_sim/cli.py", "proxyctl/haproxy.py"} <= names
    assert f"{dist_info}/licenses/LICENSE" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert "proxyctl = proxyctl.__main__:main" in entry_points and "aicore-sim = aicore_sim.cli:main" in entry_points
    assert not any(n.startswith("tests/") for n in names)


@pytest.mark.parametrize("lock", sorted(set(lock_envs()) - {"dev"}))
def test_each_lock_alone_installs_clean_and_serves_its_part(lock: str, wheel: Path, tmp_path: Path):
    venv = make_venv(tmp_path / "venv", [lock], wheel)
    env = clean_env(tmp_path / "home", venv)
    code = f"import {', '.join(IMPORTS[lock])}"
    run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env)
    if lock == "sim":  # the console script
        printed = run([str(venv / "bin" / "aicore-sim"), "--port", "8999", "--print-config"], cwd=tmp_path, env=env)
        assert "secret_authentication_tokens" in printed.stdout


def test_installed_wheel_runs_up_a_request_parity_and_down(wheel: Path, tmp_path: Path):
    try:
        find_binary()
    except CliError:
        pytest.skip("haproxy is not installed (`make test` installs the Debian package; or set HAPROXY_BIN)")
    venv = make_venv(tmp_path / "venv", ["flask", "fastapi", "sim"], wheel)
    work = tmp_path / "work"  # the cwd: outside the repo
    work.mkdir()
    env = {**clean_env(tmp_path / "home", venv), "XDG_STATE_HOME": str(tmp_path / "state")}
    if shutil.which("haproxy") is None:
        env["HAPROXY_BIN"] = find_binary()
    bin_dir = venv / "bin"

    where = run([str(bin_dir / "python"), "-c", "import shared, proxyctl; print(shared.__file__)"], cwd=work, env=env)
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    ports = {name: free_port() for name in ("haproxy", "admin", "flask", "fastapi", "sim")}
    up = [str(bin_dir / "proxyctl"), "up", "--detach", "--fastapi-weight", "50"]
    up += [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))]
    run_dir = tmp_path / "state" / "proxyctl"  # an installed proxyctl's default run directory
    try:
        run(up, cwd=work, env=env, timeout=120)
        state = json.loads((run_dir / "state.json").read_text())
        for name in ("flask", "fastapi", "aicore-sim", "haproxy"):
            pid = state["pids"][name]["pid"]
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if name != "haproxy":  # started from the venv, not from the suite's .venv or the tree
                assert argv[0].decode().startswith(str(venv)), argv
            assert Path(f"/proc/{pid}/cwd").resolve() != ROOT

        front = f"http://127.0.0.1:{ports['haproxy']}"
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hello"}]}
        with httpx.Client(base_url=front, headers={"Authorization": "Bearer sim-key"}, timeout=30) as client:
            for stack in ("flask", "fastapi"):
                reply = client.post("/v1/chat/completions", json=body, headers={"X-Proxy-Stack": stack})
                assert reply.status_code == 200, reply.text
                assert reply.headers["x-proxy-stack"] == stack
                assert reply.json()["choices"][0]["message"]["content"]

        flask, fastapi = (f"http://127.0.0.1:{ports[s]}" for s in ("flask", "fastapi"))
        parity = [str(bin_dir / "proxyctl"), "parity", "--a", flask, "--b", fastapi, "--key", "sim-key"]
        report = run(parity, cwd=work, env=env, timeout=300).stdout
        assert report.rstrip().endswith("identical") and "DIFF" not in report, report
    finally:
        down = subprocess.run(
            [str(bin_dir / "proxyctl"), "down"], cwd=work, env=env, capture_output=True, text=True, timeout=120
        )
    assert down.returncode == 0, down.stdout + down.stderr
    assert not (run_dir / "state.json").exists()
    assert not any(port_in_use(port) for port in ports.values())
