"""Compiled twin of streams.escalation.literals: where the phrases of a set may start.

`literal_index(anchors)` turns the literals into a trie in breadth-first order (per node: a 36-bit mask of
the chars it has children for, and the number of its first child; the children of a node are numbered
in char order, so a child's number is that plus the count of mask bits below its char) and the anchor
sets into CSR rows; `phrase_starts(index, padded)` walks that trie from every word start in one
compiled pass over the text as bytes, where every char but [a-z0-9] is a space (non-ASCII chars too,
via "?"). The trie takes 12 bytes a node (a table of 36 children a node took 144): thousands of
literals fit in the CPU caches, and a walk after the other stages of a replay have evicted them costs
about what a warm one does (the full table's walk cost several times more then). Speed: about 2 µs a call plus
a few ns a byte; most articles are done after it (no anchor found), and the rest are matched by the
regex only at the offsets it returns. The scorer joins an article's fields into one call (each padded
field starts with a space, where a walk stops).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

_SCAN_BYTES = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))  # [a-z0-9] kept


class LiteralIndex(NamedTuple):
    mask: np.ndarray           # node -> bit c set where the node has a child for char c (0-9 a-z: 0-35)
    first: np.ndarray          # node -> the number of its first child (children in char order)
    ends: np.ndarray           # node -> the literal ending there, -1 none
    anchor_at: np.ndarray      # CSR: literal -> the items it anchors
    anchor_items: np.ndarray
    first_at: np.ndarray       # CSR: item -> the literals of its first word
    first_lits: np.ndarray
    events: np.ndarray         # item -> is a phrase (not an exclusion)


def literal_index(anchors: Any) -> LiteralIndex:
    """The arrays of `anchors` (a streams.escalation.literals.LiteralAnchors)."""
    trie: dict[str, Any] = {}
    for number, literal in enumerate(anchors.literals):
        node = trie
        for ch in literal:
            node = node.setdefault(ch, {})
        node[""] = number
    nodes, mask, first, ends = [trie], [], [], []
    for node in nodes:  # breadth first: the list grows as it is walked
        children = sorted((int(ch, 36), child) for ch, child in node.items() if ch)
        mask.append(sum(1 << code for code, _ in children))
        first.append(len(nodes))
        ends.append(node.get("", -1))
        nodes += [child for _, child in children]
    return LiteralIndex(np.array(mask, dtype=np.uint64), np.array(first, dtype=np.int32),
                        np.array(ends, dtype=np.int32),
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


_M1, _M2, _M4 = np.uint64(0x5555555555555555), np.uint64(0x3333333333333333), np.uint64(0x0F0F0F0F0F0F0F0F)
_ONES = np.uint64(0x0101010101010101)


@njit(cache=True, nogil=True)
def _bits(x: np.uint64) -> int:  # pragma: no cover - compiled
    """The number of bits set in x (SWAR popcount)."""
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int((x * _ONES) >> np.uint64(56))


@njit(cache=True, nogil=True)
def _phrase_starts(scan: np.ndarray, mask: np.ndarray, first: np.ndarray, ends: np.ndarray, anchor_at: np.ndarray,
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
            bit = np.uint64(1) << np.uint64(c - 48 if c <= 57 else c - 87)
            children = mask[node]
            if not children & bit:
                break
            node = first[node] + _bits(children & (bit - np.uint64(1)))
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
