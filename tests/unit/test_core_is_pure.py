"""The core must stay I/O-free and framework-free; only shared/transports and shared/runtime may do I/O.

``shared/runtime`` is the process layer (metrics, multiprocess files, logging set-up, start-up
exits, server settings); ``shared/transports`` the upstream I/O. Everything else decides.
"""

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
FORBIDDEN = {
    "flask", "fastapi", "starlette", "werkzeug", "requests", "httpx", "aiohttp", "urllib3",
    "gevent", "asyncio", "threading", "socket", "ssl", "time", "uvicorn", "gunicorn", "http",
    "urllib", "subprocess", "random", "os", "sys", "glob", "logging", "prometheus_client", "signal",
    "shutil", "tempfile",
}  # fmt: skip
LAYERS = ("transports", "runtime")  # the two layers that act


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
            for layer in LAYERS:
                if node.module == "shared" and any(a.name == layer for a in node.names):
                    roots.add(f"shared.{layer}")
                if node.module.startswith(f"shared.{layer}"):
                    roots.add(f"shared.{layer}")
    return roots


def core_files() -> list[Path]:
    return [p for p in SHARED.rglob("*.py") if not set(LAYERS) & set(p.relative_to(SHARED).parts)]


def test_core_imports_no_io_or_framework():
    offenders = {
        str(p.relative_to(SHARED)): sorted(imported_roots(p) & (FORBIDDEN | {f"shared.{layer}" for layer in LAYERS}))
        for p in core_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_scan_sees_the_core():
    assert len(core_files()) >= 10
