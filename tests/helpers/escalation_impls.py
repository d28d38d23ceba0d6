"""Run escalation tests under each implementation of its compiled steps (the pattern of rapidfuzz's
tests/common.py): the reference functions of the domain package, and their streams._accel twins when
this run may use them (numba installed, WIREWATCH_IMPL not `python`).

The scorer looks its steps up in the modules that picked them (streams.escalation.matching, .watchlist)
when it builds and when it scores, so `implementation(name)` swaps them there for the time of a test,
and rules for one implementation are scored under that implementation only.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

import streams._accel as accel
from streams.escalation import literals, matching, namescreen, watchlist

# domain module that calls the step: [(its name there, reference module, accelerated module)]
STEPS = {
    matching: [("literal_index", literals, "phrases"), ("phrase_starts", literals, "phrases")],
    watchlist: [("name_screen", namescreen, "watchlist"), ("screen_runs", namescreen, "watchlist")],
}


def implementations() -> list[str]:
    return ["python"] if accel.IMPL == "python" else ["python", "accel"]


def twin(reference_module: object, name: str, accel_module: str, impl: str) -> object:
    if impl == "python":
        return getattr(reference_module, name)
    return getattr(importlib.import_module(f"streams._accel.{accel_module}"), name)


@contextmanager
def implementation(impl: str) -> Iterator[None]:
    saved = {(module, name): getattr(module, name) for module, steps in STEPS.items() for name, _, _ in steps}
    try:
        for module, steps in STEPS.items():
            for name, reference, accelerated in steps:
                setattr(module, name, twin(reference, name, accelerated, impl))
        yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)
