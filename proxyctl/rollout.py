"""``proxyctl rollout N`` / ``rollback`` / ``reload`` / ``down``.

Weights change live through HAProxy's Runtime API (``set weight``): no reload, open
connections and streams are untouched, new requests follow the new weights. After
every change the server state is saved to the server-state file (which a reload
loads) and the percentage to ``rollout.json`` (which the next ``up`` uses).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import time

from proxyctl.haproxy import Runtime, find_binary
from proxyctl.runstate import (
    CliError,
    RunDir,
    add_common,
    add_socket,
    percent_arg,
    pid_alive,
    proc_start_time,
    shutdown,
    wait_gone,
)
from proxyctl.status import connect

__all__ = ["add_parsers", "apply_percent"]


def apply_percent(rd: RunDir, rt: Runtime, percent: int, source: str) -> tuple[int, int, int]:
    """Set the FastAPI share live and persist it; returns (previous %, flask weight, fastapi weight)."""
    before = rt.percent()
    wf, wa = rt.set_percent(percent)
    rt.save_state(rd.file("haproxy.state"))
    rd.write_weight(percent, source)
    return before, wf, wa


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rollout", help="send N%% of new requests to FastAPI, live (no reload); persisted")
    p.add_argument("percent", type=percent_arg, metavar="N", help="0-100")
    add_common(p)
    add_socket(p)
    p.set_defaults(func=run_rollout)

    p = sub.add_parser("rollback", help="FastAPI weight 0 at once; open streams finish")
    add_common(p)
    add_socket(p)
    p.set_defaults(func=run_rollback)

    p = sub.add_parser("reload", help="reload HAProxy (config re-read, weights kept, open streams finish)")
    add_common(p)
    p.set_defaults(func=run_reload)

    p = sub.add_parser("down", help="stop what `proxyctl up` started (HAProxy first, then the stacks)")
    add_common(p)
    p.add_argument("--drain", type=float, default=30.0, help="seconds open streams may take to finish")
    p.set_defaults(func=run_down)


def run_rollout(args: argparse.Namespace) -> int:
    rd, rt = connect(args)
    before, wf, wa = apply_percent(rd, rt, args.percent, "rollout")
    print(
        f"FastAPI: {before}% -> {args.percent}% of new requests (server weights flask {wf} / fastapi {wa}); "
        "open requests and streams continue where they are"
    )
    down = [r["svname"] for r in rt.servers() if r["stack"] == "fastapi" and not r["status"].startswith("UP")]
    if args.percent and down:
        print(f"warning: FastAPI server(s) {', '.join(down)} are not UP in HAProxy; their share goes to the others")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    rd, rt = connect(args)
    before, wf, _ = apply_percent(rd, rt, 0, "rollback")
    print(
        f"rolled back: FastAPI {before}% -> 0%; every new request goes to Flask (weight {wf}); "
        "streams already open on FastAPI finish normally"
    )
    return 0


def _worker_pid(rt: Runtime) -> str:
    for line in rt.command("show info").splitlines():
        if line.startswith("Pid:"):
            return line.split(":", 1)[1].strip()
    return ""


def run_reload(args: argparse.Namespace) -> int:
    rd, rt = connect(args)
    master = rd.live_pids().get("haproxy")
    state = rd.state() or {}
    if master is None or "config" not in state:
        raise CliError(f"no HAProxy started by `proxyctl up` in {rd.path}; reload yours after `show servers state`")
    checked = subprocess.run([find_binary(), "-c", "-f", state["config"]], capture_output=True, text=True)
    if checked.returncode != 0:
        raise CliError(f"not reloading: HAProxy refuses {state['config']}:\n{checked.stdout}{checked.stderr}", 1)
    before, old_worker = rt.percent(), _worker_pid(rt)
    rt.save_state(rd.file("haproxy.state"))
    os.kill(master, signal.SIGUSR2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if _worker_pid(rt) not in ("", old_worker):
                break
        except OSError:
            pass
        time.sleep(0.1)
    else:
        raise CliError("HAProxy did not come back from the reload within 15s; see its log in the run dir", 1)
    after = rt.percent()
    print(f"reloaded HAProxy (worker {old_worker} -> {_worker_pid(rt)}); FastAPI {before}% -> {after}%")
    return 0 if after == before else 1


def run_down(args: argparse.Namespace) -> int:
    rd = RunDir(args.run_dir)
    state = rd.state()
    if state is None:
        print(f"nothing is up in {rd.path}")
        return 0
    sup = state.get("supervisor") or {}
    if sup and pid_alive(sup["pid"]) and proc_start_time(sup["pid"]) in (None, sup.get("start")):
        os.kill(sup["pid"], signal.SIGTERM)  # a foreground `proxyctl up`: it stops its own processes
        if not wait_gone(sup["pid"], args.drain + 60):
            raise CliError(f"the foreground `proxyctl up` (pid {sup['pid']}) did not stop", 1)
    live = rd.live_pids()
    shutdown(live, args.drain)
    rd.clear_state()
    if "haproxy" in live:
        rd.socket.unlink(missing_ok=True)  # HAProxy leaves its unix socket behind
    print(f"stopped {', '.join(f'{n} (pid {p})' for n, p in live.items()) or 'nothing (already gone)'}")
    return 0
