"""Every case through every implementation (as rapidfuzz's tests/common.py): the domain's reference
steps and their compiled twins in `streams._accel`.

`IMPLS` is ("python", "accel") where numba is installed and WIREWATCH_IMPL does not ask for the
reference alone, else ("python",). `use(name, monkeypatch)` makes every step of `streams.normalize.steps`
and `streams.dedupe.steps` that implementation; objects made afterwards (a `DedupeIndex`) use it.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

import pytest

from streams import _accel as accel
from streams.dedupe import steps as dedupe_steps
from streams.normalize import steps as normalize_steps

STEPS: tuple[ModuleType, ...] = (normalize_steps, dedupe_steps)
ACCEL_AVAILABLE = accel.IMPL != "python" and importlib.util.find_spec("numba") is not None
IMPLS = ("python", "accel") if ACCEL_AVAILABLE else ("python",)


def implementation(name: str, reference: Any, module: str, settings: dict[str, Any]) -> Any:
    return reference if name == "python" else accel.twin(reference, module, **settings)


def twin_pairs() -> list[tuple[str, Any, Any]]:
    """(step, reference, compiled twin) of every step with a twin."""
    if not ACCEL_AVAILABLE:
        return []
    return [(f"{steps.__name__.split('.')[1]}.{name}", reference, accel.twin(reference, module, **settings))
            for steps in STEPS for name, reference, module, settings in steps.TWINS]


def use(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for steps in STEPS:
        for step, reference, module, settings in steps.TWINS:
            monkeypatch.setattr(steps, step, implementation(name, reference, module, settings))


def plain(value: Any) -> Any:
    """Arrays and numpy scalars as Python lists and numbers, tuples as lists, recursively."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
