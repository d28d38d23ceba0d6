"""`streams.dedupe.candidates.CandidateIndex` on numpy arrays: one compiled call per article to find
its candidates, one to index it.

The lead and vocab tables are `hashtable` arrays (12 bytes a slot against ~110 for a dict entry);
which sequence numbers are live is a ring (`Alive`), so that the kernels can tell a dead holder from
a live one without asking Python, and the slots of articles that left the window are reused instead
of deleted. The document frequencies are two int32 rows (8 MB at 20 bits): reading all of an
article's counts first, then deciding, lets the CPU overlap the cache misses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from numba import njit

from streams._accel import builds_on_reference, hashtable, verify
from streams._accel.packing import DECODE, as_bytes, base64_words

_MIN_CAPACITY = 1 << 12


class Alive:
    """Which sequence numbers are in the window: slot seq % size holds seq while the article is live.
    Live seqs never share a slot (the ring doubles when they would); they span about one window of
    arrivals, so the ring stays about as large as the window."""

    def __init__(self, size: int = _MIN_CAPACITY) -> None:
        self.ring = np.zeros(size, dtype=np.uint32)

    def grow_for(self, seq: int) -> None:
        """A ring where `seq` and every live seq have a slot of their own."""
        seqs = np.append(self.ring[self.ring != 0], np.uint32(seq))
        size = len(self.ring) * 2
        while len(np.unique(seqs & np.uint32(size - 1))) < len(seqs):
            size *= 2
        self.ring = np.zeros(size, dtype=np.uint32)
        self.ring[seqs & np.uint32(size - 1)] = seqs

    def remove(self, seq: int) -> None:
        slot = seq & (len(self.ring) - 1)
        if self.ring[slot] == seq:
            self.ring[slot] = 0


class KeyTable:
    """key -> sequence number (`hashtable`, slots of dead articles reused). When live plus dead
    slots pass 70 %, the live entries move to a table at most half full (a key is held by one article,
    so the holders do not change)."""

    def __init__(self, capacity: int = _MIN_CAPACITY) -> None:
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self.keys = np.zeros(capacity, dtype=np.uint64)
        self.vals = np.zeros(capacity, dtype=np.uint32)
        self.used = 0

    def taken(self, slots: int, alive: Alive) -> None:
        """Account for `slots` empty slots filled by a compiled insert (rehash when too full)."""
        self.used += slots
        if self.used * 10 > len(self.keys) * 7:
            keep = hashtable.live_entries(self.keys, self.vals, alive.ring)
            keys, vals = self.keys[keep], self.vals[keep]
            capacity = _MIN_CAPACITY
            while len(keys) * 2 > capacity:
                capacity *= 2
            self._alloc(capacity)
            self.used = hashtable.refill(self.keys, self.vals, keys, vals)


@njit(cache=True, nogil=True)
def _hits(keys: np.ndarray, vals: np.ndarray, query: np.ndarray, ring: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """The live seqs that keys of `query` point at, distinct, and how many keys point at each."""
    hit = np.zeros(len(query), np.uint32)
    count = np.zeros(len(query), np.int64)
    n = 0
    for q in range(len(query)):
        seq = hashtable.live_value(keys, vals, query[q], ring)
        if seq == 0:
            continue
        for j in range(n + 1):
            if j == n:
                hit[n] = seq
                count[n] = 1
                n += 1
                break
            if hit[j] == seq:
                count[j] += 1
                break
    return hit[:n], count[:n]


@njit(cache=True, nogil=True)
def _best(seqs: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover (compiled)
    """The (distinct) seqs with the most hits first, among equals the most recent first, at most n."""
    order = np.empty(len(seqs), np.int64)
    for k in range(len(seqs)):
        order[k] = -((counts[k] << 32) | np.int64(seqs[k]))
    order.sort()
    m = min(n, len(order))
    out = np.empty(m, np.uint32)
    for k in range(m):
        out[k] = np.uint32((-order[k]) & 0xFFFFFFFF)
    return out


@njit(cache=True, nogil=True)
def _sketch_add(rows: np.ndarray, shift: np.uint64, mult: np.ndarray, words: np.ndarray, sign: int) -> None:
    for k in range(len(words)):  # pragma: no cover (compiled)
        w = np.uint64(words[k])
        rows[0, (w * mult[0]) >> shift] += sign
        rows[1, ((w ^ mult[1]) * mult[2]) >> shift] += sign


@njit(cache=True, nogil=True)
def _rare(rows: np.ndarray, shift: np.uint64, mult: np.ndarray, words: np.ndarray, names: np.ndarray,
          common: int, n_keys: int, sampled: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    """`CandidateIndex.rare_words` (the vocab keys as uint64)."""
    m = len(words)
    # the sketch rows are mostly not in cache: read all counts first (independent loads the CPU
    # overlaps), then decide
    df = np.empty(m, np.int32)
    for k in range(m):
        u = np.uint64(words[k])
        a = rows[0, (u * mult[0]) >> shift]
        b = rows[1, ((u ^ mult[1]) * mult[2]) >> shift]
        df[k] = a if a < b else b
    name_set = hashtable.word_set(names, 2)
    rare = np.empty(m, np.uint32)
    first = np.empty(m, np.uint32)
    second = np.empty(m, np.uint32)
    n = n_first = n_second = 0
    for k in range(m):
        if df[k] <= common:
            w = words[k]
            rare[n] = w
            n += 1
            if hashtable.holds(name_set, hashtable.word_key(w)):
                first[n_first] = w
                n_first += 1
            elif w % np.uint32(sampled) == 0:
                second[n_second] = w
                n_second += 1
    keys = np.concatenate((np.sort(first[:n_first]), np.sort(second[:n_second])))[:n_keys].astype(np.uint64)
    return rare[:n], keys + np.uint64(1)


@njit(cache=True, nogil=True)
def _find(rows: np.ndarray, shift: np.uint64, mult: np.ndarray, words: np.ndarray, names: np.ndarray, common: int,
          n_keys: int, sampled: int, lead_keys: np.ndarray, lead_vals: np.ndarray, vocab_keys: np.ndarray,
          vocab_vals: np.ndarray, ring: np.ndarray, lead_query: np.ndarray, min_hits: int, max_copy: int,
          max_story: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:  # pragma: no cover
    """`CandidateIndex.find` in one call."""
    rare, keys = _rare(rows, shift, mult, words, names, common, n_keys, sampled)
    lseq, lcnt = _hits(lead_keys, lead_vals, np.unique(lead_query), ring)
    vseq, vcnt = _hits(vocab_keys, vocab_vals, keys, ring)
    copy = _best(lseq, lcnt, max_copy)
    need = min(min_hits, max(1, len(keys) // 8))
    mseq = np.empty(len(lseq) + len(vseq), np.uint32)
    mcnt = np.empty(len(lseq) + len(vseq), np.int64)
    m = 0
    for k in range(len(vseq)):
        mseq[m] = vseq[k]
        mcnt[m] = vcnt[k]
        m += 1
    for k in range(len(lseq)):
        for j in range(m + 1):
            if j == m:
                mseq[m] = lseq[k]
                mcnt[m] = lcnt[k]
                m += 1
                break
            if mseq[j] == lseq[k]:
                mcnt[j] += lcnt[k]
                break
    q = 0
    for k in range(m):
        if mcnt[k] >= need:
            mseq[q] = mseq[k]
            mcnt[q] = mcnt[k]
            q += 1
    story = _best(mseq[:q], mcnt[:q], max_story)
    return rare, keys, copy, story, len(lseq) + len(vseq) > 0


@njit(cache=True, nogil=True)
def _find_packed(packed_words: np.ndarray, packed_names: np.ndarray, dec: np.ndarray, rows: np.ndarray,
                 shift: np.uint64, mult: np.ndarray, common: int, n_keys: int, sampled: int, lead_keys: np.ndarray,
                 lead_vals: np.ndarray, vocab_keys: np.ndarray, vocab_vals: np.ndarray, ring: np.ndarray,
                 lead_query: np.ndarray, min_hits: int, max_copy: int, max_story: int, words_out: np.ndarray,
                 rare_out: np.ndarray, keys_out: np.ndarray, seqs_out: np.ndarray,
                 ) -> tuple[bool, int, int, int, int, int, bool]:  # pragma: no cover (compiled)
    """`_find` of packed (base64 bytes) words and names, decoded here, its arrays written to the start of
    the `_out` buffers (copy then story candidates in `seqs_out`): (True, number of words, of counted
    words, of keys, of copy candidates, of candidates, whether any key hit). (False, ...) without
    writing when they are not canonical base64 or a buffer is too short. (Returning arrays would cost
    a boxing each, ~1 us.)"""
    words, ok_words = base64_words(packed_words, dec)
    names, ok_names = base64_words(packed_names, dec)
    if not (ok_words and ok_names) or len(words) > len(words_out):
        return False, 0, 0, 0, 0, 0, False
    rare, keys, copy, story, any_hit = _find(rows, shift, mult, words, names, common, n_keys, sampled, lead_keys,
                                             lead_vals, vocab_keys, vocab_vals, ring, lead_query, min_hits,
                                             max_copy, max_story)
    n_seqs = len(copy) + len(story)
    if len(keys) > len(keys_out) or n_seqs > len(seqs_out):
        return False, 0, 0, 0, 0, 0, False
    words_out[: len(words)] = words
    rare_out[: len(rare)] = rare
    keys_out[: len(keys)] = keys
    seqs_out[: len(copy)] = copy
    seqs_out[len(copy): n_seqs] = story
    return True, len(words), len(rare), len(keys), len(copy), n_seqs, any_hit


@njit(cache=True, nogil=True)
def _index(lead_keys: np.ndarray, lead_vals: np.ndarray, vocab_keys: np.ndarray, vocab_vals: np.ndarray,
           ring: np.ndarray, lead: np.ndarray, vkeys: np.ndarray, seq: int, rows: np.ndarray, shift: np.uint64,
           mult: np.ndarray, words: np.ndarray) -> tuple[int, int]:  # pragma: no cover (compiled)
    """`CandidateIndex.add` in one call: seq into the ring, lead keys (latest wins), vocab keys (first
    live holder keeps them), sketch counts; returns the empty slots taken in the two tables, or
    (-1, -1) without changing anything when seq's ring slot holds another live seq (the caller grows
    the ring and calls again)."""
    slot = seq & (len(ring) - 1)
    if ring[slot] != 0 and ring[slot] != seq:
        return -1, -1
    ring[slot] = seq
    taken_lead = 0
    for q in range(len(lead)):
        taken_lead += hashtable.put_live(lead_keys, lead_vals, lead[q], seq, ring, False)
    taken_vocab = 0
    for q in range(len(vkeys)):
        taken_vocab += hashtable.put_live(vocab_keys, vocab_vals, vkeys[q], seq, ring, True)
    _sketch_add(rows, shift, mult, words, 1)
    return taken_lead, taken_vocab


_loaded = False


def _load_kernels(new_index: Callable[[], Any]) -> None:
    """Load the compiled functions that only some articles reach (copy verification, story candidates,
    expiry, table rehash) when the first index is made, not at the first article that needs each one
    (~5-15 ms apiece from numba's cache: a stall in the stream, and a one-time cost that per-article
    timings would otherwise count). Arguments of the types the index passes."""
    global _loaded
    _loaded = True
    index = new_index()
    packed = as_bytes("AQAAAAIAAAADAAAA")  # the words 1, 2, 3
    words, _ = base64_words(packed, DECODE)
    verify._count_found_packed(words[:2], packed, DECODE)
    verify._found_packed(words[:2], packed, DECODE)
    verify._key_lcs(packed, packed, DECODE, 120, 15, 3, 20)
    index.add(1, [1], [2], words)
    index.find({"words": "AQAAAAIAAAADAAAA", "names": "AQAAAA==", "lead": [1], "probe": [3]}, 10)
    index.remove(1, words)
    table = KeyTable(16)
    table.taken(16, Alive(16))


@builds_on_reference
def CandidateIndex(reference: type, *, multiplier_1: int, salt_2: int, multiplier_2: int, sampled: int,
                   unpack_words: Callable[[str], np.ndarray]) -> type:
    """The twin of `reference`, built with the sketch's row hashes, the sampling of vocab keys and the
    reference unpacking (for packed words that are not canonical base64)."""
    mult = np.array([multiplier_1, salt_2, multiplier_2], dtype=np.uint64)

    class CandidateIndex:
        def __init__(self, sketch_bits: int, vocab_query: int, min_story_hits: int, max_copy: int,
                     max_story: int) -> None:
            self.vocab_query, self.min_story_hits = vocab_query, min_story_hits
            self.max_copy, self.max_story = max_copy, max_story
            self.alive = Alive()
            self.lead = KeyTable()
            self.vocab = KeyTable()
            self.shift = np.uint64(64 - sketch_bits)
            self.rows = np.zeros((2, 1 << sketch_bits), dtype=np.int32)
            self.docs = 0
            # what `find` writes for the article being decided (read before the next one)
            self._grow_out(256)
            self._seqs_out = np.zeros(max(0, max_copy) + max(0, max_story), dtype=np.uint32)
            if not _loaded:
                _load_kernels(lambda: CandidateIndex(4, vocab_query, min_story_hits, max_copy, max_story))

        def _grow_out(self, size: int) -> None:
            self._words_out = np.zeros(size, dtype=np.uint32)
            self._rare_out = np.zeros(size, dtype=np.uint32)
            self._keys_out = np.zeros(size, dtype=np.uint64)

        def add(self, seq: int, lead_keys: Iterable[int], vocab_keys: Iterable[int], words: np.ndarray) -> None:
            lead = np.array(lead_keys, dtype=np.uint64)
            vkeys = np.array(vocab_keys, dtype=np.uint64)
            args = (self.lead.keys, self.lead.vals, self.vocab.keys, self.vocab.vals)
            taken_lead, taken_vocab = _index(*args, self.alive.ring, lead, vkeys, seq, self.rows, self.shift,
                                             mult, words)
            if taken_lead < 0:  # seq's ring slot is taken: a larger ring first
                self.alive.grow_for(seq)
                taken_lead, taken_vocab = _index(*args, self.alive.ring, lead, vkeys, seq, self.rows, self.shift,
                                                 mult, words)
            self.docs += 1
            self.lead.taken(taken_lead, self.alive)
            self.vocab.taken(taken_vocab, self.alive)

        def remove(self, seq: int, words: np.ndarray | None) -> None:
            self.alive.remove(seq)
            if words is not None:
                _sketch_add(self.rows, self.shift, mult, words, -1)
                self.docs -= 1

        def rare_words(self, words: np.ndarray, names: np.ndarray, common: int) -> tuple[np.ndarray, list[int]]:
            rare, keys = _rare(self.rows, self.shift, mult, words, names, common, self.vocab_query, sampled)
            return rare, keys.tolist()

        def find(self, fingerprints: Mapping[str, Any], common: int
                 ) -> tuple[np.ndarray, np.ndarray, list[int], list[int], list[int], bool]:
            lead_query = np.array([*fingerprints["lead"], *fingerprints.get("probe", ())], dtype=np.uint64)
            packed_words, packed_names = fingerprints["words"], fingerprints.get("names", "")
            tables = (self.lead.keys, self.lead.vals, self.vocab.keys, self.vocab.vals, self.alive.ring, lead_query,
                      self.min_story_hits, self.max_copy, self.max_story)
            if (type(packed_words) is str and type(packed_names) is str and packed_words.isascii()
                    and packed_names.isascii()):
                if len(packed_words) // 4 * 3 // 4 >= len(self._words_out):  # (at most this many words)
                    self._grow_out(len(packed_words) // 4 * 3 // 4 + 1)
                ok, n_words, n_rare, n_keys, n_copy, n_seqs, any_hit = _find_packed(
                    np.frombuffer(packed_words.encode("ascii"), np.uint8),
                    np.frombuffer(packed_names.encode("ascii"), np.uint8), DECODE, self.rows, self.shift, mult,
                    common, self.vocab_query, sampled, *tables, self._words_out, self._rare_out, self._keys_out,
                    self._seqs_out)
                if ok:
                    seqs = self._seqs_out[:n_seqs].tolist()
                    return (self._words_out[:n_words], self._rare_out[:n_rare], self._keys_out[:n_keys].tolist(),
                            seqs[:n_copy], seqs[n_copy:], any_hit)
            words = unpack_words(packed_words)
            rare, keys, copy, story, any_hit = _find(self.rows, self.shift, mult, words, unpack_words(packed_names),
                                                     common, self.vocab_query, sampled, *tables)
            return words, rare, keys.tolist(), copy.tolist(), story.tolist(), any_hit

    CandidateIndex.__doc__ = reference.__doc__
    return CandidateIndex
