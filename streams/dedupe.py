"""Dedupe: near-identical copies -> `copy_of`, copies and wire rewrites -> `story_id`.

One `DedupeIndex` serves any number of languages, but every language is a separate partition with
its own tables, clock and window: an article is only ever compared with articles of its own
`norm.language`, so streaming (one partition per language) and replay (file order) agree.

Per article (see `streams.normalize` for the fingerprints):

1. Candidates. Two open-addressing hash tables map a key to the latest article that carried it:
   `lead` keys (winnowed word 5-grams of the first 64 words) find copies, also summary-only items
   and trimmed copies because they share the lead; `vocab` keys (the article's rarest content
   words, rarity from a count-min sketch of document frequencies over the window) find rewrites.
   Looking up a handful of keys costs the same with 10 k or 1 M articles in the window.
2. Verification of the best few candidates, with their stored records:
   copy  = the shorter key text's first 120 words are contained in the other's first 380 words
           (rapidfuzz word-level LCS, so dropped paragraphs cost only their own words):
           containment >= `copy_threshold`;
   story = share of the new article's content words (words common in the window left out) found in
           the candidate's vocabulary >= `story_threshold` (rewrites keep the wire story's words,
           not its 5-grams).
3. State. Everything needed after a restart is in `store` (a Faust table in the worker):
   `a:<id>` one record per article in the window (decision, fingerprints, key text), and
   `m:<language>` the partition clock (newest event time, next sequence number). The tables and the
   sketch are rebuilt from the records when an index is created over a non-empty store, the only
   time the store is iterated. Records older than newest event time - `window` are deleted.

Deciding an id that is already in the store returns the stored decision and changes nothing.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
from rapidfuzz.distance import LCSseq

from streams.normalize import unpack_words

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


class KeyTable:
    """Open addressing (linear probing) key -> latest sequence number, in two flat arrays.

    12 bytes a slot instead of ~110 for a dict entry. Slots whose article has left the window are
    reused by inserts. Keys are hashes already: their low bits pick the slot. When live plus dead
    slots pass 70 %, the live entries are re-inserted into a table at most half full (a pause of a
    few seconds per million entries, amortised over the hundreds of thousands of inserts between).
    """

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        self.mask = capacity - 1
        self.keys = array("Q", bytes(8 * capacity))
        self.vals = array("I", bytes(4 * capacity))
        self.used = 0

    def get_seq(self, key: int) -> int:
        """The seq stored for key (maybe of an article that has left the window), 0 if none."""
        keys, mask = self.keys, self.mask
        i = key & mask
        while True:
            k = keys[i]
            if k == key:
                return self.vals[i]
            if k == 0:
                return 0
            i = (i + 1) & mask

    def get(self, key: int, live: Mapping[int, str]) -> int | None:
        keys, mask = self.keys, self.mask
        i = key & mask
        while True:
            k = keys[i]
            if k == key:
                seq = self.vals[i]
                return seq if seq in live else None
            if k == 0:
                return None
            i = (i + 1) & mask

    def put(self, key: int, seq: int, live: Mapping[int, str], keep_first: bool = False) -> None:
        """Map key -> seq; with keep_first a live earlier holder keeps the key."""
        keys, vals, mask = self.keys, self.vals, self.mask
        i = key & mask
        dead = -1
        while True:
            k = keys[i]
            if k == key:
                if not (keep_first and vals[i] in live):
                    vals[i] = seq
                return
            if k == 0:
                break
            if dead < 0 and vals[i] not in live:
                dead = i
            i = (i + 1) & mask
        if dead >= 0:
            i = dead
        else:
            self.used += 1
        keys[i] = key
        vals[i] = seq
        if self.used * 2 > self.mask + 1:
            self._rehash(live)

    def _rehash(self, live: Mapping[int, str]) -> None:
        keys = np.frombuffer(self.keys, dtype=np.uint64)
        vals = np.frombuffer(self.vals, dtype=np.uint32)
        alive = np.isin(vals, np.fromiter(live, dtype=np.uint32, count=len(live)))
        alive &= keys != 0
        order = np.argsort(vals[alive], kind="stable")
        entries_k, entries_v = keys[alive][order].tolist(), vals[alive][order].tolist()
        capacity = 1 << 12
        while len(entries_k) * 4 > capacity:
            capacity *= 2
        self._alloc(capacity)
        new_keys, new_vals, mask = self.keys, self.vals, self.mask
        for key, seq in zip(entries_k, entries_v, strict=True):
            i = key & mask
            while new_keys[i] and new_keys[i] != key:
                i = (i + 1) & mask
            if not new_keys[i]:
                self.used += 1
            new_keys[i] = key
            new_vals[i] = seq


class Sketch:
    """Count-min sketch of document frequencies (add and remove: exact for what was added)."""

    def __init__(self, bits: int) -> None:
        self.shift = np.uint64(64 - bits)
        self.rows = np.zeros((2, 1 << bits), dtype=np.int32)
        self.docs = 0

    def slots(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = words.astype(np.uint64)
        with np.errstate(over="ignore"):
            return ((w * np.uint64(0x9E3779B97F4A7C15)) >> self.shift,
                    ((w ^ np.uint64(0x5BD1E995)) * np.uint64(0xC2B2AE3D27D4EB4F)) >> self.shift)

    def add(self, words: np.ndarray, sign: int = 1, slots: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        a, b = self.slots(words) if slots is None else slots
        # buffered fancy-index add: two words of one article in the same slot count once there;
        # removal does exactly the same, so counts stay consistent (and rebuild gives the same)
        self.rows[0][a] += sign
        self.rows[1][b] += sign
        self.docs += sign

    def df(self, words: np.ndarray, slots: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        a, b = self.slots(words) if slots is None else slots
        return np.minimum(self.rows[0][a], self.rows[1][b])


class _Partition:
    """Everything in memory for one language; rebuilt from the store records on start."""

    def __init__(self, language: str, opts: Options) -> None:
        self.language = language
        self.max_ts = 0.0
        self.next_seq = 1
        self.live: dict[int, str] = {}  # seq -> article id
        self.expiry: list[tuple[float, int]] = []  # heap of (event time, seq)
        self.lead = KeyTable()
        self.vocab = KeyTable()
        self.sketch = Sketch(opts.sketch_bits)

    def add(self, seq: int, ts: float, article_id: str, record: Mapping[str, Any], words: np.ndarray,
            slots: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.live[seq] = article_id
        heapq.heappush(self.expiry, (ts, seq))
        for key in record["lead"]:
            self.lead.put(key, seq, self.live)
        for key in record["vkeys"]:
            # the first article with a rare word keeps it: the wire story comes before rewrites
            self.vocab.put(key, seq, self.live, keep_first=True)
        self.sketch.add(words, slots=slots)


class DedupeIndex:
    def __init__(self, store: MutableMapping[str, Any] | None = None, **options: Any) -> None:
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.opts = Options(**options)
        self.parts: dict[str, _Partition] = {}
        self._rebuild()

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

    def _part(self, language: str) -> _Partition:
        part = self.parts.get(language)
        if part is None:
            part = self.parts[language] = _Partition(language, self.opts)
        return part

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, normed: Mapping[str, Any]) -> Decision:
        article_id = str(normed["id"])
        known = self.store.get(ARTICLE + article_id)
        if known is not None:
            return Decision(article_id, known["copy_of"], known["story_id"], known["sim"])
        norm = normed["norm"]
        fp = norm["fingerprints"]
        part = self._part(norm.get("language") or "und")
        ts = parse_time(normed.get("published_at"))
        self._advance(part, ts)
        words = unpack_words(fp["words"])
        slots = part.sketch.slots(words)
        counted, rare_keys = self._rarity(part, words, unpack_words(fp.get("names", "")), slots)
        decision, story_id = self._match(part, article_id, fp, len(words), counted, rare_keys)
        if ts < part.max_ts - self.opts.window_s:
            return decision  # older than the window: judged, but never a candidate
        seq = part.next_seq
        part.next_seq += 1
        record = {"seq": seq, "ts": ts, "lang": part.language, "copy_of": decision.copy_of,
                  "story_id": decision.story_id, "sim": decision.similarity, "key": fp["key"],
                  "lead": list(fp["lead"]),
                  # only a story's first article is indexed for rewrites: later versions would
                  # take over its keys while verification wants the first (wire) text
                  "vkeys": rare_keys[: self.opts.vocab_keys] if decision.story_id == "s-" + article_id else [],
                  "words": fp["words"], "n": fp["n"]}
        self.store[ARTICLE + article_id] = record
        self.store[META + part.language] = {"max_ts": part.max_ts, "next_seq": part.next_seq}
        part.add(seq, ts, article_id, record, words, slots)
        return decision

    def _advance(self, part: _Partition, ts: float) -> None:
        if ts <= part.max_ts:
            return
        part.max_ts = ts
        cutoff = ts - self.opts.window_s
        while part.expiry and part.expiry[0][0] < cutoff:
            _, seq = heapq.heappop(part.expiry)
            article_id = part.live.pop(seq)
            record = self.store.pop(ARTICLE + article_id, None)
            if record is not None:
                part.sketch.add(unpack_words(record["words"]), -1)

    def _rarity(self, part: _Partition, words: np.ndarray, names: np.ndarray,
                slots: tuple[np.ndarray, np.ndarray]) -> tuple[set[int], list[int]]:
        """The words that count for containment, and the vocab keys of the article, best first.

        Words in more than 0.5 % of the window's articles are left out of both. Not idf: the
        window holds the story's own copies, which would make the story's words look common and
        the rewriter's new words rare. The wire story and its rewrite must pick the same keys
        whatever their lengths, so the choice depends on the word only: names first (rewrites
        keep them), then a fixed hash-sampled quarter of the other words, smallest hashes first."""
        if not len(words):
            return set(), []
        common = max(10, part.sketch.docs // 200)
        rare = words[part.sketch.df(words, slots) <= common].tolist()
        name_set = set(names.tolist())
        ordered = sorted(w for w in rare if w in name_set)
        ordered += sorted(w for w in rare if not w & 3 and w not in name_set)
        return set(rare), [w + 1 for w in ordered[: self.opts.vocab_query]]

    def _match(self, part: _Partition, article_id: str, fp: Mapping[str, Any], n_words: int,
               counted: set[int], rare_keys: list[int]) -> tuple[Decision, str]:
        new = Decision(article_id, None, "s-" + article_id, 0.0)
        # (a Python loop over ~60 keys is as fast as probing them all at once with numpy)
        lead_hits = _count(part.lead.get_seq, {*fp["lead"], *fp.get("probe", ())}, part.live)
        vocab_hits = _count(part.vocab.get_seq, rare_keys, part.live)
        if not lead_hits and not vocab_hits:
            return new, new.story_id
        cache: dict[int, Mapping[str, Any] | None] = {}

        def record(seq: int) -> Mapping[str, Any] | None:
            if seq not in cache:
                cache[seq] = self.store.get(ARTICLE + part.live[seq])
            return cache[seq]

        key: list[int] | None = None
        tried: set[str] = set()
        for seq in _best(lead_hits, self.opts.max_candidates):
            cand_id = part.live[seq]
            cand = record(seq)
            # a key points at the latest article that carried it, often a trimmed or summary copy:
            # when that copy does not contain the new text, its root (the fuller first copy) may
            while cand is not None and cand_id not in tried:
                tried.add(cand_id)
                if "key" in cand:
                    if key is None:
                        key = unpack_words(fp["key"]).tolist()
                    sim = self._copy_similarity(key, unpack_words(cand["key"]).tolist())
                    if sim >= self.opts.copy_threshold:
                        root = cand["copy_of"] or cand_id
                        return Decision(article_id, root, cand["story_id"], round(sim, 4)), cand["story_id"]
                cand_id = cand["copy_of"]
                cand = self.store.get(ARTICLE + cand_id) if cand_id and cand_id not in tried else None
        if n_words < self.opts.min_story_words:
            return new, new.story_id
        total = len(counted) or 1
        merged = dict(vocab_hits)
        for seq, n in lead_hits.items():
            merged[seq] = merged.get(seq, 0) + n
        # one shared rare word out of many is chance (and each check costs a store read)
        need = min(self.opts.min_story_hits, max(1, len(rare_keys) // 8))
        merged = {seq: n for seq, n in merged.items() if n >= need}
        scored: dict[str, tuple[float, set[int], Mapping[str, Any]]] = {}

        def consider(cand_id: str, cand: Mapping[str, Any] | None) -> None:
            if cand is not None and cand_id not in scored:
                found = counted.intersection(unpack_words(cand["words"]).tolist())
                scored[cand_id] = (len(found) / total, found, cand)

        for seq in _best(merged, self.opts.max_story_candidates):
            cand_id, cand = part.live[seq], record(seq)
            consider(cand_id, cand)
            # keys point at the latest article that carried them, often another outlet's version
            # of the story: the story's first article (the wire story) is compared as well
            if cand is not None and cand["story_id"] != "s-" + cand_id:
                root_id = cand["story_id"][2:]
                if root_id not in scored:
                    consider(root_id, self.store.get(ARTICLE + root_id))
        if not scored:
            return new, new.story_id
        share, _, best = max(scored.values(), key=lambda s: s[0])
        if share < self.opts.story_threshold:
            # written from several wire stories: jointly they hold most of its vocabulary
            if share < self.opts.joint_min_share:
                return new, new.story_id
            found = set().union(*(f for sh, f, _ in scored.values() if sh >= self.opts.joint_part_share))
            share = len(found) / total
            if share < self.opts.joint_threshold:
                return new, new.story_id
        return Decision(article_id, None, best["story_id"], round(share, 4)), best["story_id"]

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


def _count(get: Any, keys: Any, live: Mapping[int, str]) -> dict[int, int]:
    """{live seq: number of keys that point at it}."""
    hits: dict[int, int] = {}
    for key in keys:
        seq = get(key)
        if seq:
            hits[seq] = hits.get(seq, 0) + 1
    return {seq: n for seq, n in hits.items() if seq in live}


def _best(hits: Mapping[int, int], n: int) -> list[int]:
    """Most shared keys first; among equals the most recent article (follow-ups cluster in time)."""
    return sorted(hits, key=lambda s: (-hits[s], -s))[:n]


__all__ = ["Decision", "DedupeIndex", "Options", "parse_time"]
