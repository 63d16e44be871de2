"""Two revisions of the proxy side by side, in one sitting: what a change costs per request.

``python -m loadtests.bench.revisions BEFORE [AFTER]`` checks out each git revision into
``.run/revisions/<rev>`` (``AFTER`` defaults to the working tree), starts one simulator
with the ``overhead`` profile's instant upstream and both stacks of both revisions (one
worker each, pinned to CPU 0 as in ``make bench``), then runs the same short Locust runs
against each server in turn, alternating the order of the revisions every repetition.

Absolute numbers drift on a shared machine; what this is for is the *ratio* of two
revisions measured under the same drift, which is why the runs interleave instead of
benchmarking one revision after the other. The report gives per-run numbers, medians
and the after/before ratio of each median.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxyctl.procs import ROOT, Service, free_port, sim_argv, start_service, stop_all

from .locust_run import Result, run_locust
from .profiles import CLAUDE, PROFILES, Run
from .targets import LOAD_CPU, SERVER_CPU, Target, pinned, post_json, workers_of

__all__ = ["SCENARIOS", "main"]

# (key, Locust tag, model): passthrough, the Claude conversion, and a stream's first token.
SCENARIOS = (("chat", "chat", "gpt-4o"), ("claude", "chat", CLAUDE), ("stream", "chat-stream", "gpt-4o"))
STACKS = ("flask", "fastapi")
USERS = 32


@dataclass(frozen=True)
class Tree:
    """One revision's source tree and the label it has in the report."""

    label: str
    path: Path


def checkout(rev: str, workdir: Path) -> Tree:
    """``rev`` as a detached worktree under ``workdir`` (kept: the next comparison reuses it)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    path = workdir / commit
    if not (path / "proxy_server.py").exists():
        if path.exists():
            shutil.rmtree(path)
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(["git", "worktree", "add", "--detach", str(path), commit], cwd=ROOT, check=True)
    return Tree(commit, path)


def server_argv(tree: Tree, stack: str, port: int) -> list[str]:
    """The tree's own production command line for ``stack``: older revisions build it differently."""
    code = (
        "import json, sys; from proxyctl.procs import fastapi_argv, flask_argv; "
        f"print(json.dumps({stack}_argv({port})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tree.path, capture_output=True, text=True, check=True).stdout
    argv: list[str] = json.loads(out)
    return argv


def start_stacks(trees: list[Tree], config: Path, logs: Path, services: list[Service]) -> dict[tuple[str, str], Target]:
    targets = {}
    for tree in trees:
        env = {"PROXY_CONFIG": str(config), "PROXY_LOG_LEVEL": "warning", "PYTHONPATH": str(tree.path)}
        for stack in STACKS:
            port = free_port()
            argv = pinned(SERVER_CPU, server_argv(tree, stack, port))
            name = f"{stack}-{tree.label}"
            svc = start_service(name, argv, f"http://127.0.0.1:{port}/health", logs, env=env, cwd=tree.path)
            services.append(svc)
            pids = workers_of(svc) if stack == "flask" else [svc.proc.pid] if svc.proc else []
            targets[(tree.label, stack)] = Target(name, f"http://127.0.0.1:{port}", port, pids, "1 worker")
    return targets


def figures(result: Result) -> dict[str, float]:
    ttft = result.entry(" ttft")
    main = result.main[0] if result.main else None
    return {
        "rps": result.throughput,
        "p50_ms": main.p50 if main else float("nan"),
        "ttft_p50_ms": ttft.p50 if ttft else float("nan"),
        "cpu_pct": result.cpu,
        "failed": float(result.failed),
    }


def report(rows: list[dict[str, Any]], trees: list[Tree], reps: int, seconds: float) -> str:
    before, after = trees[0].label, trees[1].label
    lines = [
        f"# {before} → {after}: the same runs, interleaved ({reps} repetitions × {seconds:.0f} s, {USERS} users)",
        "",
        "Instant upstream (the `overhead` profile's simulator), one worker per server on CPU 0, Locust and the "
        "simulator on CPU 1. Medians over the repetitions; ratio = after / before.",
        "",
        "| scenario | stack | figure | before | after | ratio |",
        "|---|---|---|---:|---:|---:|",
    ]
    for key, _tag, _model in SCENARIOS:
        for stack in STACKS:
            shown = ("rps", "ttft_p50_ms", "cpu_pct") if key == "stream" else ("rps", "p50_ms", "cpu_pct")
            for fig in shown:
                med = {}
                for label in (before, after):
                    values = [
                        float(r[fig])
                        for r in rows
                        if r["scenario"] == key and r["stack"] == stack and r["tree"] == label
                    ]
                    med[label] = statistics.median(values) if values else float("nan")
                ratio = med[after] / med[before] if med[before] else float("nan")
                lines.append(f"| {key} | {stack} | {fig} | {med[before]:.1f} | {med[after]:.1f} | {ratio:.3f} |")
    failed = sum(float(r["failed"]) for r in rows)
    lines += ["", f"Failed requests over all runs: {failed:.0f}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.bench.revisions", description=__doc__.splitlines()[0])
    p.add_argument("before", help="git revision to compare against (e.g. a commit before a redesign)")
    p.add_argument("after", nargs="?", default="", help="git revision (default: the working tree)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--out", type=Path, default=ROOT / ".run" / "revisions" / "report")
    args = p.parse_args(argv)
    workdir = ROOT / ".run" / "revisions"
    trees = [checkout(args.before, workdir)]
    trees.append(checkout(args.after, workdir) if args.after else Tree("worktree", ROOT))
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    logs = args.out / "logs"
    services: list[Service] = []
    rows: list[dict[str, Any]] = []
    try:
        sim_port = free_port()
        sim_args = PROFILES["overhead"].sim_args
        config = args.out / "config.json"
        config.write_text(
            subprocess.run([*sim_argv(sim_port), "--print-config"], capture_output=True, text=True, check=True).stdout
        )
        sim = f"http://127.0.0.1:{sim_port}"
        services.append(
            start_service("sim", pinned(LOAD_CPU, sim_argv(sim_port, *sim_args)), f"{sim}/__sim/health", logs)
        )
        post_json(f"{sim}/__sim/settings", {"journal": False})
        sim_pids = [services[0].proc.pid] if services[0].proc else []
        targets = start_stacks(trees, config, logs, services)
        for rep in range(args.reps):
            order = trees if rep % 2 == 0 else trees[::-1]
            for key, tag, model in SCENARIOS:
                for stack in STACKS:
                    for tree in order:
                        run = Run(
                            f"{key}-{stack}-{tree.label}-{rep}",
                            stack,
                            (tag,),
                            USERS,
                            USERS,
                            args.seconds,
                            chat_model=model,
                        )
                        result = run_locust(run, targets[(tree.label, stack)], args.out, sim_pids)
                        row: dict[str, Any] = {"rep": rep, "scenario": key, "stack": stack, "tree": tree.label}
                        row.update(figures(result))
                        rows.append(row)
                        print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        stop_all(services)
    (args.out / "runs.json").write_text(json.dumps(rows, indent=1))
    text = report(rows, trees, args.reps, args.seconds)
    (args.out / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
