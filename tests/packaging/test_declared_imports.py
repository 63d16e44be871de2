"""Every module the tests and the shipped code import is declared in pyproject.toml.

An undeclared import works only while some other package happens to pull it in, and a test
behind ``importorskip`` silently vanishes when it stops doing so. Each imported top-level
module is mapped to the distribution that installed it (importlib.metadata) and that
distribution must be named in the base dependencies or an extra.
"""

from __future__ import annotations

import ast
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.utils import canonicalize_name

from tests.packaging.project import ROOT, declared

SHIPPED = ["shared", "proxyctl", "aicore_sim", "loadtests", "proxy_server.py", "proxy_server_fastapi.py"]
FIRST_PARTY = {"shared", "proxyctl", "aicore_sim", "loadtests", "proxy_server", "proxy_server_fastapi", "tests"}
# Modules imported by name as strings: pytest.importorskip("x"), importlib.import_module("x").
STRING_IMPORTERS = {"importorskip", "import_module"}


def python_files(names: list[str]) -> list[Path]:
    out: list[Path] = []
    for name in names:
        path = ROOT / name
        out += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return out


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in STRING_IMPORTERS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def local_test_modules() -> set[str]:
    """Helpers the tests import by bare name (pytest puts their folders on sys.path)."""
    return {p.stem for p in (ROOT / "tests").rglob("*.py")} | {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()}


def undeclared(files: list[Path]) -> dict[str, str]:
    installed = packages_distributions()
    allowed = declared()
    local = FIRST_PARTY | local_test_modules()
    problems = {}
    for path in files:
        for root in sorted(imported_roots(path) - local - set(sys.stdlib_module_names)):
            dists = {canonicalize_name(d) for d in installed.get(root, [])}
            if not dists:
                problems[f"{path.relative_to(ROOT)}: {root}"] = "not installed by any distribution"
            elif not dists & allowed:
                problems[f"{path.relative_to(ROOT)}: {root}"] = f"from {', '.join(sorted(dists))}, not declared"
    return problems


def test_tests_import_only_declared_distributions():
    assert undeclared(python_files(["tests"])) == {}


def test_shipped_code_imports_only_declared_distributions():
    assert undeclared(python_files(SHIPPED)) == {}


def test_the_scan_sees_string_imports_and_third_party_modules(tmp_path: Path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nimport pytest\nyaml = pytest.importorskip('yaml')\nfrom a.b import c\n")
    assert imported_roots(sample) == {"os", "pytest", "yaml", "a"}
