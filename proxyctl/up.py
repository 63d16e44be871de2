"""``proxyctl up``: the simulator (unless a config is given) plus both stacks, until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from proxyctl.procs import ROOT, Service, fastapi_argv, flask_argv, port_in_use, sim_argv, start_service, stop_all

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("up", help="start the simulator (without --config) and both stacks; Ctrl-C stops all")
    p.add_argument("--config", help="proxy config.json (default: a simulator and its generated config)")
    p.add_argument("--flask-port", type=int, default=3001)
    p.add_argument("--fastapi-port", type=int, default=3002)
    p.add_argument("--sim-port", type=int, default=8900)
    p.add_argument("--workers", type=int, default=1, help="workers per stack")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    ports = [args.flask_port, args.fastapi_port] + ([] if args.config else [args.sim_port])
    busy = [p for p in ports if port_in_use(p)]
    if busy:
        print(f"proxyctl: port(s) {', '.join(map(str, busy))} already in use; stop what runs there or pick others "
              "(--flask-port/--fastapi-port/--sim-port)", file=sys.stderr)  # fmt: skip
        return 2
    log_dir = ROOT / ".run" / "logs"
    services: list[Service] = []
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        config = args.config
        key = None
        if config is None:
            sim_url = f"http://127.0.0.1:{args.sim_port}"
            services.append(start_service("aicore-sim", sim_argv(args.sim_port), f"{sim_url}/__sim/health", log_dir))
            config = str(Path(tempfile.mkdtemp(prefix="proxy-")) / "config.json")
            doc = json.loads(subprocess.check_output(sim_argv(args.sim_port, "--print-config"), cwd=ROOT))
            Path(config).write_text(json.dumps(doc, indent=2))
            key = doc["secret_authentication_tokens"][0]
            print(f"simulator      {sim_url}  (config: {config})")
        env = {"PROXY_CONFIG": str(Path(config).resolve())}
        for name, port, argv in (
            ("flask", args.flask_port, flask_argv(args.flask_port, args.workers)),
            ("fastapi", args.fastapi_port, fastapi_argv(args.fastapi_port, args.workers)),
        ):
            services.append(start_service(name, argv, f"http://127.0.0.1:{port}/health", log_dir, env))
            print(f"{name:<14} http://127.0.0.1:{port}")
        _print_usage(args.flask_port, key or "<one of secret_authentication_tokens>")
        print(f"logs in {log_dir}; Ctrl-C stops everything")
        while not stop.is_set():
            for s in services:
                if s.proc is not None and s.proc.poll() is not None:
                    print(f"proxyctl: {s.name} exited ({s.proc.returncode}):\n{s.log_tail()}", file=sys.stderr)
                    return 1
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"proxyctl: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping...")
        stop_all(services)
    return 0


def _print_usage(port: int, key: str) -> None:
    print(f"""
Try it (either stack; FastAPI is on the other port):

  curl -s http://127.0.0.1:{port}/v1/chat/completions \\
    -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
    -d '{{"model": "gpt-4o", "messages": [{{"role": "user", "content": "Hello"}}]}}'

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="http://127.0.0.1:{port}/v1", api_key="{key}")
for model in ("gpt-4o", "anthropic--claude-4-sonnet", "gemini-2.5-pro"):
    reply = client.chat.completions.create(model=model, messages=[{{"role": "user", "content": "Hello"}}])
    print(model, "->", reply.choices[0].message.content)
PY
""")
