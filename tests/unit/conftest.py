"""Unit-test fixtures."""

from __future__ import annotations

import pytest
from helpers.impls import ACCEL_AVAILABLE, IMPLS, use


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under WIREWATCH_IMPL=python (or without numba) there is no compiled twin to compare: the `accel`
    tests are deselected (reported as such), not skipped - nothing they check exists in that run."""
    if ACCEL_AVAILABLE:
        return
    kept = [item for item in items if item.get_closest_marker("accel") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once per implementation of the normalize and dedupe steps (`helpers.impls`)."""
    use(request.param, monkeypatch)
    return str(request.param)
