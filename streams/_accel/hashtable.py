"""The one hash table of the compiled kernels.

Open addressing with linear probing over a power-of-two array of uint64 keys, 0 marking an empty
slot: callers store non-zero keys (a 32-bit word hash is stored as `word_key(w)` = w + 1; the lead
and vocab keys of dedupe are non-zero by construction). Keys are hashes already, so their low bits
pick the first slot. A value array beside the keys, indexed by the same slot, holds whatever the
caller maps to (a sequence number, a row). Every set or map in the kernels (stop words, the distinct
words of an article, a candidate's vocabulary, the element rows of the LCS, dedupe's key -> article
tables) is these few functions on such arrays.

Sizes: `capacity(n, load)` slots for n keys keep a table at most 1/load full, so that a look-up is
about one load from memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def capacity(n: int | np.integer[Any], load: int) -> int:  # pragma: no cover (compiled)
    """The smallest power of two, at least 16, that holds `n` keys at most 1/`load` full."""
    size = 16
    while size < load * n:
        size *= 2
    return size


@njit(cache=True, nogil=True)
def word_key(word: np.uint32) -> np.uint64:  # pragma: no cover (compiled)
    """The table key of a 32-bit word hash (never 0)."""
    return np.uint64(word) + _ONE


@njit(cache=True, nogil=True)
def slot(keys: np.ndarray, key: np.uint64) -> np.uint64:  # pragma: no cover (compiled)
    """The slot holding `key`, or the empty slot where it would go."""
    mask = np.uint64(len(keys) - 1)
    i = key & mask
    while keys[i] != 0 and keys[i] != key:
        i = (i + _ONE) & mask
    return i


@njit(cache=True, nogil=True)
def holds(keys: np.ndarray, key: np.uint64) -> bool:  # pragma: no cover (compiled)
    return bool(keys[slot(keys, key)] == key)


@njit(cache=True, nogil=True)
def add(keys: np.ndarray, key: np.uint64) -> tuple[np.uint64, bool]:  # pragma: no cover (compiled)
    """(slot of `key`, whether it was added now)."""
    i = slot(keys, key)
    if keys[i] == key:
        return i, False
    keys[i] = key
    return i, True


@njit(cache=True, nogil=True)
def word_set(words: np.ndarray, load: int) -> np.ndarray:  # pragma: no cover (compiled)
    """A table holding the 32-bit `words` (keys only)."""
    keys = np.zeros(capacity(len(words), load), np.uint64)
    for k in range(len(words)):
        add(keys, word_key(words[k]))
    return keys


# ---- key -> sequence number, where a sequence number may have left the window -------------------
#
# dedupe's lead and vocab tables: `vals` holds the article (sequence number) a key points at and
# `ring` says which articles are live (slot seq & (len - 1) holds seq while it is). A slot whose
# article has left the window is dead: it is reused by inserts and dropped by a rehash.


@njit(cache=True, nogil=True)
def is_live(ring: np.ndarray, seq: np.uint32) -> bool:  # pragma: no cover (compiled)
    return bool(ring[seq & np.uint32(len(ring) - 1)] == seq)


@njit(cache=True, nogil=True)
def live_value(keys: np.ndarray, vals: np.ndarray, key: np.uint64, ring: np.ndarray) -> np.uint32:
    """The live sequence number `key` points at, 0 when none."""  # pragma: no cover (compiled)
    i = slot(keys, key)
    if keys[i] == key and is_live(ring, vals[i]):
        return vals[i]
    return np.uint32(0)


@njit(cache=True, nogil=True)
def put_live(keys: np.ndarray, vals: np.ndarray, key: np.uint64, seq: int, ring: np.ndarray,
             keep_first: bool) -> int:  # pragma: no cover (compiled)
    """key -> seq (with `keep_first`, a live earlier holder keeps the key); a dead slot met on the way
    is reused. Returns 1 when an empty slot was taken, else 0 (the caller rehashes when too full)."""
    mask = np.uint64(len(keys) - 1)
    i = key & mask
    dead: int | np.int64 = -1  # -1, or the first slot whose entry left the window
    while keys[i] != 0:
        if keys[i] == key:
            if not (keep_first and is_live(ring, vals[i])):
                vals[i] = seq
            return 0
        if dead < 0 and not is_live(ring, vals[i]):
            dead = np.int64(i)
        i = (i + _ONE) & mask
    if dead >= 0:
        keys[dead] = key
        vals[dead] = seq
        return 0
    keys[i] = key
    vals[i] = seq
    return 1


@njit(cache=True, nogil=True)
def live_entries(keys: np.ndarray, vals: np.ndarray, ring: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Which slots hold a key of a live article."""
    keep = np.zeros(len(keys), np.bool_)
    for i in range(len(keys)):
        keep[i] = keys[i] != 0 and is_live(ring, vals[i])
    return keep


@njit(cache=True, nogil=True)
def refill(table_keys: np.ndarray, table_vals: np.ndarray, keys: np.ndarray, vals: np.ndarray) -> int:
    """Insert distinct keys -> vals into an empty table; returns the slots taken."""  # pragma: no cover
    for q in range(len(keys)):
        i = slot(table_keys, keys[q])
        table_keys[i] = keys[q]
        table_vals[i] = vals[q]
    return len(keys)
