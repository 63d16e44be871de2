"""Every test carries the marker of its tier — the folder it lives in — so selecting by tier
(``-m contract``, ``-m "not packaging"``) can never miss a file that forgot its marker.

The tiers are registered in pyproject.toml (``--strict-markers``);
``tests/unit/test_tiers_marked.py`` fails when a folder of tests is not one of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "sim", "transports", "contract", "agents", "rollout", "prometheus", "bench", "packaging", "image")


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts
        if len(parts) > 1 and parts[0] in TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))
