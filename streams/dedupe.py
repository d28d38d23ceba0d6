"""Dedupe: near-identical copies -> `copy_of`, copies and wire rewrites -> `story_id`.

One `DedupeIndex` serves any number of languages, but every language is a separate partition with
its own tables, clock and window: an article is only ever compared with articles of its own
`norm.language`, so streaming (one partition per language) and replay (file order) agree.

Per article (see `streams.normalize` for the fingerprints):

1. Candidates. Two open-addressing hash tables map a key to an article that carried it:
   `lead` keys (winnowed word 5-grams of the first 64 words; the latest article wins) find copies,
   also summary-only items and trimmed copies because they share the lead; `vocab` keys (the
   article's rarest content words, rarity from a count-min sketch of document frequencies over the
   window; the first article keeps a key, and only a story's first article is indexed) find
   rewrites. Looking up a handful of keys costs the same with 10 k or 1 M articles in the window.
   The tables, the sketch and the liveness ring are numpy arrays worked on by compiled (numba)
   loops, one call per article and table.
2. Verification of the best few candidates, with their stored records:
   copy  = the shorter key's first 120 words are contained in the other's first 380 words
           (rapidfuzz word-level LCS, so dropped paragraphs cost only their own words):
           containment >= `copy_threshold`; a candidate that is itself a copy that fails is
           followed to its root (a key often points at a trimmed or summary copy);
   story = share of the new article's content words (words common in the window left out) found in
           the candidate's vocabulary >= `story_threshold` (rewrites keep the wire story's words,
           not its 5-grams); the story's first article is compared too; an article written from
           several wire stories joins the best one when together they hold >= `joint_threshold`.
3. State. Everything needed after a restart is in `store` (a Faust table in the worker):
   `a:<id>` one record per article in the window (decision, fingerprints, packed key words). The
   partition clock (newest event time, next sequence number) is derived from the records on
   rebuild: the article that advanced it is the newest and was stored (`m:<language>` records of
   older versions are still read). The tables and the sketch are rebuilt from the records when an
   index is created over a non-empty store, the only time the store is iterated. Records older
   than newest event time - `window` are deleted. Per new article: one store write and a few reads
   (candidates); ids in the window are also kept in memory so that only replays read their record.

Deciding an id that is already in the store returns the stored decision and changes nothing.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numba import njit
from rapidfuzz.distance import LCSseq

from streams.normalize import _B64_DEC, _b64_words, pack_words, unpack_words

DEFAULT_WINDOW_S = 72 * 3600.0
ARTICLE = "a:"
META = "m:"
_MASK63 = (1 << 63) - 1


@dataclass(frozen=True)
class Decision:
    id: str
    copy_of: str | None
    story_id: str
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    window_s: float = DEFAULT_WINDOW_S
    copy_threshold: float = 0.87  # word-LCS containment of the shorter key text in the other
    compare_words: int = 120  # prefix length that copies are verified on
    min_copy_words: int = 15  # below this a text is too short to call containment a copy
    story_threshold: float = 0.5  # weighted share of content words found in the candidate
    min_story_words: int = 8
    min_story_hits: int = 2  # shared keys a story candidate needs (1 for articles with < 16 keys)
    joint_threshold: float = 0.75  # share of the content words found in the candidates together ...
    joint_min_share: float = 0.35  # ... when the best one alone holds at least this share
    joint_part_share: float = 0.2  # (a candidate counts towards the joint share from this share)
    vocab_keys: int = 16  # sampled content words indexed per article
    vocab_query: int = 64  # sampled content words looked up per article
    max_candidates: int = 4  # copy candidates verified (each costs one store read)
    max_story_candidates: int = 8  # story candidates verified when no copy was found
    recent_records: int = 8192  # latest records kept in memory for candidate reads
    sketch_bits: int = 20  # count-min sketch width (2 rows of 2**bits int32) per language


def parse_time(value: Any) -> float:
    """Event time in epoch seconds; unparsable or missing -> 0.0 (treated as oldest)."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class Alive:
    """Which sequence numbers are in the window, for compiled code: slot seq % size holds seq while
    the article is live. Live seqs never share a slot (the ring doubles when they would); they
    span about one window of arrivals, so the ring stays about as large as the window."""

    def __init__(self, size: int = 1 << 12) -> None:
        self.ring = np.zeros(size, dtype=np.uint32)

    def add(self, seq: int, live: Mapping[int, str]) -> None:
        ring = self.ring
        slot = seq & (len(ring) - 1)
        if ring[slot] and ring[slot] != seq:
            self._grow(live)
            ring, slot = self.ring, seq & (len(self.ring) - 1)
        ring[slot] = seq

    def remove(self, seq: int) -> None:
        slot = seq & (len(self.ring) - 1)
        if self.ring[slot] == seq:
            self.ring[slot] = 0

    def _grow(self, live: Mapping[int, str]) -> None:
        seqs = np.fromiter(live, dtype=np.uint32, count=len(live))
        size = len(self.ring) * 2
        while len(np.unique(seqs & np.uint32(size - 1))) < len(seqs):
            size *= 2
        self.ring = np.zeros(size, dtype=np.uint32)
        self.ring[seqs & np.uint32(size - 1)] = seqs


@njit(cache=True, nogil=True)
def _lookup(keys: np.ndarray, vals: np.ndarray, query: np.ndarray, ring: np.ndarray) -> np.ndarray:
    mask = np.uint64(len(keys) - 1)
    rmask = np.uint32(len(ring) - 1)
    out = np.zeros(len(query), np.uint32)
    for q in range(len(query)):
        key = query[q]
        i = key & mask
        while keys[i] != 0:
            if keys[i] == key:
                seq = vals[i]
                if ring[seq & rmask] == seq:
                    out[q] = seq
                break
            i = (i + np.uint64(1)) & mask
    return out


@njit(cache=True, nogil=True)
def _lookup_hits(keys: np.ndarray, vals: np.ndarray, query: np.ndarray, ring: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """The live seqs that keys of `query` point at, distinct, and how many keys point at each."""
    seqs = _lookup(keys, vals, query, ring)
    hit = np.zeros(len(seqs), np.uint32)
    count = np.zeros(len(seqs), np.int64)
    n = 0
    for q in range(len(seqs)):
        seq = seqs[q]
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
def _insert(keys: np.ndarray, vals: np.ndarray, new: np.ndarray, seq: int, ring: np.ndarray,
            keep_first: bool) -> int:
    """Insert key -> seq for every key of `new`; returns how many empty slots were taken."""
    mask = np.uint64(len(keys) - 1)
    rmask = np.uint32(len(ring) - 1)
    taken = 0
    for q in range(len(new)):
        key = new[q]
        i = key & mask
        dead: int | np.int64 = -1  # -1, or the first slot whose entry left the window
        done = False
        while keys[i] != 0:
            if keys[i] == key:
                old = vals[i]
                if not (keep_first and ring[old & rmask] == old):
                    vals[i] = seq
                done = True
                break
            if dead < 0 and ring[vals[i] & rmask] != vals[i]:
                dead = np.int64(i)
            i = (i + np.uint64(1)) & mask
        if done:
            continue
        if dead >= 0:
            keys[dead] = key
            vals[dead] = seq
        else:
            keys[i] = key
            vals[i] = seq
            taken += 1
    return taken


@njit(cache=True, nogil=True)
def _live_entries(keys: np.ndarray, vals: np.ndarray, ring: np.ndarray) -> np.ndarray:
    rmask = np.uint32(len(ring) - 1)
    keep = np.zeros(len(keys), np.bool_)
    for i in range(len(keys)):
        keep[i] = keys[i] != 0 and ring[vals[i] & rmask] == vals[i]
    return keep


class KeyTable:
    """Open addressing (linear probing) key -> sequence number, in two flat numpy arrays, probed and
    filled by compiled loops (a whole article's keys per call).

    12 bytes a slot instead of ~110 for a dict entry. Slots whose article has left the window are
    reused by inserts. Keys are hashes already: their low bits pick the slot. When live plus dead
    slots pass 70 %, the live entries are re-inserted into a table at most half full (a key is held
    by one article, so the holders do not change).
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self.mask = capacity - 1
        self.keys = np.zeros(capacity, dtype=np.uint64)
        self.vals = np.zeros(capacity, dtype=np.uint32)
        self.used = 0

    def lookup(self, query: np.ndarray, alive: Alive) -> np.ndarray:
        """The live seq for every key of `query` (uint64), 0 where none."""
        return _lookup(self.keys, self.vals, query, alive.ring)

    def hits(self, query: np.ndarray, alive: Alive) -> dict[int, int]:
        """{live seq: number of keys of `query` that point at it}."""
        seqs, counts = _lookup_hits(self.keys, self.vals, query, alive.ring)
        return dict(zip(seqs.tolist(), counts.tolist(), strict=True))

    def insert(self, new: np.ndarray, seq: int, alive: Alive, keep_first: bool = False) -> None:
        """Map every key of `new` to seq; with keep_first a live earlier holder keeps its key."""
        self.taken(_insert(self.keys, self.vals, new, seq, alive.ring, keep_first), alive)

    def taken(self, slots: int, alive: Alive) -> None:
        """Account for `slots` empty slots filled by a compiled insert (rehash when too full)."""
        self.used += slots
        if self.used * 10 > (self.mask + 1) * 7:
            self._rehash(alive)

    def _rehash(self, alive: Alive) -> None:
        keep = _live_entries(self.keys, self.vals, alive.ring)
        keys, vals = self.keys[keep], self.vals[keep]
        capacity = 1 << 12
        while len(keys) * 2 > capacity:
            capacity *= 2
        self._alloc(capacity)
        self.used = _refill(self.keys, self.vals, keys, vals)


@njit(cache=True, nogil=True)
def _refill(table_keys: np.ndarray, table_vals: np.ndarray, keys: np.ndarray, vals: np.ndarray) -> int:
    mask = np.uint64(len(table_keys) - 1)
    used = 0
    for q in range(len(keys)):
        key = keys[q]
        i = key & mask
        while table_keys[i] != 0 and table_keys[i] != key:
            i = (i + np.uint64(1)) & mask
        if table_keys[i] == 0:
            used += 1
            table_keys[i] = key
        table_vals[i] = vals[q]
    return used


_H1, _H2, _X2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x5BD1E995)


@njit(cache=True, nogil=True)
def _sketch_add(rows: np.ndarray, shift: np.uint64, words: np.ndarray, sign: int) -> None:
    for k in range(len(words)):
        w = np.uint64(words[k])
        rows[0, (w * _H1) >> shift] += sign
        rows[1, ((w ^ _X2) * _H2) >> shift] += sign


@njit(cache=True, nogil=True)
def _rare(rows: np.ndarray, shift: np.uint64, words: np.ndarray, names: np.ndarray, common: int,
          n_keys: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """(words seen in at most `common` documents, in the order of `words`, and the article's vocab keys:
    rare names then rare words with hash % 4 == 0, each group by increasing hash, + 1 so that no key
    is 0)."""
    m = len(words)
    # the sketch rows (8 MB) are mostly not in cache: read all counts first, independent loads that
    # the CPU overlaps, then decide
    df = np.empty(m, np.int32)
    for k in range(m):
        u = np.uint64(words[k])
        a = rows[0, (u * _H1) >> shift]
        b = rows[1, ((u ^ _X2) * _H2) >> shift]
        df[k] = a if a < b else b
    # (the rare words need no order: they are only counted, `_found`; the two key groups are sorted)
    rare = np.empty(m, np.uint32)
    first = np.empty(m, np.uint32)
    second = np.empty(m, np.uint32)
    n = n_first = n_second = 0
    last = len(names) - 1
    for k in range(m):
        if df[k] <= common:
            w = words[k]
            rare[n] = w
            n += 1
            if last >= 0 and names[min(np.searchsorted(names, w), last)] == w:
                first[n_first] = w
                n_first += 1
            elif (w & np.uint32(3)) == 0:
                second[n_second] = w
                n_second += 1
    keys = np.concatenate((np.sort(first[:n_first]), np.sort(second[:n_second])))[:n_keys].astype(np.uint64)
    return rare[:n], keys + np.uint64(1)


@njit(cache=True, nogil=True)
def _top(seqs: np.ndarray, counts: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover (compiled)
    """The (distinct) seqs with the most hits first, among equals the most recent first, at most n
    (= `_best`)."""
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
def _probe(rows: np.ndarray, shift: np.uint64, words: np.ndarray, names: np.ndarray, common: int, n_keys: int,
           lead_keys: np.ndarray, lead_vals: np.ndarray, vocab_keys: np.ndarray, vocab_vals: np.ndarray,
           ring: np.ndarray, lead_query: np.ndarray, min_hits: int, max_copy: int, max_story: int,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:  # pragma: no cover (compiled)
    """Everything an article looks up, in one call: (the words that count, the vocab keys (see
    `_rare`), copy candidates (lead/probe keys), story candidates (vocab + lead keys, at least
    `min_hits` shared keys), whether any key hit at all). Candidates in `_best` order."""
    if len(words):
        rare, keys = _rare(rows, shift, words, np.sort(names), common, n_keys)
    else:
        rare, keys = np.zeros(0, np.uint32), np.zeros(0, np.uint64)
    lseq, lcnt = _lookup_hits(lead_keys, lead_vals, np.unique(lead_query), ring)
    vseq, vcnt = _lookup_hits(vocab_keys, vocab_vals, keys, ring)
    copy = _top(lseq, lcnt, max_copy)
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
    story = _top(mseq[:q], mcnt[:q], max_story)
    return rare, keys, copy, story, len(lseq) + len(vseq) > 0


@njit(cache=True, nogil=True)
def _probe_packed(packed_words: np.ndarray, packed_names: np.ndarray, dec: np.ndarray, rows: np.ndarray,
                  shift: np.uint64, common: int, n_keys: int, lead_keys: np.ndarray, lead_vals: np.ndarray,
                  vocab_keys: np.ndarray, vocab_vals: np.ndarray, ring: np.ndarray, lead_query: np.ndarray,
                  min_hits: int, max_copy: int, max_story: int, words_out: np.ndarray, rare_out: np.ndarray,
                  keys_out: np.ndarray, seqs_out: np.ndarray,
                  ) -> tuple[bool, int, int, int, int, int, bool]:  # pragma: no cover (compiled)
    """`_probe` of the packed (base64 bytes) words and names, which it decodes first, its arrays written
    to the start of the `_out` buffers (copy then story candidates in `seqs_out`): (True, number of
    words, of counted words, of keys, of copy candidates, of candidates, whether any key hit). (False,
    ...) without writing when they are not canonical (or a buffer is too short)."""
    words, ok_words = _b64_words(packed_words, dec)
    names, ok_names = _b64_words(packed_names, dec)
    if not (ok_words and ok_names) or len(words) > len(words_out) or len(words) > len(rare_out):
        return False, 0, 0, 0, 0, 0, False
    rare, keys, copy, story, any_hit = _probe(rows, shift, words, names, common, n_keys, lead_keys, lead_vals,
                                              vocab_keys, vocab_vals, ring, lead_query, min_hits, max_copy, max_story)
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
           words: np.ndarray) -> tuple[int, int]:  # pragma: no cover (compiled)
    """`_Partition.add` in one call: seq into the liveness ring, lead keys (latest wins), vocab keys
    (first live holder keeps them), sketch counts; returns the empty slots taken in the two tables,
    or (-1, -1) without changing anything when seq's ring slot holds another live seq (the caller
    grows the ring, `Alive.add`, and calls again)."""
    slot = seq & (len(ring) - 1)
    if ring[slot] != 0 and ring[slot] != seq:
        return -1, -1
    ring[slot] = seq
    taken_lead = _insert(lead_keys, lead_vals, lead, seq, ring, False)
    taken_vocab = _insert(vocab_keys, vocab_vals, vkeys, seq, ring, True) if len(vkeys) else 0
    _sketch_add(rows, shift, words, 1)
    return taken_lead, taken_vocab


class Sketch:
    """Count-min sketch of document frequencies (add and remove: exact for what was added)."""

    def __init__(self, bits: int) -> None:
        self.shift = np.uint64(64 - bits)
        self.rows = np.zeros((2, 1 << bits), dtype=np.int32)
        self.docs = 0

    def add(self, words: np.ndarray, sign: int = 1) -> None:
        _sketch_add(self.rows, self.shift, words, sign)
        self.docs += sign

    def rare(self, words: np.ndarray, names: np.ndarray, common: int, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
        return _rare(self.rows, self.shift, words, names, common, n_keys)


class _Partition:
    """Everything in memory for one language; rebuilt from the store records on start."""

    def __init__(self, language: str, opts: Options) -> None:
        self.language = language
        self.max_ts = 0.0
        self.next_seq = 1
        self.live: dict[int, str] = {}  # seq -> article id
        self.alive = Alive()  # the same seqs, for compiled lookups
        self.expiry: list[tuple[float, int]] = []  # heap of (event time, seq)
        self.lead = KeyTable()
        self.vocab = KeyTable()
        self.sketch = Sketch(opts.sketch_bits)

    def add(self, seq: int, ts: float, article_id: str, record: Mapping[str, Any], words: np.ndarray,
            vkeys: np.ndarray | None = None, lead_keys: np.ndarray | None = None) -> None:
        """Index a stored record (`vkeys`, `lead_keys`: its vocab and lead keys as arrays when the
        caller has them)."""
        self.live[seq] = article_id
        heapq.heappush(self.expiry, (ts, seq))
        # the first article with a rare word keeps it: the wire story comes before rewrites
        if vkeys is None:
            vkeys = np.array(record["vkeys"], dtype=np.uint64)
        lead, vocab, sketch = self.lead, self.vocab, self.sketch
        if lead_keys is None:
            lead_keys = np.array(record["lead"], dtype=np.uint64)
        taken_lead, taken_vocab = _index(lead.keys, lead.vals, vocab.keys, vocab.vals, self.alive.ring, lead_keys,
                                         vkeys, seq, sketch.rows, sketch.shift, words)
        if taken_lead < 0:  # seq's ring slot is taken: a larger ring first (`Alive.add`)
            self.alive.add(seq, self.live)
            taken_lead, taken_vocab = _index(lead.keys, lead.vals, vocab.keys, vocab.vals, self.alive.ring,
                                             lead_keys, vkeys, seq, sketch.rows, sketch.shift, words)
        sketch.docs += 1
        lead.taken(taken_lead, self.alive)
        vocab.taken(taken_vocab, self.alive)


_KERNELS_LOADED = False


def _load_kernels() -> None:
    """Load the compiled functions that only some articles reach (copy verification, story candidates,
    expiry, table rehash) when the first index is made, not at the first article that needs each one
    (~5-15 ms apiece from numba's cache: a stall in the stream, and a one-time cost that per-article
    timings would otherwise count). Arguments of the types the index passes."""
    global _KERNELS_LOADED
    _KERNELS_LOADED = True
    packed = pack_words([1, 2, 3])
    raw = np.frombuffer(packed.encode("ascii"), np.uint8)
    words = unpack_words(packed)
    counted = np.zeros(4, dtype=np.uint32)[:2]
    _found_count_packed(counted, raw, _B64_DEC)
    _found(counted, words)
    _key_lcs(raw, raw, _B64_DEC, Options.compare_words, Options.min_copy_words)
    sketch = Sketch(4)
    sketch.add(words, 1)
    sketch.add(words, -1)
    KeyTable()._rehash(Alive())


class DedupeIndex:
    def __init__(self, store: MutableMapping[str, Any] | None = None, **options: Any) -> None:
        if not _KERNELS_LOADED:
            _load_kernels()
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.opts = Options(**options)
        self.parts: dict[str, _Partition] = {}
        self._ids: set[str] = set()  # ids of the articles stored (all languages)
        # the latest records written, as stored: copies and rewrites mostly follow their original
        # within hours, so most candidate reads are served without the store (dropped on expiry)
        self._recent: OrderedDict[str, Mapping[str, Any]] = OrderedDict()
        # what `_probe_packed` finds for the article being decided (read before the next one)
        self._grow_out(256)
        self._seqs_out = np.zeros(max(0, self.opts.max_candidates) + max(0, self.opts.max_story_candidates),
                                  dtype=np.uint32)
        self._rebuild()

    def _grow_out(self, size: int) -> None:
        self._words_out = np.zeros(size, dtype=np.uint32)
        self._rare_out = np.zeros(size, dtype=np.uint32)
        self._keys_out = np.zeros(size, dtype=np.uint64)

    # ---- restart -------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        records: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = {}
        for key, value in self.store.items():
            if key.startswith(META):
                part = self._part(key[len(META):])
                part.max_ts, part.next_seq = float(value["max_ts"]), int(value["next_seq"])
            elif key.startswith(ARTICLE):
                records.setdefault(value["lang"], []).append((value["seq"], key[len(ARTICLE):], value))
        for language, rows in records.items():
            part = self._part(language)
            for seq, article_id, record in sorted(rows, key=lambda r: r[0]):
                part.add(seq, record["ts"], article_id, record, unpack_words(record["words"]))
                self._ids.add(article_id)
                # the clock is in the records: the article that advanced it was stored, and it is
                # the newest, so the last one to expire ("m:" records of older versions also count)
                part.max_ts = max(part.max_ts, float(record["ts"]))
                part.next_seq = max(part.next_seq, seq + 1)

    def _record(self, article_id: str) -> Mapping[str, Any] | None:
        record = self._recent.get(article_id)
        return record if record is not None else self.store.get(ARTICLE + article_id)

    def _remember(self, article_id: str, record: Mapping[str, Any]) -> None:
        self._recent[article_id] = record
        if len(self._recent) > self.opts.recent_records:
            self._recent.popitem(last=False)

    def _part(self, language: str) -> _Partition:
        part = self.parts.get(language)
        if part is None:
            part = self.parts[language] = _Partition(language, self.opts)
        return part

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, normed: Mapping[str, Any]) -> Decision:
        article_id = str(normed["id"])
        # ids in the window are in memory: only a replayed id costs a store read
        known = self._record(article_id) if article_id in self._ids else None
        if known is not None:
            return Decision(article_id, known["copy_of"], known["story_id"], known["sim"])
        norm = normed["norm"]
        fp = norm["fingerprints"]
        part = self._part(norm.get("language") or "und")
        ts = parse_time(normed.get("published_at"))
        self._advance(part, ts)
        words, counted, rare_keys, copy_seqs, story_seqs, any_hit, lead_query = self._probe(part, fp)
        decision, story_id = self._match(part, article_id, fp, len(words), counted, copy_seqs, story_seqs, any_hit)
        if ts < part.max_ts - self.opts.window_s:
            return decision  # older than the window: judged, but never a candidate
        seq = part.next_seq
        part.next_seq += 1
        # only a story's first article is indexed for rewrites: later versions would take over its
        # keys while verification wants the first (wire) text
        vkeys = rare_keys[: self.opts.vocab_keys] if decision.story_id == "s-" + article_id else rare_keys[:0]
        record = {"seq": seq, "ts": ts, "lang": part.language, "copy_of": decision.copy_of,
                  "story_id": decision.story_id, "sim": decision.similarity, "key": fp["key"],
                  "lead": list(fp["lead"]), "vkeys": vkeys.tolist(), "words": fp["words"], "n": fp["n"]}
        self.store[ARTICLE + article_id] = record
        self._remember(article_id, record)
        self._ids.add(article_id)
        part.add(seq, ts, article_id, record, words, vkeys, lead_query[: len(record["lead"])])
        return decision

    def _advance(self, part: _Partition, ts: float) -> None:
        if ts <= part.max_ts:
            return
        part.max_ts = ts
        cutoff = ts - self.opts.window_s
        while part.expiry and part.expiry[0][0] < cutoff:
            _, seq = heapq.heappop(part.expiry)
            article_id = part.live.pop(seq)
            part.alive.remove(seq)
            self._ids.discard(article_id)
            self._recent.pop(article_id, None)
            record = self.store.pop(ARTICLE + article_id, None)
            if record is not None:
                part.sketch.add(unpack_words(record["words"]), -1)

    def _rarity(self, part: _Partition, words: np.ndarray, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The words that count for containment, and the vocab keys of the article, best first.

        Words in more than 0.5 % of the window's articles are left out of both. Not idf: the
        window holds the story's own copies, which would make the story's words look common and
        the rewriter's new words rare. The wire story and its rewrite must pick the same keys
        whatever their lengths, so the choice depends on the word only: names first (rewrites
        keep them), then a fixed hash-sampled quarter of the other words, smallest hashes first."""
        if not len(words):
            return np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint64)
        common = max(10, part.sketch.docs // 200)
        rare, keys = part.sketch.rare(words, np.sort(names), common, self.opts.vocab_query)
        return rare, keys  # distinct (words are), in the order of `words`: the set of words that count

    def _probe(self, part: _Partition, fp: Mapping[str, Any]
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int], bool, np.ndarray]:
        """Unpacking the words and names, `_rarity` and the candidate look-ups of `_match` in one
        compiled call: (words, counted words, vocab keys, copy candidates, story candidates (`_best`
        order), whether any key hit, the lead then probe keys as an array). Packed text that is not
        canonical base64 is unpacked by `unpack_words` (binascii), as before."""
        opts, sketch, lead, vocab = self.opts, part.sketch, part.lead, part.vocab
        lead_query = np.array([*fp["lead"], *fp.get("probe", ())], dtype=np.uint64)
        common = max(10, sketch.docs // 200)
        packed_words, packed_names = fp["words"], fp.get("names", "")
        if (type(packed_words) is str and type(packed_names) is str and packed_words.isascii()
                and packed_names.isascii()):
            if len(packed_words) // 4 * 3 // 4 >= len(self._words_out):  # (at most this many words)
                self._grow_out(len(packed_words) // 4 * 3 // 4 + 1)
            ok, n_words, n_rare, n_keys, n_copy, n_seqs, any_hit = _probe_packed(
                np.frombuffer(packed_words.encode("ascii"), np.uint8),
                np.frombuffer(packed_names.encode("ascii"), np.uint8), _B64_DEC, sketch.rows, sketch.shift, common,
                opts.vocab_query, lead.keys, lead.vals, vocab.keys, vocab.vals, part.alive.ring, lead_query,
                opts.min_story_hits, opts.max_candidates, opts.max_story_candidates, self._words_out, self._rare_out,
                self._keys_out, self._seqs_out)
            if ok:
                seqs = self._seqs_out[:n_seqs].tolist()
                return (self._words_out[:n_words], self._rare_out[:n_rare], self._keys_out[:n_keys], seqs[:n_copy],
                        seqs[n_copy:], any_hit, lead_query)
        words = unpack_words(packed_words)
        rare, keys, copy_seqs, story_seqs, any_hit = _probe(
            sketch.rows, sketch.shift, words, unpack_words(packed_names), common, opts.vocab_query, lead.keys,
            lead.vals, vocab.keys, vocab.vals, part.alive.ring, lead_query, opts.min_story_hits,
            opts.max_candidates, opts.max_story_candidates)
        return words, rare, keys, copy_seqs.tolist(), story_seqs.tolist(), any_hit, lead_query

    def _match(self, part: _Partition, article_id: str, fp: Mapping[str, Any], n_words: int,
               counted: np.ndarray, copy_seqs: list[int], story_seqs: list[int], any_hit: bool
               ) -> tuple[Decision, str]:
        """`copy_seqs`: the `max_candidates` articles sharing most lead/probe keys; `story_seqs`: the
        `max_story_candidates` sharing most vocab + lead keys, with at least the keys needed (one
        shared rare word out of many is chance, and each check costs a store read)."""
        if not any_hit:
            return self._new_story(article_id)
        cache: dict[int, Mapping[str, Any] | None] = {}

        def record(seq: int) -> Mapping[str, Any] | None:
            if seq not in cache:
                cache[seq] = self._record(part.live[seq])
            return cache[seq]

        tried: set[str] = set()
        for seq in copy_seqs:
            cand_id = part.live[seq]
            cand = record(seq)
            # a key points at the latest article that carried it, often a trimmed or summary copy:
            # when that copy does not contain the new text, its root (the fuller first copy) may
            while cand is not None and cand_id not in tried:
                tried.add(cand_id)
                if "key" in cand:
                    sim = self._key_similarity(fp["key"], cand["key"])
                    if sim >= self.opts.copy_threshold:
                        root = cand["copy_of"] or cand_id
                        return Decision(article_id, root, cand["story_id"], round(sim, 4)), cand["story_id"]
                cand_id = cand["copy_of"]
                cand = self._record(cand_id) if cand_id and cand_id not in tried else None
        if n_words < self.opts.min_story_words:
            return self._new_story(article_id)
        total = len(counted) or 1
        # share of the counted words (sorted, distinct) the candidate's vocabulary holds, its packed words
        scored: dict[str, tuple[float, Any, Mapping[str, Any]]] = {}

        def consider(cand_id: str, cand: Mapping[str, Any] | None) -> None:
            if cand is not None and cand_id not in scored:
                packed = cand["words"]
                n_found = -1
                if type(packed) is str and packed.isascii():
                    n_found = _found_count_packed(counted, np.frombuffer(packed.encode("ascii"), np.uint8), _B64_DEC)
                if n_found < 0:
                    n_found = _found(counted, unpack_words(packed))[1]
                scored[cand_id] = (n_found / total, packed, cand)

        for seq in story_seqs:
            cand_id, cand = part.live[seq], record(seq)
            consider(cand_id, cand)
            # keys point at the latest article that carried them, often another outlet's version
            # of the story: the story's first article (the wire story) is compared as well
            if cand is not None and cand["story_id"] != "s-" + cand_id:
                root_id = cand["story_id"][2:]
                if root_id not in scored:
                    consider(root_id, self._record(root_id))
        if not scored:
            return self._new_story(article_id)
        share, _, best = max(scored.values(), key=lambda s: s[0])
        if share < self.opts.story_threshold:
            # written from several wire stories: jointly they hold most of its vocabulary
            if share < self.opts.joint_min_share:
                return self._new_story(article_id)
            found = np.zeros(len(counted), dtype=np.bool_)
            for sh, packed, _ in scored.values():
                if sh >= self.opts.joint_part_share:
                    found |= _found(counted, unpack_words(packed))[0]
            share = int(np.count_nonzero(found)) / total
            if share < self.opts.joint_threshold:
                return self._new_story(article_id)
        return Decision(article_id, None, best["story_id"], round(share, 4)), best["story_id"]

    @staticmethod
    def _new_story(article_id: str) -> tuple[Decision, str]:
        story_id = "s-" + article_id
        return Decision(article_id, None, story_id, 0.0), story_id

    def _key_similarity(self, packed: Any, other: Any) -> float:
        """`_copy_similarity` of two packed keys. Canonical keys of at least `min_copy_words` words: one
        compiled call (`_key_lcs`: the LCS length, the same integer rapidfuzz computes); the rest as before."""
        if type(packed) is str and type(other) is str and packed.isascii() and other.isascii():
            status, lcs, n = _key_lcs(np.frombuffer(packed.encode("ascii"), np.uint8),
                                      np.frombuffer(other.encode("ascii"), np.uint8), _B64_DEC,
                                      self.opts.compare_words, self.opts.min_copy_words)
            if status == 1:
                return lcs / n if n else 0.0
        return self._copy_similarity(unpack_words(packed).tolist(), unpack_words(other).tolist())

    def _copy_similarity(self, ta: list[int], tb: list[int]) -> float:
        """Share of the shorter key text's first `compare_words` words found in order in the other
        one (word-level LCS against a window three times as long, so dropped or inserted
        paragraphs cost only their own words): copies, trimmed copies and summary-only items."""
        if len(ta) > len(tb):
            ta, tb = tb, ta
        if not ta:
            return 0.0
        n = self.opts.compare_words
        ta = ta[:n]
        if len(ta) < self.opts.min_copy_words:
            # too short to trust containment: only (nearly) the whole text counts
            return LCSseq.normalized_similarity(ta, tb) if len(tb) <= len(ta) * 1.3 + 3 else 0.0
        return LCSseq.similarity(ta, tb[: 3 * len(ta) + 20]) / len(ta)


@njit(cache=True, nogil=True)
def _found(counted: np.ndarray, words: np.ndarray) -> tuple[np.ndarray, int]:  # pragma: no cover (compiled)
    """(found[i]: counted[i] (sorted, distinct) is among `words`, how many are): a set intersection,
    through a small open-addressing table of `counted` (words are hashes: their low bits are the slot)."""
    m = len(counted)
    found = np.zeros(m, np.bool_)
    n = 0
    if m == 0:
        return found, n
    size = 16
    while size < 4 * m:
        size *= 2
    mask = size - 1
    slots = np.full(size, -1, np.int32)
    for i in range(m):
        j = np.int64(counted[i]) & mask
        while slots[j] >= 0:
            j = (j + 1) & mask
        slots[j] = i
    for k in range(len(words)):
        w = words[k]
        j = np.int64(w) & mask
        while True:
            i = slots[j]
            if i < 0:
                break
            if counted[i] == w:
                if not found[i]:
                    found[i] = True
                    n += 1
                break
            j = (j + 1) & mask
    return found, n


@njit(cache=True, nogil=True)
def _found_count_packed(counted: np.ndarray, packed: np.ndarray, dec: np.ndarray) -> int:  # pragma: no cover
    """How many of `counted` the packed words hold (`_found`), -1 when they are not canonical base64."""
    words, ok = _b64_words(packed, dec)
    if not ok:
        return -1
    return _found(counted, words)[1]


@njit(cache=True, nogil=True)
def _lcs(a: np.ndarray, b: np.ndarray) -> int:  # pragma: no cover (compiled)
    """Length of the longest common subsequence of `a` and `b` (uint32), bit-parallel: one bit per
    element of `a` in a vector V (all ones at first); for each element of `b` with match bits M
    (where `a` holds it), U = V & M and V = (V + U) | (V - U), the addition carrying across the 64-bit
    words; the LCS is the number of zero bits among the first len(a). Exact: rapidfuzz's
    `LCSseq.similarity` of the two lists of ints is the same number."""
    m = len(a)
    if m == 0 or len(b) == 0:
        return 0
    nw = (m + 63) >> 6
    size = 16
    while size < 2 * m:
        size *= 2
    mask = size - 1
    slot_key = np.zeros(size, np.uint32)
    slot_row = np.full(size, -1, np.int64)  # distinct elements of a -> their row of match bits
    match = np.zeros((m, nw), np.uint64)
    rows = 0
    one = np.uint64(1)
    for i in range(m):
        x = a[i]
        j = np.int64(x) & mask
        while slot_row[j] >= 0 and slot_key[j] != x:
            j = (j + 1) & mask
        if slot_row[j] < 0:
            slot_row[j] = rows
            slot_key[j] = x
            rows += 1
        match[slot_row[j], i >> 6] |= one << np.uint64(i & 63)
    v = np.full(nw, np.uint64(0xFFFFFFFFFFFFFFFF))
    for k in range(len(b)):
        x = b[k]
        j = np.int64(x) & mask
        r = -1
        while slot_row[j] >= 0:
            if slot_key[j] == x:
                r = slot_row[j]
                break
            j = (j + 1) & mask
        if r < 0:
            continue  # U = 0: V stays
        carry = np.uint64(0)
        for w in range(nw):
            vw = v[w]
            u = vw & match[r, w]
            s = vw + u
            c = one if s < vw else np.uint64(0)
            t = s + carry
            if t < s:
                c = one
            carry = c
            v[w] = t | (vw - u)
    zeros = 0
    for i in range(m):
        if not ((v[i >> 6] >> np.uint64(i & 63)) & one):
            zeros += 1
    return zeros


@njit(cache=True, nogil=True)
def _key_lcs(packed_a: np.ndarray, packed_b: np.ndarray, dec: np.ndarray, compare_words: int, min_words: int
             ) -> tuple[int, int, int]:  # pragma: no cover (compiled)
    """`_copy_similarity` of two packed keys as (1, LCS, length of the shorter prefix) (0.0 when that is
    0); (2, 0, 0) when the shorter text is below `min_words` (the normalised similarity, left to
    Python); (0, 0, 0) when a key is not canonical base64."""
    a, ok_a = _b64_words(packed_a, dec)
    b, ok_b = _b64_words(packed_b, dec)
    if not (ok_a and ok_b):
        return 0, 0, 0
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 1, 0, 0
    if compare_words < 0:
        return 2, 0, 0
    n = min(len(a), compare_words)
    if n < min_words:
        return 2, 0, 0
    return 1, _lcs(a[:n], b[: 3 * n + 20]), n


def _count(seqs: np.ndarray) -> dict[int, int]:
    """{seq: number of keys that point at it} (0 = no live article)."""
    hits: dict[int, int] = {}
    for seq in seqs.tolist():
        if seq:
            hits[seq] = hits.get(seq, 0) + 1
    return hits


def _best(hits: Mapping[int, int], n: int) -> list[int]:
    """Most shared keys first; among equals the most recent article (follow-ups cluster in time)."""
    return sorted(hits, key=lambda s: (-hits[s], -s))[:n]


__all__ = ["Decision", "DedupeIndex", "Options", "parse_time"]
