"""Unit-test fixtures."""

from __future__ import annotations

import pytest
from helpers.impls import IMPLS, use


@pytest.fixture(params=IMPLS)
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once per implementation of the normalize and dedupe steps (`helpers.impls`)."""
    use(request.param, monkeypatch)
    return str(request.param)
