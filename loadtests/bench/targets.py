"""Starts the simulator and every benchmark target as real processes, pinned to CPUs.

On a 2-core machine the server under test gets CPU 0 to itself; the simulator, HAProxy
and Locust share CPU 1 (``taskset``; skipped where it is missing). Every target is
started once per profile with one worker and stays up for all of that profile's runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from dataclasses import dataclass, field
from pathlib import Path

from proxyctl.haproxy import find_binary, render_config, servers_for
from proxyctl.procs import Service, fastapi_argv, flask_argv, free_port, sim_argv, start_service, stop_all
from shared.catalog import DEFAULT_API_VERSION

from .sampler import children

__all__ = ["LOAD_CPU", "SERVER_CPU", "Target", "Testbed", "pinned", "post_json", "workers_of"]

SERVER_CPU = "0"
LOAD_CPU = "1"


def pinned(cpu: str, argv: list[str]) -> list[str]:
    """``argv`` run under ``taskset -c cpu`` when taskset exists and the CPU does."""
    taskset = shutil.which("taskset")
    if taskset is None or (os.cpu_count() or 1) <= int(cpu):
        return argv
    return [taskset, "-c", cpu, *argv]


@dataclass
class Target:
    name: str
    url: str
    port: int
    pids: list[int] = field(default_factory=list)  # the processes whose RSS/CPU are sampled
    workers: str = ""


@dataclass
class Testbed:
    """The simulator plus the targets a profile needs, under ``workdir``."""

    workdir: Path
    sim_args: tuple[str, ...]
    services: list[Service] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    sim_port: int = 0
    config_path: Path = Path()

    def start(self, names: set[str]) -> None:
        logs = self.workdir / "logs"
        self.sim_port = free_port()
        self.config_path = self.workdir / "config.json"
        printed = subprocess.run(
            [*sim_argv(self.sim_port), "--print-config"], capture_output=True, text=True, check=True
        ).stdout
        self.config_path.write_text(printed)
        sim = f"http://127.0.0.1:{self.sim_port}"
        self._add(
            start_service("sim", pinned(LOAD_CPU, sim_argv(self.sim_port, *self.sim_args)), f"{sim}/__sim/health", logs)
        )
        # The journal is test tooling; it would cost the simulator CPU on every request.
        post_json(f"{sim}/__sim/settings", {"journal": False})
        env = {"PROXY_CONFIG": str(self.config_path), "PROXY_LOG_LEVEL": "warning"}
        if names & {"flask", "haproxy-50-50"}:
            port = free_port()
            svc = self._add(start_service("flask", pinned(SERVER_CPU, flask_argv(port)), _health(port), logs, env=env))
            self.targets["flask"] = Target(
                "flask", f"http://127.0.0.1:{port}", port, workers_of(svc), "1 gevent worker"
            )
        if names & {"fastapi", "haproxy-50-50"}:
            port = free_port()
            svc = self._add(
                start_service("fastapi", pinned(SERVER_CPU, fastapi_argv(port)), _health(port), logs, env=env)
            )
            url = f"http://127.0.0.1:{port}"
            self.targets["fastapi"] = Target("fastapi", url, port, [_pid(svc)], "1 uvicorn worker")
        for name, client in (("seed", "per-request"), ("shared-httpx", "shared")):
            if name in names:
                port = free_port()
                argv = [str(Path(sys.executable).with_name("uvicorn")), "loadtests.baselines.seed_style:app"]
                argv += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"]
                svc = self._add(
                    start_service(
                        name, pinned(SERVER_CPU, argv), _health(port), logs, env={**env, "BASELINE_CLIENT": client}
                    )
                )
                self.targets[name] = Target(name, f"http://127.0.0.1:{port}", port, [_pid(svc)], "1 uvicorn worker")
        if "ceiling" in names:
            self._start_ceiling(logs)
        if "haproxy-50-50" in names:
            self._start_split(logs)

    def stop(self) -> None:
        stop_all(self.services)
        self.services.clear()

    def load_pids(self) -> list[int]:
        """The simulator's process (Locust's is added per run)."""
        return [_pid(s) for s in self.services if s.name == "sim"]

    def _add(self, svc: Service) -> Service:
        self.services.append(svc)
        return svc

    def _start_ceiling(self, logs: Path) -> None:
        """HAProxy rewriting ``/v1/chat/completions`` to a simulator deployment, token included."""
        cfg = json.loads(self.config_path.read_text())
        sub = cfg["subAccounts"]["sim-a"]
        key = sub["service_key_json"]
        basic = b64encode(f"{key['clientid']}:{key['clientsecret']}".encode()).decode()
        req = urllib.request.Request(
            f"{key['url']}/oauth/token?grant_type=client_credentials",
            method="POST",
            headers={"Authorization": f"Basic {basic}"},
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            token = json.loads(resp.read())["access_token"]
        deployment = sub["deployment_models"]["gpt-4o"][0].split("://", 1)[1].split("/", 1)[1]
        port = free_port()
        text = f"""global
    maxconn 9000
defaults
    mode http
    option http-no-delay
    timeout connect 5s
    timeout client 10m
    timeout server 10m
frontend fe_ceiling
    bind 127.0.0.1:{port}
    http-request return status 200 content-type application/json string "{{}}" if {{ path /health }}
    http-request set-path /{deployment}/chat/completions if {{ path /v1/chat/completions }}
    http-request set-query api-version={DEFAULT_API_VERSION}
    http-request set-header Authorization "Bearer {token}"
    http-request set-header AI-Resource-Group {sub.get("resource_group", "default")}
    default_backend be_sim
backend be_sim
    http-reuse always
    server sim 127.0.0.1:{self.sim_port}
"""
        path = self.workdir / "haproxy-ceiling.cfg"
        path.write_text(text)
        svc = self._add(
            start_service("haproxy-ceiling", pinned(LOAD_CPU, [find_binary(), "-f", str(path)]), _health(port), logs)
        )
        self.targets["ceiling"] = Target("ceiling", f"http://127.0.0.1:{port}", port, [_pid(svc)], "HAProxy, 1 thread")

    def _start_split(self, logs: Path) -> None:
        flask, fastapi = self.targets["flask"], self.targets["fastapi"]
        port, admin = free_port(), free_port()
        text = render_config(
            servers_for([f"127.0.0.1:{flask.port}"], [f"127.0.0.1:{fastapi.port}"]),
            percent=50,
            bind="127.0.0.1",
            port=port,
            admin_port=admin,
            socket_path=self.workdir / "haproxy-split.sock",
            state_file=self.workdir / "haproxy-split.state",
            sticky=False,
        )
        path = self.workdir / "haproxy-split.cfg"
        path.write_text(text.replace("global\n", "global\n    nbthread 1\n", 1))
        self._add(
            start_service("haproxy-50-50", pinned(LOAD_CPU, [find_binary(), "-f", str(path)]), _health(port), logs)
        )
        self.targets["haproxy-50-50"] = Target(
            "haproxy-50-50",
            f"http://127.0.0.1:{port}",
            port,
            [*flask.pids, *fastapi.pids],
            "HAProxy → both stacks, 50/50",
        )


def _health(port: int) -> str:
    return f"http://127.0.0.1:{port}/health"


def _pid(svc: Service) -> int:
    assert svc.proc is not None
    return svc.proc.pid


def workers_of(svc: Service) -> list[int]:
    """gunicorn's worker processes (the master only supervises): the processes to sample under load."""
    master = _pid(svc)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = children(master)
        if found:
            return found
        time.sleep(0.1)
    return [master]


def post_json(url: str, doc: dict[str, object]) -> None:
    """POST ``doc`` to a control endpoint (the simulator's settings); raises on an error status."""
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=5):
        pass
