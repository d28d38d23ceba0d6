"""Candidates: which articles of the window a new article may be a copy or a rewrite of.

Keys map to the article that carried them, so that looking up a handful of keys costs the same with
10 k or 1 M articles in the window:

lead   the winnowed word 5-grams of the first 64 words and the probe shingles (`fingerprints`): the
       latest article with a key holds it. Copies share their lead, and so do summary-only items and
       trimmed copies.
vocab  the article's rare content words, names first: the first live article with a key keeps it,
       and only a story's first article is indexed (`DedupeIndex`), because rewrites keep the wire
       story's words and verification wants the wire text.

Which words are rare comes from their document frequencies over the window (a count-min sketch:
fixed memory, counts only ever too high, exact under add and remove of the same words). Not idf: the
window holds the story's own copies, which would make the story's words look common and the
rewriter's new words rare. The wire story and its rewrite must pick the same keys whatever their
lengths, so the choice depends on the word only: names first (rewrites keep them), then a fixed
hash-sampled quarter of the other words, smallest hashes first.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from streams.normalize.packing import unpack_words

# the two rows of the sketch: slot = (word * MULTIPLIER_1) >> shift and ((word ^ SALT_2) * MULTIPLIER_2) >> shift
ROW_HASHES = {"multiplier_1": 0x9E3779B97F4A7C15, "salt_2": 0x5BD1E995, "multiplier_2": 0xC2B2AE3D27D4EB4F}
SAMPLED = 4  # words that are not names become keys when hash % SAMPLED == 0
_U64 = (1 << 64) - 1

# (words, counted words, vocab keys, copy candidates, story candidates, whether any key hit)
Found = tuple[np.ndarray, Sequence[int], list[int], list[int], list[int], bool]


class DocumentFrequencies:
    """In how many articles of the window a word appears: a count-min sketch of two rows of 2**bits
    counts (the smaller of the word's two counts; adding and removing the same words is exact)."""

    def __init__(self, bits: int) -> None:
        self.shift = 64 - bits
        self.rows = (array("i", bytes(4 << bits)), array("i", bytes(4 << bits)))
        self.docs = 0

    def _slots(self, word: int) -> tuple[int, int]:
        first = ((word * ROW_HASHES["multiplier_1"]) & _U64) >> self.shift
        second = (((word ^ ROW_HASHES["salt_2"]) * ROW_HASHES["multiplier_2"]) & _U64) >> self.shift
        return first, second

    def add(self, words: Iterable[int], sign: int = 1) -> None:
        first, second = self.rows
        for word in words:
            i, j = self._slots(word)
            first[i] += sign
            second[j] += sign
        self.docs += sign

    def count(self, word: int) -> int:
        i, j = self._slots(word)
        return min(self.rows[0][i], self.rows[1][j])


def best(hits: Mapping[int, int], n: int) -> list[int]:
    """Most shared keys first; among equals the most recent article (follow-ups cluster in time)."""
    return sorted(hits, key=lambda seq: (-hits[seq], -seq))[:n]


class CandidateIndex:
    """What one language's window remembers to find candidates: the lead and vocab keys of the live
    articles (by sequence number, never 0; keys are never 0 either) and the document frequencies.

    `vocab_query`: rare words looked up per article; a story candidate needs `min_story_hits` shared
    keys (fewer for articles with few keys); `max_copy` / `max_story`: candidates returned."""

    def __init__(self, sketch_bits: int, vocab_query: int, min_story_hits: int, max_copy: int,
                 max_story: int) -> None:
        self.vocab_query, self.min_story_hits = vocab_query, min_story_hits
        self.max_copy, self.max_story = max_copy, max_story
        self.lead: dict[int, int] = {}
        self.vocab: dict[int, int] = {}
        self.held: dict[int, tuple[list[int], list[int]]] = {}  # live article -> its lead and vocab keys
        self.frequencies = DocumentFrequencies(sketch_bits)

    @property
    def docs(self) -> int:
        """Articles whose words are counted."""
        return self.frequencies.docs

    def add(self, seq: int, lead_keys: Iterable[int], vocab_keys: Iterable[int], words: np.ndarray) -> None:
        """Index a live article: its keys, and its words in the document frequencies."""
        lead_keys, vocab_keys = list(lead_keys), list(vocab_keys)
        self.held[seq] = (lead_keys, vocab_keys)
        for key in lead_keys:
            self.lead[key] = seq  # the latest copy holds a lead key
        for key in vocab_keys:
            self.vocab.setdefault(key, seq)  # the first article with a rare word keeps it
        self.frequencies.add(words.tolist(), 1)

    def remove(self, seq: int, words: np.ndarray | None) -> None:
        """An article left the window: its keys go, and its words when they are known."""
        lead_keys, vocab_keys = self.held.pop(seq)
        for table, keys in ((self.lead, lead_keys), (self.vocab, vocab_keys)):
            for key in keys:
                if table.get(key) == seq:
                    del table[key]
        if words is not None:
            self.frequencies.add(words.tolist(), -1)

    def rare_words(self, words: np.ndarray, names: np.ndarray, common: int) -> tuple[list[int], list[int]]:
        """(the words seen in at most `common` articles, in the order of `words`: the words that count;
        the article's vocab keys: its rare names then its sampled rare words, each group by increasing
        hash, at most `vocab_query`, + 1 so that no key is 0)."""
        name_set = set(names.tolist())
        counted, name_keys, sampled = [], [], []
        for word in words.tolist():
            if self.frequencies.count(word) <= common:
                counted.append(word)
                if word in name_set:
                    name_keys.append(word)
                elif word % SAMPLED == 0:
                    sampled.append(word)
        keys = [word + 1 for word in sorted(name_keys) + sorted(sampled)][: self.vocab_query]
        return counted, keys

    def find(self, fingerprints: Mapping[str, Any], common: int) -> Found:
        """What a new article looks up, given its fingerprints: (its words, the words that count and its
        vocab keys (`rare_words`), copy candidates (sharing lead or probe keys), story candidates
        (sharing vocab and lead keys, at least the keys needed: one shared rare word out of many is
        chance, and each check costs a store read), whether any key hit at all). Candidates as
        sequence numbers, `best` first."""
        words = unpack_words(fingerprints["words"])
        counted, vocab_keys = self.rare_words(words, unpack_words(fingerprints.get("names", "")), common)
        lead_query = {*fingerprints["lead"], *fingerprints.get("probe", ())}
        lead_hits = Counter(self.lead[key] for key in lead_query if key in self.lead)
        vocab_hits = Counter(self.vocab[key] for key in vocab_keys if key in self.vocab)
        need = min(self.min_story_hits, max(1, len(vocab_keys) // 8))
        shared = vocab_hits + lead_hits
        story = best({seq: n for seq, n in shared.items() if n >= need}, self.max_story)
        return words, counted, vocab_keys, best(lead_hits, self.max_copy), story, bool(lead_hits or vocab_hits)
