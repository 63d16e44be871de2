"""How to run the real coding agents headless against one endpoint and nothing else.

``make agents`` installs the versions pinned in ``tests/agents/package-lock.json`` into
``.cache/agents`` (npm ci). Each run gets a fresh home directory: no user settings, no
credentials, no session history leak in, and nothing is written outside it. The environment
is built from scratch (not inherited), so a developer's own ``ANTHROPIC_API_KEY`` or
``OPENAI_API_KEY`` can never reach a test endpoint, and the variables that turn off
telemetry, auto-update and other background traffic are always set. docs/clients/ explains
each setting for users.

Used by the agent tier (``tests/agents/test_*.py``) and by the fixture recorder
(``python -m tests.agents.record_fixtures``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "AGENTS_DIR",
    "CLAUDE_PACKAGE",
    "CODEX_PACKAGE",
    "CODEX_PROVIDER",
    "AgentRun",
    "agent_binary",
    "claude_argv",
    "claude_env",
    "codex_argv",
    "codex_env",
    "installed_version",
    "missing_agents",
    "npm_missing",
    "run_agent",
    "write_codex_config",
]

ROOT = Path(__file__).resolve().parents[2]
AGENTS_DIR = Path(os.environ.get("PROXY_TEST_AGENTS_DIR", ROOT / ".cache" / "agents"))
CLAUDE_PACKAGE = "@anthropic-ai/claude-code"
CODEX_PACKAGE = "@openai/codex"
CODEX_PROVIDER = "sap-proxy"
_BINARIES = {CLAUDE_PACKAGE: "claude", CODEX_PACKAGE: "codex"}


def agent_binary(package: str) -> Path:
    """Where ``make agents`` puts the package's command."""
    return AGENTS_DIR / "node_modules" / ".bin" / _BINARIES[package]


def installed_version(package: str) -> str:
    """The version npm installed (from the package's own package.json)."""
    manifest = AGENTS_DIR / "node_modules" / package / "package.json"
    return str(json.loads(manifest.read_text())["version"])


def npm_missing() -> str | None:
    """Why Node.js/npm are unusable here, or None. The only reason the agent tier may skip."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "Node.js/npm are not installed: `make agents` installs them (apt-get) and the pinned agents"
    return None


def missing_agents() -> str | None:
    """Why the agents cannot run here (npm, or the pinned packages, absent), or None when they can."""
    absent = [p for p in _BINARIES if not agent_binary(p).exists()]
    if absent:
        return f"{', '.join(absent)} not installed in {AGENTS_DIR}: run `make agents`"
    return npm_missing()


def _base_env(home: Path) -> dict[str, str]:
    """A clean environment: PATH, locale and a private HOME/TMPDIR, nothing else inherited."""
    tmp = home / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "SHELL": "/bin/bash",
        "TERM": "dumb",
        "NO_COLOR": "1",
        # The endpoint is local: an inherited egress proxy must not be used for it.
        "NO_PROXY": "127.0.0.1,localhost",
    }


def claude_env(home: Path, base_url: str, key: str, model: str | None, small_model: str | None) -> dict[str, str]:
    """Claude Code against ``base_url`` (the proxy's root, without ``/v1``).

    ``model`` None leaves Claude Code's own default model names (the zero-configuration
    case); ``small_model`` is used for its background calls (titles, summaries).
    """
    env = _base_env(home)
    env.update(
        {
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_API_KEY": key,  # sent as x-api-key; -p mode uses it without asking
            "CLAUDE_CONFIG_DIR": str(home / ".claude"),
            # Telemetry, error reports, auto-update, release notes, feedback: all off.
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_TERMINAL_TITLE": "1",
            # Claude Code would otherwise wait up to 10 minutes for an answer and retry 10 times.
            "API_TIMEOUT_MS": "60000",
            "CLAUDE_CODE_MAX_RETRIES": "1",
        }
    )
    if model:
        env["ANTHROPIC_MODEL"] = model
    if small_model:
        env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] = small_model
        env["ANTHROPIC_SMALL_FAST_MODEL"] = small_model  # the older name of the same setting
    return env


def claude_argv(prompt: str, allowed_tools: str = "Bash") -> list[str]:
    """One non-interactive turn; the named tool runs without a permission prompt."""
    return [
        str(agent_binary(CLAUDE_PACKAGE)),
        "-p",
        prompt,
        "--output-format",
        "json",
        "--allowedTools",
        allowed_tools,
        "--max-turns",
        "4",
    ]


def write_codex_config(codex_home: Path, base_url: str, model: str) -> Path:
    """A ``config.toml`` with the proxy as the only model provider (``base_url`` ends in ``/v1``)."""
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "config.toml"
    path.write_text(
        f"""model = {json.dumps(model)}
model_provider = "{CODEX_PROVIDER}"
approval_policy = "never"

[model_providers.{CODEX_PROVIDER}]
name = "SAP AI Core proxy"
base_url = {json.dumps(base_url)}
env_key = "SAP_PROXY_API_KEY"
wire_api = "responses"
# One attempt each: a refusal should fail the run now, not after minutes of backoff.
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 60000

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"
"""
    )
    return path


def codex_env(home: Path, key: str) -> dict[str, str]:
    """Codex with a private ``CODEX_HOME`` (config, sessions, logs) inside ``home``."""
    env = _base_env(home)
    env.update({"CODEX_HOME": str(home / ".codex"), "SAP_PROXY_API_KEY": key})
    return env


def codex_argv(prompt: str) -> list[str]:
    """One non-interactive turn; commands run without approval and without a sandbox.

    Codex's Linux sandbox (bubblewrap) works here but needs user namespaces, which some CI
    containers lack; the run's directory is thrown away anyway, so the tier does not depend
    on them.
    """
    return [
        str(agent_binary(CODEX_PACKAGE)),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "--color",
        "never",
        "--json",
        prompt,
    ]


@dataclass
class AgentRun:
    """One finished agent process."""

    argv: list[str]
    returncode: int | None  # None: killed at the timeout
    stdout: str
    stderr: str
    seconds: float

    def json_lines(self) -> list[dict[str, Any]]:
        """stdout parsed as JSON Lines (``codex exec --json``); lines that are not JSON are skipped."""
        docs = []
        for line in self.stdout.splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict):
                docs.append(doc)
        return docs

    def describe(self) -> str:
        """Everything a failure report needs."""
        return (
            f"$ {' '.join(self.argv[:2])} ... (exit {self.returncode}, {self.seconds:.1f} s)\n"
            f"--- stdout ---\n{self.stdout[-6000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def run_agent(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> AgentRun:
    """Run one agent to completion (or kill it at ``timeout``), stdin closed."""
    cwd.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        code = None
    return AgentRun(argv, code, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - started)
