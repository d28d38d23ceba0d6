"""The steps of dedupe that have a compiled twin, each chosen once (`streams._accel.pick`): the
reference from this package (or `streams.normalize.packing`), or its twin from `streams._accel`.

Code that runs a step calls it through this module (`steps.copy_similarity(...)`), so that the tests
can run the same cases through either implementation (`TWINS`).
"""

from __future__ import annotations

from typing import Any

from streams import _accel as accel
from streams.dedupe import candidates, verify
from streams.normalize import packing

_CANDIDATES: dict[str, Any] = {**candidates.ROW_HASHES, "sampled": candidates.SAMPLED,
                           "unpack_words": packing.unpack_words}

# (name, reference, module of the twin in streams._accel, settings the twin is built with)
TWINS: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("CandidateIndex", candidates.CandidateIndex, "candidates", _CANDIDATES),
    ("copy_similarity", verify.copy_similarity, "verify", verify.LEAD),
    ("found_count", verify.found_count, "verify", {}),
    ("found_mask", verify.found_mask, "verify", {}),
    ("unpack_words", packing.unpack_words, "packing", {}),
]

CandidateIndex = accel.pick(candidates.CandidateIndex, "candidates", **_CANDIDATES)
copy_similarity = accel.pick(verify.copy_similarity, "verify", **verify.LEAD)
found_count = accel.pick(verify.found_count, "verify")
found_mask = accel.pick(verify.found_mask, "verify")
unpack_words = accel.pick(packing.unpack_words, "packing")
