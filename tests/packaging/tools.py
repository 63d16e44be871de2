"""Building and installing the project the way a user would: a clean copy, the wheel, fresh venvs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.packaging.project import LOCKS, ROOT

__all__ = ["build_wheel", "clean_env", "copy_tree", "make_venv", "run"]

# What never goes into the copy the wheel is built from (when git cannot list the files).
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".uv", ".run", "build", "dist", "*.egg-info", "__pycache__")


def run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; on failure the assertion shows what it printed."""
    kw.setdefault("timeout", 600)
    done = subprocess.run(argv, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(argv)} -> {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done


def clean_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """No PYTHONPATH, no venv of the suite on PATH, a HOME of the test's own."""
    path = ([str(venv / "bin")] if venv else []) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR") or k.startswith("PIP_")}
    home.mkdir(parents=True, exist_ok=True)
    return {**keep, "PATH": os.pathsep.join(path), "HOME": str(home)}


def copy_tree(dest: Path) -> Path:
    """The files git tracks (and untracked, not ignored ones), so stale build output never leaks in."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    if listed.returncode != 0:
        shutil.copytree(ROOT, dest, ignore=NOT_SOURCE)
        return dest
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def build_wheel(out: Path) -> Path:
    """The project's wheel in ``out``, built with the locked setuptools (no build isolation, nothing fetched)."""
    source = copy_tree(out / "src")
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(source)])
    (built,) = out.glob("*.whl")
    return built


def make_venv(where: Path, locks: list[str], wheel: Path) -> Path:
    """A fresh venv holding ``locks`` (hash-checked) and the wheel; ``pip check`` must be clean."""
    run([sys.executable, "-m", "venv", str(where)])
    python = str(where / "bin" / "python")
    requirements = [arg for lock in locks for arg in ("-r", str(LOCKS / f"{lock}.txt"))]
    run([python, "-m", "pip", "install", "-q", "--no-compile", "--require-hashes", *requirements])
    run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)])
    run([python, "-m", "pip", "check"])
    return where
