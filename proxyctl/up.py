"""``proxyctl up``: the simulator (without --config), both stacks and HAProxy in front.

``--prometheus`` also starts Prometheus scraping both stacks with the shipped rules
(:mod:`proxyctl.prometheus`): ``make run PROMETHEUS=1`` shows a live comparison.

With ``--flask-servers``/``--fastapi-servers`` it starts only HAProxy, fronting those
fleets. Everything is health-checked before ``up`` reports ready: each local stack on
``/health``, then HAProxy's own checks of every server. In the foreground Ctrl-C or
SIGTERM stops everything; ``--detach`` returns and ``proxyctl down`` stops it later.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from proxyctl import prometheus
from proxyctl.haproxy import Runtime, find_binary, parse_servers, render_config, servers_for, split_weights
from proxyctl.procs import (
    ROOT,
    SERVERS,
    Service,
    fastapi_argv,
    flask_argv,
    metrics_env,
    port_in_use,
    sim_argv,
    start_service,
)
from proxyctl.runstate import CliError, RunDir, add_common, percent_arg, port_arg, proc_start_time, shutdown
from shared.runtime import server_settings

__all__ = ["add_parser", "run"]

DEFAULT_PERCENT = 10


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("up", help="start the simulator (without --config), both stacks and HAProxy in front")
    add_common(p)
    p.add_argument("--config", help="proxy config.json (default: a simulator and its generated config)")
    p.add_argument(
        "--fastapi-weight",
        type=percent_arg,
        metavar="N",
        help=f"%% of new requests to FastAPI (default: the last one set, else {DEFAULT_PERCENT})",
    )
    p.add_argument("--workers", type=_positive, help="workers per stack (default: WEB_CONCURRENCY, else 1)")
    p.add_argument(
        "--fastapi-server",
        choices=SERVERS["fastapi"],
        default=SERVERS["fastapi"][0],
        help="run FastAPI under uvicorn (default) or gunicorn with uvicorn workers",
    )
    p.add_argument("--detach", action="store_true", help="return once ready; `proxyctl down` stops everything")
    p.add_argument("--flask-port", type=port_arg, default=3001)
    p.add_argument("--fastapi-port", type=port_arg, default=3002)
    p.add_argument("--haproxy-port", type=port_arg, default=3000, help="the front door (default 3000)")
    p.add_argument("--admin-port", type=port_arg, default=3003, help="HAProxy stats page (default 3003)")
    p.add_argument("--sim-port", type=port_arg, default=8900)
    p.add_argument("--bind", default="127.0.0.1", help="address HAProxy listens on (0.0.0.0: every interface)")
    p.add_argument("--sticky", action="store_true", help="keep each API key on one stack (weights still hold)")
    p.add_argument("--flask-servers", metavar="HOST:PORT,...", help="front these Flask servers, start no stacks")
    p.add_argument("--fastapi-servers", metavar="HOST:PORT,...", help="front these FastAPI servers")
    p.add_argument("--ready-timeout", type=float, default=30.0, help="seconds to wait for health checks")
    p.add_argument(
        "--prometheus",
        action="store_true",
        help="also start Prometheus (the Debian package) scraping both stacks with deploy/prometheus/rules.yml",
    )
    p.add_argument("--prometheus-port", type=port_arg, default=9090, help="Prometheus' web UI and API (default 9090)")
    p.add_argument(
        "--prometheus-interval", type=float, default=5.0, metavar="SECONDS", help="scrape and rule interval (5)"
    )
    p.add_argument(
        "--print-haproxy-config",
        action="store_true",
        help="print the HAProxy config these options give (socket and state file in --run-dir) and start "
        "nothing: for an HAProxy run by systemd (docs/deployment.md)",
    )
    p.set_defaults(func=run)


def _check(args: argparse.Namespace, rd: RunDir) -> tuple[str, list[int]]:
    """Everything that can be refused before anything is started."""
    if args.workers is None:
        try:
            args.workers = server_settings.workers(os.environ)
        except ValueError as exc:
            raise CliError(str(exc)) from exc
    if bool(args.flask_servers) != bool(args.fastapi_servers):
        raise CliError("--flask-servers and --fastapi-servers go together")
    fleets = bool(args.flask_servers)
    if fleets and args.config:
        raise CliError("--config configures local stacks; with --flask-servers/--fastapi-servers none is started")
    if args.config and not Path(args.config).is_file():
        raise CliError(f"--config {args.config}: no such file")
    live = rd.live_pids()
    if live:
        names = ", ".join(f"{n} (pid {p})" for n, p in live.items())
        raise CliError(f"already up in {rd.path}: {names}. Run `proxyctl down` first, or use another --run-dir")
    binary = find_binary()
    ports = [args.haproxy_port, args.admin_port]
    if args.prometheus:
        if prometheus.find_binary() is None:
            raise CliError("--prometheus: no prometheus binary (`make prometheus` or `apt-get install prometheus`)")
        if args.prometheus_interval <= 0:
            raise CliError("--prometheus-interval must be positive")
        ports.append(args.prometheus_port)
    if not fleets:
        ports += [args.flask_port, args.fastapi_port] + ([] if args.config else [args.sim_port])
    if len(set(ports)) != len(ports):
        raise CliError(f"ports must all differ: {ports}")
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        raise CliError(
            f"port(s) {', '.join(map(str, busy))} already in use; stop what runs there or pick others "
            "(--haproxy-port/--admin-port/--flask-port/--fastapi-port/--sim-port/--prometheus-port)"
        )
    return binary, ports


def _wait_checked(rt: Runtime, timeout: float) -> None:
    """Until HAProxy's own health checks pass for every server."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        try:
            rows = rt.servers()
        except (OSError, CliError):
            rows = []
        if rows and all(r["status"] == "UP" and r["check_status"].startswith("L7OK") for r in rows):
            return
        time.sleep(0.2)
    bad = ", ".join(f"{r['svname']} {r['addr']} {r['status']} {r['check_status']}" for r in rows) or "no answer"
    raise CliError(f"HAProxy health checks (GET /health) did not pass within {timeout:.0f}s: {bad}", 1)


def _start_local(args: argparse.Namespace, rd: RunDir, services: list[Service]) -> tuple[list[str], list[str], str]:
    config, key = args.config, "<one of secret_authentication_tokens>"
    if config is None:
        sim_url = f"http://127.0.0.1:{args.sim_port}"
        services.append(
            start_service("aicore-sim", sim_argv(args.sim_port), f"{sim_url}/__sim/health", rd.logs, detach=True)
        )
        doc = json.loads(subprocess.check_output(sim_argv(args.sim_port, "--print-config"), cwd=ROOT))
        config = str(rd.file("sim-config.json"))
        Path(config).write_text(json.dumps(doc, indent=2))
        key = doc["secret_authentication_tokens"][0]
        print(f"simulator      {sim_url}  (config: {config})")
    env = {"PROXY_CONFIG": str(Path(config).resolve())}
    for name, port, argv in (
        ("flask", args.flask_port, flask_argv(args.flask_port, args.workers)),
        ("fastapi", args.fastapi_port, fastapi_argv(args.fastapi_port, args.workers, server=args.fastapi_server)),
    ):
        # Several workers: one emptied PROMETHEUS_MULTIPROC_DIR per stack, so /metrics sums all workers.
        extra = metrics_env(rd.file(f"metrics-{name}")) if args.workers > 1 else {}
        health = f"http://127.0.0.1:{port}/health"
        services.append(start_service(name, argv, health, rd.logs, {**env, **extra}, detach=True))
        print(f"{name:<14} http://127.0.0.1:{port}")
    return [f"127.0.0.1:{args.flask_port}"], [f"127.0.0.1:{args.fastapi_port}"], key


def _start_prometheus(args: argparse.Namespace, rd: RunDir, stacks: dict[str, list[str]]) -> Service:
    binary = prometheus.find_binary()
    assert binary is not None  # checked before anything started
    cfg = rd.file("prometheus.yml")
    cfg.write_text(prometheus.config(stacks, args.prometheus_interval))
    url = f"http://127.0.0.1:{args.prometheus_port}"
    argv = [
        binary, f"--config.file={cfg}", f"--storage.tsdb.path={rd.file('prometheus-data')}",
        f"--web.listen-address=127.0.0.1:{args.prometheus_port}", "--log.level=warn",
    ]  # fmt: skip
    service = start_service("prometheus", argv, f"{url}/-/ready", rd.logs, detach=True)
    rules = "deploy/prometheus/rules.yml" if prometheus.RULES.is_file() else "no rules (not in a source tree)"
    print(f"prometheus     {url}  (scraping both stacks every {args.prometheus_interval:g}s; {rules})")
    return service


def _print_haproxy_config(args: argparse.Namespace, rd: RunDir, percent: int) -> int:
    if bool(args.flask_servers) != bool(args.fastapi_servers):
        raise CliError("--flask-servers and --fastapi-servers go together")
    flask = parse_servers(args.flask_servers or f"127.0.0.1:{args.flask_port}", "--flask-servers")
    fastapi = parse_servers(args.fastapi_servers or f"127.0.0.1:{args.fastapi_port}", "--fastapi-servers")
    text = render_config(
        servers_for(flask, fastapi),
        percent=percent,
        bind=args.bind,
        port=args.haproxy_port,
        admin_port=args.admin_port,
        socket_path=rd.socket,
        state_file=rd.file("haproxy.state"),
        sticky=args.sticky,
    )
    print(text, end="")
    return 0


def run(args: argparse.Namespace) -> int:
    rd = RunDir(args.run_dir)
    persisted = rd.weight()
    percent = args.fastapi_weight if args.fastapi_weight is not None else persisted
    percent = DEFAULT_PERCENT if percent is None else percent
    if args.print_haproxy_config:
        return _print_haproxy_config(args, rd, percent)
    binary, ports = _check(args, rd)
    rd.ensure()
    services: list[Service] = []
    ready = False
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.flask_servers:
            flask = parse_servers(args.flask_servers, "--flask-servers")
            fastapi = parse_servers(args.fastapi_servers, "--fastapi-servers")
            key = "<your API key>"
        else:
            flask, fastapi, key = _start_local(args, rd, services)
        servers = servers_for(flask, fastapi)
        cfg, state_file = rd.file("haproxy.cfg"), rd.file("haproxy.state")
        cfg.write_text(
            render_config(
                servers,
                percent=percent,
                bind=args.bind,
                port=args.haproxy_port,
                admin_port=args.admin_port,
                socket_path=rd.socket,
                state_file=state_file,
                sticky=args.sticky,
            )
        )
        checked = subprocess.run([binary, "-c", "-f", str(cfg)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise CliError(f"HAProxy refused {cfg}:\n{checked.stdout}{checked.stderr}", 1)
        for stale in (state_file, rd.file("snapshots.json")):
            stale.unlink(missing_ok=True)
        host = "127.0.0.1" if args.bind in ("0.0.0.0", "::", "*") else args.bind
        front = f"http://{host}:{args.haproxy_port}"
        services.append(
            start_service("haproxy", [binary, "-W", "-f", str(cfg)], f"{front}/health", rd.logs, detach=True)
        )
        rt = Runtime(rd.socket)
        _wait_checked(rt, args.ready_timeout)
        if args.prometheus:
            services.append(_start_prometheus(args, rd, {"flask": flask, "fastapi": fastapi}))
        rt.save_state(state_file)
        rd.write_weight(percent, "up")
        rd.write_state(_state_doc(args, services, front, ports, [asdict(s) for s in servers]))
        wf, wa = split_weights(percent, len(flask), len(fastapi))
        print(f"haproxy        {front}  FastAPI {percent}% of new requests (server weights flask {wf} / fastapi {wa})")
        print(f"stats page     http://127.0.0.1:{args.admin_port}/   runtime API {rd.socket}")
        _print_usage(front, key)
        ready = True
        if args.detach:
            print(f"detached; logs in {rd.logs}; `proxyctl down` stops everything", flush=True)
            return 0
        print(f"ready; logs in {rd.logs}; Ctrl-C stops everything", flush=True)
        while True:
            for s in services:
                if s.proc is not None and s.proc.poll() is not None:
                    print(f"proxyctl: {s.name} exited ({s.proc.returncode}):\n{s.log_tail()}", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0 if ready else 130
    except RuntimeError as exc:
        raise CliError(str(exc), 1) from exc
    finally:
        if not (ready and args.detach):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            print("\nstopping...", flush=True)
            shutdown({s.name: s.proc.pid for s in services if s.proc is not None})
            for s in services:
                if s.proc is not None:
                    s.proc.wait()
            if ready:
                rd.clear_state()
            if any(s.name == "haproxy" for s in services):
                rd.socket.unlink(missing_ok=True)


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def _state_doc(
    args: argparse.Namespace, services: list[Service], front: str, ports: list[int], servers: list[dict[str, str]]
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "pids": {s.name: {"pid": s.proc.pid, "start": proc_start_time(s.proc.pid)} for s in services if s.proc},
        "socket": str(RunDir(args.run_dir).socket),
        "config": str(RunDir(args.run_dir).file("haproxy.cfg")),
        "haproxy_url": front,
        "stats_url": f"http://127.0.0.1:{args.admin_port}/",
        "ports": ports,
        "servers": servers,
        "sticky": args.sticky,
        "detached": args.detach,
        "started_at": time.time(),
    }
    if not args.detach:
        doc["supervisor"] = {"pid": os.getpid(), "start": proc_start_time(os.getpid())}
    return doc


def _print_usage(front: str, key: str) -> None:
    print(f"""
Try it through HAProxy (add -H 'X-Proxy-Stack: fastapi' or 'flask' to force a stack):

  curl -si {front}/v1/chat/completions \\
    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
    -d '{{"model": "gpt-4o", "messages": [{{"role": "user", "content": "Hello"}}]}}' | grep -i -e x-proxy-stack -e says

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="{front}/v1", api_key="{key}")
for model in ("gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"):
    reply = client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "Hello"}}])
    print(model, "->", reply.choices[0].message.content)
PY

Shift traffic: proxyctl rollout 50 | proxyctl rollback | proxyctl status | proxyctl promote
""")
