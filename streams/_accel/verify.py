"""`streams.dedupe.verify` on packed keys and vocabularies, decoded inside the kernels.

`lcs` is the bit-parallel LCS (Hyyro's formulation, as in rapidfuzz) over word hashes: one bit per
word of the shorter text, 64 words a machine word; its result is the integer rapidfuzz's
`LCSseq.similarity` computes, without turning ~500 hashes into Python ints first (~4 us a candidate
against ~25 us). Keys that are not canonical base64, and texts too short for containment (the
normalised similarity), go to the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numba import njit

from streams._accel import builds_on_reference, hashtable
from streams._accel.packing import DECODE, base64_words

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def lcs(a: np.ndarray, b: np.ndarray) -> int:  # pragma: no cover (compiled)
    """Length of the longest common subsequence of `a` and `b` (uint32), bit-parallel: one bit per
    element of `a` in a vector V (all ones at first); for each element of `b` with match bits M
    (where `a` holds it), U = V & M and V = (V + U) | (V - U), the addition carrying across the 64-bit
    words; the LCS is the number of zero bits among the first len(a)."""
    m = len(a)
    if m == 0 or len(b) == 0:
        return 0
    nw = (m + 63) >> 6
    rows = np.zeros(hashtable.capacity(m, 2), np.uint64)  # distinct elements of a -> their row of match bits
    row_of = np.zeros(len(rows), np.int64)
    match = np.zeros((m, nw), np.uint64)
    n_rows = 0
    for i in range(m):
        slot, added = hashtable.add(rows, hashtable.word_key(a[i]))
        if added:
            row_of[slot] = n_rows
            n_rows += 1
        match[row_of[slot], i >> 6] |= _ONE << np.uint64(i & 63)
    v = np.full(nw, _ALL)
    for k in range(len(b)):
        key = hashtable.word_key(b[k])
        slot = hashtable.slot(rows, key)
        if rows[slot] != key:
            continue  # U = 0: V stays
        r = row_of[slot]
        carry = np.uint64(0)
        for w in range(nw):
            vw = v[w]
            u = vw & match[r, w]
            s = vw + u
            c = _ONE if s < vw else np.uint64(0)
            t = s + carry
            if t < s:
                c = _ONE
            carry = c
            v[w] = t | (vw - u)
    zeros = 0
    for i in range(m):
        if not ((v[i >> 6] >> np.uint64(i & 63)) & _ONE):
            zeros += 1
    return zeros


@njit(cache=True, nogil=True)
def _key_lcs(packed_a: np.ndarray, packed_b: np.ndarray, dec: np.ndarray, compare_words: int, min_words: int,
             lead_window: int, lead_slack: int) -> tuple[bool, int, int]:  # pragma: no cover (compiled)
    """(True, LCS, length of the shorter prefix) of two packed keys, as `copy_similarity` compares them;
    (False, 0, 0) when the kernel cannot say: a key is not canonical base64, or the shorter text has
    fewer than `min_words` words."""
    a, ok_a = base64_words(packed_a, dec)
    b, ok_b = base64_words(packed_b, dec)
    if not (ok_a and ok_b):
        return False, 0, 0
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return True, 0, 0
    if compare_words < 0:
        return False, 0, 0
    n = min(len(a), compare_words)
    if n < min_words:
        return False, 0, 0
    return True, lcs(a[:n], b[: lead_window * n + lead_slack]), n


@njit(cache=True, nogil=True)
def _found(counted: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:  # pragma: no cover (compiled)
    words = hashtable.word_set(vocabulary, 2)
    found = np.zeros(len(counted), np.bool_)
    for i in range(len(counted)):
        found[i] = hashtable.holds(words, hashtable.word_key(counted[i]))
    return found


@njit(cache=True, nogil=True)
def _found_packed(counted: np.ndarray, packed: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, bool]:
    """(`_found`, True), or (empty, False) when `packed` is not canonical base64."""  # pragma: no cover
    words, ok = base64_words(packed, dec)
    if not ok:
        return np.zeros(0, np.bool_), False
    return _found(counted, words), True


@njit(cache=True, nogil=True)
def _count_found_packed(counted: np.ndarray, packed: np.ndarray, dec: np.ndarray) -> int:  # pragma: no cover
    """How many of `counted` the packed vocabulary holds, -1 when it is not canonical base64."""
    words, ok = base64_words(packed, dec)
    if not ok:
        return -1
    return int(_found(counted, words).sum())


def _ascii(text: object) -> np.ndarray | None:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) if type(text) is str and text.isascii() else None


@builds_on_reference
def copy_similarity(reference: Callable[[str, str, int, int], float], *, lead_window: int, lead_slack: int
                    ) -> Callable[[str, str, int, int], float]:
    def copy_similarity(key: str, other: str, compare_words: int, min_words: int) -> float:
        if type(key) is str and type(other) is str and key.isascii() and other.isascii():
            ok, common, n = _key_lcs(np.frombuffer(key.encode("ascii"), np.uint8),
                                     np.frombuffer(other.encode("ascii"), np.uint8), DECODE, compare_words,
                                     min_words, lead_window, lead_slack)
            if ok:
                return common / n if n else 0.0
        return reference(key, other, compare_words, min_words)

    return copy_similarity


@builds_on_reference
def found_mask(reference: Callable[..., Sequence[bool]]) -> Callable[[np.ndarray, str], np.ndarray]:
    def found_mask(counted: np.ndarray, vocabulary: str) -> np.ndarray:
        packed = _ascii(vocabulary)
        if packed is not None:
            found, ok = _found_packed(counted, packed, DECODE)
            if ok:
                return found
        return np.array(reference(counted, vocabulary), dtype=np.bool_)

    return found_mask


@builds_on_reference
def found_count(reference: Callable[..., int]) -> Callable[[np.ndarray, str], int]:
    def found_count(counted: np.ndarray, vocabulary: str) -> int:
        if type(vocabulary) is str and vocabulary.isascii():
            n = _count_found_packed(counted, np.frombuffer(vocabulary.encode("ascii"), np.uint8), DECODE)
            if n >= 0:
                return n
        return reference(counted, vocabulary)

    return found_count
