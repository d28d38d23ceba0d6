"""Verification: is a candidate the same text (a copy), or the same story in other words (a rewrite)?

copy   the shorter key's first `compare_words` words are found, in order, in the other key's lead:
       a word-level LCS (rapidfuzz) against a window three times as long, so that dropped or inserted
       paragraphs cost only their own words. Copies, trimmed copies and summary-only items pass.
story  the share of the new article's counted words (its content words, those common in the window
       left out) found in the candidate's vocabulary: rewrites keep the wire story's words, not its
       word sequences.

Keys and vocabularies come packed, as the fingerprints store them (`streams.normalize.packing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rapidfuzz.distance import LCSseq

from streams.normalize.packing import unpack_words

LEAD_WINDOW = 3  # the other key is searched in its first 3 x (compared words) + 20 words
LEAD_SLACK = 20
SHORT_LENGTH_RATIO = 1.3  # a short text is a copy only of a text about as long: at most 1.3 x + 3 words
SHORT_LENGTH_SLACK = 3


def copy_similarity(key: str, other: str, compare_words: int, min_words: int) -> float:
    """Share of the shorter key's first `compare_words` words found in order in the other key's first
    3 x that + 20 words (0.0 when a key is empty). Below `min_words` words a text is too short to call
    containment a copy: only (nearly) the whole text counts, as the normalised LCS of two texts of
    about the same length."""
    a, b = unpack_words(key).tolist(), unpack_words(other).tolist()
    if len(a) > len(b):
        a, b = b, a
    if not a:
        return 0.0
    a = a[:compare_words]
    if len(a) < min_words:
        about_as_long = len(b) <= len(a) * SHORT_LENGTH_RATIO + SHORT_LENGTH_SLACK
        return LCSseq.normalized_similarity(a, b) if about_as_long else 0.0
    if not a:
        return 0.0  # no words compared (compare_words 0)
    return LCSseq.similarity(a, b[: LEAD_WINDOW * len(a) + LEAD_SLACK]) / len(a)


def found_mask(counted: Sequence[int], vocabulary: str) -> list[bool]:
    """For each counted word: is it in the (packed) vocabulary of a candidate?"""
    words = set(unpack_words(vocabulary).tolist())
    return [word in words for word in counted]


def found_count(counted: Sequence[int], vocabulary: str) -> int:
    """How many of the counted words the (packed) vocabulary of a candidate holds."""
    return sum(found_mask(counted, vocabulary))


# the compared window, for the compiled twin (`streams._accel.verify`)
LEAD: dict[str, Any] = {"lead_window": LEAD_WINDOW, "lead_slack": LEAD_SLACK}
