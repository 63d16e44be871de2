"""Fixtures of the packaging tier: the wheel, built once per session from a clean copy of the tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.tools import build_wheel


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))
