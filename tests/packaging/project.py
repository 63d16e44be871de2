"""What tests/packaging reads from the project: pyproject.toml, the Makefile's lock list, locks/*.txt."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["LOCKS", "ROOT", "Pin", "declared", "lock_envs", "pins", "pyproject", "requirements_of"]

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "locks"


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements_of(extras: list[str]) -> list[Requirement]:
    """The base dependencies plus those of ``extras``."""
    project = pyproject()["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def declared() -> set[str]:
    """Every distribution named anywhere in the project's dependencies, canonicalised."""
    return {canonicalize_name(r.name) for r in requirements_of(list(pyproject()["project"]["optional-dependencies"]))}


def lock_envs() -> dict[str, list[str]]:
    """Lock name -> the extras it is compiled from, as the Makefile's `make lock` has them."""
    makefile = (ROOT / "Makefile").read_text()
    names = re.search(r"^LOCK_ENVS := (.+)$", makefile, re.M)
    assert names, "Makefile: LOCK_ENVS not found"
    envs = {"dev": list(pyproject()["project"]["optional-dependencies"])}  # --all-extras
    for name in names.group(1).split():
        line = re.search(rf"^LOCK_EXTRAS_{name} := (.+)$", makefile, re.M)
        assert line, f"Makefile: LOCK_EXTRAS_{name} not found"
        envs[name] = re.findall(r"--extra (\S+)", line.group(1))
    return envs


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str


def pins(lock: str) -> list[Pin]:
    """The ``name==version ; marker`` lines of ``locks/<lock>.txt`` (continuations and comments skipped)."""
    out = []
    for line in (LOCKS / f"{lock}.txt").read_text().splitlines():
        if not line or line[0] in " #-":
            continue
        spec = line.rstrip(" \\")
        requirement, _, marker = spec.partition(" ; ")
        name, _, version = requirement.partition("==")
        out.append(Pin(canonicalize_name(name), version, marker.strip()))
    return out
