"""The production set in deploy/: systemd units that systemd accepts, an HAProxy config proxyctl renders.

``systemd-analyze verify`` reads each unit as systemd would (unknown keys, bad values, missing
executables); the units' /opt/aicore-proxy venv is pointed at this suite's venv, which holds
the same console scripts. The committed HAProxy config must be exactly what
``proxyctl up --print-haproxy-config`` renders for it, so it never drifts from the one
``proxyctl up`` runs, and HAProxy itself must accept it.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.project import ROOT

UNITS = ROOT / "deploy" / "systemd"
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "haproxy.cfg"
RUN_DIR = "/var/lib/aicore-proxy"
# How deploy/haproxy/haproxy.cfg is made (docs/deployment.md shows the same command).
RENDER = [
    "up", "--print-haproxy-config", "--run-dir", RUN_DIR, "--bind", "0.0.0.0", "--fastapi-weight", "0",
    "--flask-servers", "127.0.0.1:3001", "--fastapi-servers", "127.0.0.1:3002",
]  # fmt: skip
SYSTEM_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin"


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def test_the_committed_haproxy_config_is_what_proxyctl_renders():
    done = subprocess.run([sys.executable, "-m", "proxyctl", *RENDER], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert HAPROXY_CFG.read_text() == done.stdout, "regenerate it: proxyctl " + " ".join(RENDER)


def test_haproxy_accepts_the_committed_config():
    haproxy = os.environ.get("HAPROXY_BIN") or shutil.which("haproxy", path=SYSTEM_PATH)
    if not haproxy:
        pytest.skip("haproxy is not installed (`make test` installs it)")
    done = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_systemd_accepts_the_units(tmp_path: Path):
    analyze = shutil.which("systemd-analyze", path=SYSTEM_PATH)
    if not analyze:
        pytest.skip("systemd-analyze is not installed (`make test` installs the Debian systemd package)")
    venv = Path(sys.prefix)
    assert (venv / "bin" / "proxyctl").exists()
    copies = []
    for path in sorted(UNITS.glob("*.service")):
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace("/opt/aicore-proxy", str(venv)))
        copies.append(str(copy))
    assert len(copies) == 3
    done = subprocess.run([analyze, "verify", *copies], capture_output=True, text=True)
    about_ours = [ln for ln in (done.stdout + done.stderr).splitlines() if str(tmp_path) in ln or "aicore" in ln]
    assert done.returncode == 0 and about_ours == [], done.stdout + done.stderr


@pytest.mark.parametrize("stack", ["flask", "fastapi"])
def test_stack_units_serve_their_stack_and_outwait_the_drain(stack: str):
    text = (UNITS / f"aicore-proxy-{stack}.service").read_text()
    service = unit(f"aicore-proxy-{stack}.service")["Service"]
    env = dict(
        ln.removeprefix("Environment=").split("=", 1) for ln in text.splitlines() if ln.startswith("Environment=")
    )
    assert service["ExecStart"] == f"/opt/aicore-proxy/bin/proxyctl serve {stack}"
    assert int(service["TimeoutStopSec"]) > int(env["PROXY_DRAIN_TIMEOUT"]), "systemd would kill it while it drains"
    assert service["User"] != "root"
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith(f"/run/{service['RuntimeDirectory']}/")


def test_haproxy_unit_runs_the_config_whose_socket_proxyctl_finds():
    text = (UNITS / "aicore-proxy-haproxy.service").read_text()
    assert "Environment=CONFIG=/etc/aicore-proxy/haproxy.cfg" in text
    assert f"PROXYCTL_RUN_DIR={RUN_DIR} proxyctl rollout" in text
    assert f"stats socket {RUN_DIR}/haproxy.sock " in HAPROXY_CFG.read_text()
    assert f"server-state-file {RUN_DIR}/haproxy.state" in HAPROXY_CFG.read_text()
