"""Public surfaces: every core module declares __all__, and the twin transports match."""

import ast
import importlib
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"


def public_names(module: str) -> set[str]:
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
    return {
        n.name
        for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not n.name.startswith("_")
    }


def test_transports_have_the_same_public_names():
    sync = public_names("shared.transports.sync_requests")
    async_ = public_names("shared.transports.async_aiohttp")
    assert sync == async_

    def methods(module: str) -> set[str]:
        tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text())
        cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "UpstreamClient")
        return {
            f.name
            for f in cls.body
            if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
            and (f.name.startswith("__") or not f.name.startswith("_"))
        }

    assert methods("shared.transports.sync_requests") == methods("shared.transports.async_aiohttp")


def test_every_core_module_declares_all():
    missing = []
    for path in SHARED.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        names = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        if "__all__" not in names:
            missing.append(str(path.relative_to(SHARED)))
    assert missing == []
