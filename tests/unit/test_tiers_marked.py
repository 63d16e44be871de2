"""The test tiers are folders, and every folder of tests is a registered tier.

``tests/conftest.py`` marks each test with its folder's name; this keeps the folders, that
list and the markers registered in pyproject.toml the same set, so a new folder of tests
cannot go unmarked (or be refused by ``--strict-markers`` only when someone selects it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from tests.conftest import TESTS, TIERS

ROOT = TESTS.parent


def test_every_folder_of_tests_is_a_tier_and_every_tier_is_registered() -> None:
    folders = {p.parent.name for p in TESTS.glob("*/test_*.py")}
    assert folders == set(TIERS)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = {line.split(":", 1)[0] for line in config["markers"]}
    assert registered == set(TIERS)


def _claims(text: str, tier: str) -> bool:
    return any(f"pytest.mark.{tier}{end}" in text for end in ("\n", ",", "]", ")"))


def test_no_test_file_claims_another_tiers_marker() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {tier}"
        for path in TESTS.glob("*/test_*.py")
        for tier in TIERS
        if tier != path.parent.name and _claims(path.read_text(), tier)
    ]
    assert wrong == []


def _collected(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.search(r"^(\d+)(/\d+)? tests? collected", done.stdout, re.M)
    assert found, done.stdout[-2000:] + done.stderr[-2000:]
    return int(found.group(1))


def test_selecting_a_tier_by_marker_selects_exactly_its_folder() -> None:
    """``-m rollout`` over two tiers collects what the rollout folder holds, nothing else."""
    assert _collected("-m", "rollout", "tests/rollout", "tests/bench") == _collected("tests/rollout") > 0
