"""Compiled kernels behind the readable reference logic of the stages.

The domain packages (`streams.normalize`, `streams.dedupe`, `streams.escalation`) are plain Python
and are the specification. Some of their steps have a twin here: a function with the same
signature and the same results, written with numpy/numba for speed. The modules of this package
import nothing from the domain (everything they need is passed in), and they are the only place
where `numba`, byte tables or packing tricks appear (`make lint` checks it).

Which implementation runs is chosen once, when the domain package is imported:

    WIREWATCH_IMPL=auto    the compiled twins when numba is installed (the default)
    WIREWATCH_IMPL=python  the reference functions only (no numba import at all)
    WIREWATCH_IMPL=accel   the compiled twins, and an error when numba is missing

A kernel that cannot take an input (a rare character class, a non-canonical encoding) hands it to
the reference twin itself, inside this package: the domain makes one call per step and never
switches implementation mid-stream. Every twin pair is run on the same cases by the unit tests
(`WIREWATCH_IMPL=python` and the default both run in CI) and by Hypothesis equivalence tests.

The twins so far (reference in the domain -> twin here):

    streams.normalize.words.tokenize                     words.tokenize
    streams.normalize.packing.unpack_words               packing.unpack_words
    streams.normalize.fingerprinting.fingerprint_text    fingerprinting.fingerprint_text
    streams.dedupe.candidates.CandidateIndex             candidates.CandidateIndex
    streams.dedupe.verify.copy_similarity                verify.copy_similarity (its LCS: rapidfuzz's)
    streams.dedupe.verify.found_count, found_mask        verify.found_count, found_mask

Every set and map inside the kernels is the one open-addressing table of `hashtable`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable
from typing import Any, TypeVar

CHOICES = ("auto", "python", "accel")
F = TypeVar("F", bound=Callable[..., Any])


class ImplementationError(RuntimeError):
    """WIREWATCH_IMPL names no implementation, or asks for one this machine cannot run."""


def _choose(requested: str) -> str:
    if requested not in CHOICES:
        raise ImplementationError(f"WIREWATCH_IMPL={requested!r}: expected one of {', '.join(CHOICES)}")
    numba_present = importlib.util.find_spec("numba") is not None
    if requested == "accel" and not numba_present:
        raise ImplementationError("WIREWATCH_IMPL=accel but numba is not installed")
    return "accel" if requested != "python" and numba_present else "python"


IMPL: str = _choose(os.environ.get("WIREWATCH_IMPL", "auto").strip().lower() or "auto")


def pick(reference: F, module: str, name: str | None = None, **settings: Any) -> F:
    """The implementation of one step: `reference` (the domain's function or class) or its compiled
    twin `streams._accel.<module>.<name>` (same name by default); `settings` are the domain's values
    the twin is built with (see `builds_on_reference`)."""
    return reference if IMPL == "python" else twin(reference, module, name, **settings)


def twin(reference: F, module: str, name: str | None = None, **settings: Any) -> F:
    """The compiled twin of `reference`, whatever WIREWATCH_IMPL says (the equivalence tests run both;
    ImportError without numba)."""
    found = getattr(importlib.import_module(f"{__name__}.{module}"), name or reference.__name__)
    if getattr(found, "builds_on_reference", False):
        return found(reference, **settings)
    if settings:
        raise TypeError(f"{module}.{name or reference.__name__} takes no settings")
    return found


def builds_on_reference(factory: Callable[..., F]) -> Callable[..., F]:
    """Marks a twin that `pick` builds as `factory(reference, **settings)`: the twin hands the inputs
    its kernel cannot take to `reference`, and takes the domain's constants (stop words, sizes) as
    settings instead of importing them."""
    factory.builds_on_reference = True  # type: ignore[attr-defined]
    return factory
