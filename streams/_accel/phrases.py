"""Compiled twin of streams.escalation.literals: where the phrases of a set may start.

`literal_index(anchors)` turns the literals into a trie of arrays (node * 36 + char -> node) and the
anchor sets into CSR rows; `phrase_starts(index, padded)` walks that trie from every word start in
one compiled pass over the text as bytes, where every char but [a-z0-9] is a space (non-ASCII chars
too, via "?"). Speed: about 2 µs a call plus ~1 ns a byte; most articles are done after it (no
anchor found), and the rest are matched by the regex only at the offsets it returns. The scorer joins
an article's fields into one call (each padded field starts with a space, where a walk stops).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

_SCAN_BYTES = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))  # [a-z0-9] kept


class LiteralIndex(NamedTuple):
    child: np.ndarray          # node * 36 + char -> node, -1 none
    ends: np.ndarray           # node -> the literal ending there, -1 none
    anchor_at: np.ndarray      # CSR: literal -> the items it anchors
    anchor_items: np.ndarray
    first_at: np.ndarray       # CSR: item -> the literals of its first word
    first_lits: np.ndarray
    events: np.ndarray         # item -> is a phrase (not an exclusion)


def literal_index(anchors: Any) -> LiteralIndex:
    """The arrays of `anchors` (a streams.escalation.literals.LiteralAnchors)."""
    child = [[-1] * 36]
    ends = [-1]
    for number, literal in enumerate(anchors.literals):
        node = 0
        for ch in literal:
            code = ord(ch) - 48 if ch <= "9" else ord(ch) - 87
            if child[node][code] < 0:
                child[node][code] = len(child)
                child.append([-1] * 36)
                ends.append(-1)
            node = child[node][code]
        ends[node] = number
    return LiteralIndex(np.array(child, dtype=np.int32).ravel(), np.array(ends, dtype=np.int32),
                        *_csr([sorted(a) for a in anchors.anchored]),
                        *_csr([sorted(f) for f in anchors.first_of]),
                        np.array([i in anchors.events for i in range(len(anchors.first_of))], dtype=np.bool_))


def phrase_starts(index: LiteralIndex, padded: str) -> list[int]:
    scan = np.frombuffer(padded.encode("ascii", "replace").translate(_SCAN_BYTES), dtype=np.uint8)
    return _phrase_starts(scan, *index).tolist()


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ints as (offsets, values): row r is values[offsets[r]:offsets[r + 1]]."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    return offsets, np.array([v for r in rows for v in r], dtype=np.int32)


@njit(cache=True, nogil=True)
def _phrase_starts(scan: np.ndarray, child: np.ndarray, ends: np.ndarray, anchor_at: np.ndarray,
                   anchor_items: np.ndarray, first_at: np.ndarray, first_lits: np.ndarray,
                   events: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Walk the literal trie from every word start (a byte after a space), keeping (space offset,
    literal) per literal reached; the items anchored by a literal found are live; no live phrase ->
    nothing; else the offsets where a first-word literal of a live item starts."""
    n = len(scan)
    hit_at = np.empty(n, dtype=np.int64)
    hit_lit = np.empty(n, dtype=np.int32)
    hits = 0
    i = 1
    while i < n:
        if scan[i] == 32 or scan[i - 1] != 32:
            i += 1
            continue
        node = 0
        j = i
        while j < n:
            c = scan[j]
            if c == 32:
                break
            node = child[node * 36 + (c - 48 if c <= 57 else c - 87)]
            if node < 0:
                break
            lit = ends[node]
            if lit >= 0:
                hit_at[hits] = i - 1
                hit_lit[hits] = lit
                hits += 1
            j += 1
        i = j + 1
    n_items = len(first_at) - 1
    live = np.zeros(n_items, dtype=np.bool_)
    any_event = False
    for h in range(hits):
        lit = hit_lit[h]
        for k in range(anchor_at[lit], anchor_at[lit + 1]):
            item = anchor_items[k]
            live[item] = True
            if events[item]:
                any_event = True
    out = np.empty(hits, dtype=np.int64)
    if not any_event:
        return out[:0]
    wanted = np.zeros(len(anchor_at) - 1, dtype=np.bool_)
    for item in range(n_items):
        if live[item]:
            for k in range(first_at[item], first_at[item + 1]):
                wanted[first_lits[k]] = True
    count = 0
    for h in range(hits):
        if wanted[hit_lit[h]] and (count == 0 or out[count - 1] != hit_at[h]):
            out[count] = hit_at[h]
            count += 1
    return out[:count]
