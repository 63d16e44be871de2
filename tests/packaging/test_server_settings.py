"""The servers' settings agree with each other, with HAProxy and with the conventions.

Three ways to run a stack — gunicorn+gevent (Flask), uvicorn and gunicorn with uvicorn
workers (FastAPI) — all built by ``proxyctl.procs.server_argv`` from
``shared.runtime.server_settings``; these tests start each one for real.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from proxyctl.haproxy import render_config, servers_for
from proxyctl.procs import ROOT, free_port, server_argv, sim_argv, start_service, stop_all
from shared.runtime import server_settings

FORMS = [("flask", "gunicorn"), ("fastapi", "uvicorn"), ("fastapi", "gunicorn")]


def proxyctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "proxyctl", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=60
    )


def haproxy_keepalive_seconds() -> int:
    text = render_config(
        servers_for(["127.0.0.1:1"], ["127.0.0.1:2"]),
        percent=10, bind="127.0.0.1", port=3, admin_port=4, socket_path=Path("s"), state_file=Path("f"), sticky=False,
    )  # fmt: skip
    found = re.search(r"timeout http-keep-alive (\d+)s", text)
    assert found, "proxyctl's HAProxy config sets no http-keep-alive timeout"
    return int(found.group(1))


def test_servers_keep_idle_connections_longer_than_haproxy():
    """HAProxy must be the side that closes an idle keep-alive connection, never the server."""
    assert server_settings.KEEPALIVE_SECONDS > haproxy_keepalive_seconds()
    uvicorn = server_argv("fastapi", "uvicorn", 1, 1)
    assert uvicorn[uvicorn.index("--timeout-keep-alive") + 1] == str(server_settings.KEEPALIVE_SECONDS)


def gunicorn_settings(env: dict[str, str]) -> dict[str, object]:
    code = (
        "import json; from shared.runtime import gunicorn_settings as s; "
        "print(json.dumps({k: getattr(s, k) for k in ('workers', 'graceful_timeout', 'keepalive', "
        "'control_socket_disable', 'accesslog', 'preload_app')}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env}, capture_output=True)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_web_concurrency_and_the_drain_limit_reach_every_server():
    env = {"WEB_CONCURRENCY": "3", "PROXY_DRAIN_TIMEOUT": "7"}
    settings = gunicorn_settings(env)
    assert settings["workers"] == 3 and settings["graceful_timeout"] == 7
    assert settings["keepalive"] == server_settings.KEEPALIVE_SECONDS
    assert settings["control_socket_disable"] is True and settings["accesslog"] is None
    assert settings["preload_app"] is False
    for stack, server in FORMS:
        done = proxyctl("serve", stack, "--server", server, "--print-command", env=env)
        assert done.returncode == 0, done.stderr
        assert "--workers 3" in done.stdout
        if server == "uvicorn":
            assert "--timeout-graceful-shutdown 7" in done.stdout and "--no-access-log" in done.stdout
        else:
            assert "--config python:shared.runtime.gunicorn_settings" in done.stdout
    assert "--workers 5" in proxyctl("serve", "flask", "--workers", "5", "--print-command", env=env).stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["serve", "flask"], {"WEB_CONCURRENCY": "many"}, "WEB_CONCURRENCY='many': must be a whole number"),
        (["serve", "flask", "--server", "uvicorn"], {}, "the flask stack runs under gunicorn, not uvicorn"),
        (["serve", "fastapi"], {"PROXY_DRAIN_TIMEOUT": "-1"}, "PROXY_DRAIN_TIMEOUT='-1'"),
        (["serve", "fastapi", "--workers", "0"], {}, "--workers 0: give at least 1"),
    ],
)
def test_bad_server_settings_are_refused_with_the_name(args: list[str], env: dict[str, str], message: str):
    done = proxyctl(*args, env=env)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def sim_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    port = free_port()
    path = tmp_path_factory.mktemp("settings") / "config.json"
    path.write_text(subprocess.check_output(sim_argv(port, "--print-config"), cwd=ROOT, text=True))
    return path


@pytest.mark.parametrize(("stack", "server"), FORMS, ids=[f"{s}-{v}" for s, v in FORMS])
def test_each_server_form_writes_one_access_line_and_no_control_socket(
    stack: str, server: str, sim_config: Path, tmp_path: Path
):
    """The app's JSON line is the only access log; gunicorn opens no control socket in HOME or XDG_RUNTIME_DIR."""
    home, runtime_dir = tmp_path / "home", tmp_path / "xdg"
    home.mkdir()
    runtime_dir.mkdir()
    port = free_port()
    argv = [sys.executable, "-m", "proxyctl", "serve", stack, "--server", server, "--port", str(port)]
    env = {"PROXY_CONFIG": str(sim_config), "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime_dir)}
    service = start_service(f"{stack}-{server}", argv, f"http://127.0.0.1:{port}/health", tmp_path, env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            reply = client.get("/v1/models", headers={"Authorization": "Bearer sim-key"})
        assert reply.status_code == 200 and reply.headers["x-proxy-stack"] == stack
    finally:
        stop_all([service])
    lines = [ln for ln in service.log_path.read_text().splitlines() if "/v1/models" in ln]
    assert len(lines) == 1, lines
    assert json.loads(lines[0])["request_id"] == reply.headers["x-request-id"]
    assert [p.name for p in home.rglob("*")] == [] and list(runtime_dir.iterdir()) == []
