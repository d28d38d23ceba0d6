"""`DedupeIndex`: decides per article whether it is a copy, a rewrite or a new story, and keeps the
state that needs in a store."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from streams import eventtime
from streams.dedupe import steps
from streams.dedupe.options import Decision, Options
from streams.dedupe.window import Window

ARTICLE = "a:"
META = "m:"
COMMON_SHARE = 200  # a word in more than 1 / 200 of the window's articles does not count ...
MIN_COMMON = 10  # ... nor one in more than 10


class RecentRecords:
    """The latest records written, as stored, at most `size`: copies and rewrites mostly follow their
    original within hours, so most candidate reads are served without the store."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._records: OrderedDict[str, Mapping[str, Any]] = OrderedDict()

    def get(self, article_id: str) -> Mapping[str, Any] | None:
        return self._records.get(article_id)

    def put(self, article_id: str, record: Mapping[str, Any]) -> None:
        self._records[article_id] = record
        if len(self._records) > self.size:
            self._records.popitem(last=False)

    def forget(self, article_id: str) -> None:
        self._records.pop(article_id, None)


class CandidateReads:
    """The records of one article's candidates, each read once (copy and story candidates overlap)."""

    def __init__(self, index: DedupeIndex, part: Window) -> None:
        self.index, self.part = index, part
        self._read: dict[int, tuple[str, Mapping[str, Any] | None]] = {}

    def candidate(self, seq: int) -> tuple[str, Mapping[str, Any] | None]:
        """(id, record or None) of a live article."""
        found = self._read.get(seq)
        if found is None:
            article_id = self.part.live[seq]
            found = self._read[seq] = (article_id, self.index._record(article_id))
        return found


class DedupeIndex:
    """Decisions over a store: `a:<id>` is the record of each article in the window (decision,
    fingerprints, packed key words; `m:<language>` records of older versions are still read)."""

    def __init__(self, store: MutableMapping[str, Any] | None = None, **options: Any) -> None:
        self.store: MutableMapping[str, Any] = {} if store is None else store
        self.opts = Options(**options)
        self.parts: dict[str, Window] = {}  # one window per language
        self._ids: set[str] = set()  # ids of the articles stored (all languages)
        self._recent = RecentRecords(self.opts.recent_records)
        self._rebuild()

    # ---- restart -------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        """The windows from the records: the only time the store is iterated."""
        records: dict[str, list[tuple[int, str, Mapping[str, Any]]]] = {}
        for key, value in self.store.items():
            if key.startswith(META):
                part = self._window(key[len(META):])
                part.max_ts, part.next_seq = float(value["max_ts"]), int(value["next_seq"])
            elif key.startswith(ARTICLE):
                records.setdefault(value["lang"], []).append((value["seq"], key[len(ARTICLE):], value))
        for language, rows in records.items():
            part = self._window(language)
            for seq, article_id, record in sorted(rows, key=lambda r: r[0]):
                part.add(seq, record["ts"], article_id, record["lead"], record["vkeys"],
                         steps.unpack_words(record["words"]))
                self._ids.add(article_id)
                # the clock is in the records: the article that advanced it was stored, and it is
                # the newest, so the last one to expire
                part.max_ts = max(part.max_ts, float(record["ts"]))
                part.next_seq = max(part.next_seq, seq + 1)

    def _record(self, article_id: str) -> Mapping[str, Any] | None:
        record = self._recent.get(article_id)
        return record if record is not None else self.store.get(ARTICLE + article_id)

    def _window(self, language: str) -> Window:
        part = self.parts.get(language)
        if part is None:
            part = self.parts[language] = Window(language, self.opts)
        return part

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, normed: Mapping[str, Any]) -> Decision:
        """The decision for a normalised article; an id already in the store gets its stored decision
        and changes nothing."""
        article_id = str(normed["id"])
        # ids in the window are in memory: only a replayed id costs a store read
        known = self._record(article_id) if article_id in self._ids else None
        if known is not None:
            return Decision(article_id, known["copy_of"], known["story_id"], known["sim"])
        norm = normed["norm"]
        fp = norm["fingerprints"]
        part = self._window(norm.get("language") or "und")
        moment = eventtime.of(normed)
        if moment.moves_clocks:
            ts = moment.at
            self._advance(part, ts)
        else:   # nothing vouches for its time: taken at the window's clock, which it never moves
            ts = eventtime.bounded(moment, part.max_ts)
        common = max(MIN_COMMON, part.candidates.docs // COMMON_SHARE)
        words, counted, rare_keys, copy_seqs, story_seqs, any_hit = part.candidates.find(fp, common)
        decision = self._new_story(article_id)
        if any_hit:
            reads = CandidateReads(self, part)
            decision = (self._copy_of(reads, article_id, fp["key"], copy_seqs)
                        or self._story_of(reads, article_id, len(words), counted, story_seqs) or decision)
        if ts < part.max_ts - self.opts.window_s:
            return decision  # older than the window: judged, but never a candidate
        seq = part.next_seq
        part.next_seq += 1
        # only a story's first article is indexed for rewrites: later versions would take over its
        # keys while verification wants the first (wire) text
        vkeys = rare_keys[: self.opts.vocab_keys] if decision.story_id == "s-" + article_id else []
        record = {"seq": seq, "ts": ts, "lang": part.language, "copy_of": decision.copy_of,
                  "story_id": decision.story_id, "sim": decision.similarity, "key": fp["key"],
                  "lead": list(fp["lead"]), "vkeys": vkeys, "words": fp["words"], "n": fp["n"]}
        self.store[ARTICLE + article_id] = record
        self._recent.put(article_id, record)
        self._ids.add(article_id)
        part.add(seq, ts, article_id, record["lead"], vkeys, words)
        return decision

    def _advance(self, part: Window, ts: float) -> None:
        """Move the window's clock to `ts` when it is newer; records older than the window go."""
        if ts <= part.max_ts:
            return
        part.max_ts = ts
        for seq, article_id in part.expired(ts - self.opts.window_s):
            self._ids.discard(article_id)
            self._recent.forget(article_id)
            record = self.store.pop(ARTICLE + article_id, None)
            part.candidates.remove(seq, None if record is None else steps.unpack_words(record["words"]))

    def _copy_of(self, reads: CandidateReads, article_id: str, key: str, copy_seqs: Sequence[int]
                 ) -> Decision | None:
        """A copy of the first candidate whose key contains the article's (or the other way round)."""
        tried: set[str] = set()
        for seq in copy_seqs:
            cand_id, cand = reads.candidate(seq)
            # a key points at the latest article that carried it, often a trimmed or summary copy:
            # when that copy does not contain the new text, its root (the fuller first copy) may
            while cand is not None and cand_id is not None and cand_id not in tried:
                tried.add(cand_id)
                if "key" in cand:
                    sim = steps.copy_similarity(key, cand["key"], self.opts.compare_words, self.opts.min_copy_words)
                    if sim >= self.opts.copy_threshold:
                        return Decision(article_id, cand["copy_of"] or cand_id, cand["story_id"], round(sim, 4))
                cand_id = cand["copy_of"]
                cand = self._record(cand_id) if cand_id and cand_id not in tried else None
        return None

    def _story_of(self, reads: CandidateReads, article_id: str, n_words: int, counted: Sequence[int],
                  story_seqs: Sequence[int]) -> Decision | None:
        """A rewrite of the candidate whose vocabulary holds the largest share of the counted words,
        when that share is large enough."""
        if n_words < self.opts.min_story_words:
            return None
        total = len(counted) or 1
        scored: dict[str, tuple[float, Any, Mapping[str, Any]]] = {}  # id -> (share, packed words, record)

        def consider(cand_id: str, cand: Mapping[str, Any] | None) -> None:
            if cand is not None and cand_id not in scored:
                scored[cand_id] = (steps.found_count(counted, cand["words"]) / total, cand["words"], cand)

        for seq in story_seqs:
            cand_id, cand = reads.candidate(seq)
            consider(cand_id, cand)
            # keys point at the latest article that carried them, often another outlet's version
            # of the story: the story's first article (the wire story) is compared as well
            if cand is not None and cand["story_id"] != "s-" + cand_id:
                root_id = cand["story_id"][2:]
                if root_id not in scored:
                    consider(root_id, self._record(root_id))
        if not scored:
            return None
        share, _, best = max(scored.values(), key=lambda s: s[0])
        if share < self.opts.story_threshold:
            # written from several wire stories: jointly they hold most of its vocabulary
            if share < self.opts.joint_min_share:
                return None
            found = [False] * len(counted)
            for part_share, packed, _ in scored.values():
                if part_share >= self.opts.joint_part_share:
                    found = [a or bool(b) for a, b in zip(found, steps.found_mask(counted, packed), strict=True)]
            share = sum(found) / total
            if share < self.opts.joint_threshold:
                return None
        return Decision(article_id, None, best["story_id"], round(share, 4))

    @staticmethod
    def _new_story(article_id: str) -> Decision:
        return Decision(article_id, None, "s-" + article_id, 0.0)
