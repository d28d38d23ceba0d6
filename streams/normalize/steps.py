"""The steps of normalisation that have a compiled twin, each chosen once (`streams._accel.pick`):
the reference from this package, or its twin from `streams._accel` (WIREWATCH_IMPL).

Code that runs a step calls it through this module (`steps.fingerprint_text(...)`), so that the
tests can run the same cases through either implementation (`TWINS`).
"""

from __future__ import annotations

from streams import _accel as accel
from streams.normalize import fingerprinting, packing, words

# (name, reference, module of the twin in streams._accel, settings the twin is built with)
TWINS = [
    ("tokenize", words.tokenize, "words", {}),
    ("unpack_words", packing.unpack_words, "packing", {}),
    ("fingerprint_text", fingerprinting.fingerprint_text, "fingerprinting", fingerprinting.FORMAT),
]

tokenize = accel.pick(words.tokenize, "words")
unpack_words = accel.pick(packing.unpack_words, "packing")
fingerprint_text = accel.pick(fingerprinting.fingerprint_text, "fingerprinting", **fingerprinting.FORMAT)
