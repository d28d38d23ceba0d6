"""Watchlist names (actors, places) found in text, fuzzily.

A name starts at a capitalised word. Words are folded into name keys (accents off, the Arabic article
dropped, the transliteration pairs applied, doubled letters collapsed), the keys of the n-grams from
that word are compared with the aliases' keys by rapidfuzz `ratio`, and the best one at or above the
threshold is the match. Aliases are bucketed by the first two consonants of their key's skeleton, so
only names that already sound alike are compared ("Boukamal" and "Abu Kamal" are both "bk...").
Aliases shorter than 5 letters (acronyms) match exactly, case-sensitive (and with a possessive 's).

`find_names_plainly` is the definition: every capitalised word start, in text order. `NameFinder.find`
finds the same names for less: the name screen (namescreen.py) first leaves out the capitalised runs
that cannot start a name, and the steps of the rest are remembered between articles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from streams._accel import pick
from streams.escalation import namescreen
from streams.escalation.memo import Memo
from streams.escalation.model import Entity, Watchlist
from streams.escalation.namekeys import VOWELS, name_key

NAME_START = r"[A-Z\u00C0-\u00DE\u0100-\u024F\u0391-\u03A9\u0410-\u042F]"   # a capital (names start with one)
RUN_CHAR = r"[\w'’\-]"                                                       # what a name's word is made of
_NAME_FIRST = re.compile(NAME_START)
_NEXT_WORD = re.compile(" " + RUN_CHAR + "+")

name_screen = pick(namescreen.name_screen, "watchlist")
screen_runs = pick(namescreen.screen_runs, "watchlist")


@dataclass(frozen=True, eq=False)
class NameIndex:
    """The watchlist's aliases as the finder compares them."""

    buckets: Mapping[str, tuple[list[str], list[Entity]]]   # skeleton head -> (alias keys, their entities)
    exact: Mapping[str, Entity]                             # short aliases, as written
    max_tokens: int                                         # words of the longest alias, plus one
    # per bucket: the n-gram key lengths that can reach the threshold with one of its keys, and the
    # longest (fuzz.ratio <= 200 * min(len) / sum(len): longer n-grams only drift further away)
    lengths: Mapping[str, tuple[frozenset[int], int]]
    threshold: float
    exact_below: int                                        # shorter keys (of n-gram or alias) match exactly
    folds: tuple[tuple[str, str], ...]


def name_index(watch: Watchlist) -> NameIndex:
    buckets: dict[str, tuple[list[str], list[Entity]]] = {}
    exact: dict[str, Entity] = {}
    max_tokens = 1
    for entity in watch.entities:
        for alias in entity.exact:
            for form in (alias, alias + "'s", alias + "’s"):   # "Kyiv's sky", "Gaza’s border"
                exact[form] = entity
        for alias in entity.keys:
            words = alias.split()
            max_tokens = max(max_tokens, len(words))
            key = "".join(name_key(w, watch.folds)[0] for w in words)
            skeleton = key.translate(VOWELS) or key
            keys, owners = buckets.setdefault(skeleton[:2], ([], []))
            keys.append(key)
            owners.append(entity)
    by_sizes: dict[frozenset[int], tuple[frozenset[int], int]] = {}
    lengths = {}
    for prefix, (keys, _) in buckets.items():
        sizes = frozenset(len(k) for k in keys)
        if sizes not in by_sizes:
            by_sizes[sizes] = _compatible_lengths(sizes, watch.threshold)
        lengths[prefix] = by_sizes[sizes]
    return NameIndex(buckets, exact, max_tokens + 1, lengths, float(watch.threshold), watch.exact_below, watch.folds)


def _compatible_lengths(sizes: frozenset[int], threshold: float) -> tuple[frozenset[int], int]:
    """The lengths L of a joined key whose fuzz.ratio with a key of one of these `sizes` can reach
    `threshold` (ratio = 200 * LCS / (L + k) <= 200 * min(L, k) / (L + k)), and the largest such L."""
    ok = frozenset(n for n in range(0, 4 * max(sizes, default=0) + 8)
                   if any(n + k == 0 or 200.0 * min(n, k) / (n + k) >= threshold - 1e-6 for k in sizes))
    return ok, max(ok, default=-1)


def can_start(words: str, index: NameIndex, keys: Memo[str, tuple[str, str]]) -> int:
    """Can an n-gram starting with `words` (one or two words) match? 0 no (its skeleton's first two
    consonants name no bucket), 1 yes, 2 not known before the next word. `keys`: known name keys."""
    if not words[0].isupper():
        return 0
    if words in index.exact:
        return 1
    skeleton = ""
    for word in words.split(" "):
        key = keys.get(word)
        if key is None:
            key = keys.keep(word, name_key(word, index.folds))
        skeleton += key[1]
    if len(skeleton) < 2:
        return 2 if " " not in words else 1
    return 1 if skeleton[:2] in index.buckets else 0


def reachable(key: str, keys: list[str], threshold: float) -> bool:
    """Can an n-gram whose key starts with `key` reach the threshold with one of `keys`?

    The n-gram's key is A + R (A = `key`, R: whatever follows). For a key K, LCS(A + R, K) <=
    min(|K|, LCS(A, K) + |R|), so fuzz.ratio = 200 LCS / (|A| + |R| + |K|) is at most
    200 |K| / (|A| + 2 |K| - LCS(A, K)) (the best |R| is |K| - LCS(A, K)). Below the threshold for
    every key: no n-gram that starts so can match, whatever the next words.
    """
    a = len(key)
    for k in keys:
        size = len(k)
        if 200.0 * size >= (threshold - 1e-6) * (a + 2 * size - LCSseq.similarity(key, k)):
            return True
    return False


def fuzzy_hit(joined: str, keys: list[str], index: NameIndex) -> tuple[str, float, int] | None:
    """The alias key closest to `joined` at or above the threshold. A short name one letter away from
    another is another name ("Derna" is not "Deraa", "Homs" not "Hums"): where either key is shorter
    than `exact_below`, only the same key matches, or the key and an "s" ("Kyiv's", "Houthis")."""
    hit = process.extractOne(joined, keys, scorer=fuzz.ratio, score_cutoff=index.threshold)
    if hit is not None and hit[1] < 100.0 and min(len(joined), len(hit[0])) < index.exact_below \
            and joined != hit[0] + "s":
        return None
    return hit


def best_name(words: list[str], index: NameIndex, keys: Memo[str, tuple[str, str]],
              steps: Memo[str, Any]) -> tuple[float, int, Entity] | None:
    """Best watchlist entity for the n-grams starting at words[0]: (similarity, last word, entity).
    What best_name_plainly finds, stopping as soon as no longer n-gram can do better."""
    joined, skeleton = "", ""
    best: tuple[float, int, Entity] | None = None
    for j, w in enumerate(words):
        key = keys.get(w)
        if key is None:
            key = keys.keep(w, name_key(w, index.folds))
        joined += key[0]
        skeleton += key[1]
        if len(skeleton) < 2:
            continue
        bucket = index.buckets.get(skeleton[:2])
        if bucket is None:
            break  # the skeleton prefix is fixed now: longer n-grams cannot match either
        lengths, longest = index.lengths[skeleton[:2]]
        if len(joined) > longest:
            break  # too long for every key of the bucket, and longer n-grams are longer still
        # (the fuzzy hit of this n-gram, can a longer one reach the threshold): a function of the
        # bucket and `joined` alone, remembered (the first words of a run recur: "Blair", "Blair said")
        step_key = skeleton[:2] + joined
        step = steps.get(step_key)
        if step is None:
            hit = fuzzy_hit(joined, bucket[0], index) \
                if len(joined) in lengths else None  # no key of a length that could reach the threshold
            step = steps.keep(step_key, (hit, reachable(joined, bucket[0], index.threshold)))
        hit = step[0]
        if hit is not None and (best is None or hit[1] > best[0]):
            best = (hit[1], j, bucket[1][hit[2]])
        if not step[1]:
            break  # no longer n-gram can reach the threshold
    return best


def best_name_plainly(words: list[str], index: NameIndex) -> tuple[float, int, Entity] | None:
    """Every n-gram from words[0] compared with its whole bucket (until the bucket is known not to exist)."""
    joined = skeleton = ""
    best = None
    for j, w in enumerate(words):
        key = name_key(w, index.folds)
        joined, skeleton = joined + key[0], skeleton + key[1]
        if len(skeleton) < 2:
            continue
        bucket = index.buckets.get(skeleton[:2])
        if bucket is None:
            break
        hit = fuzzy_hit(joined, bucket[0], index)
        if hit is not None and (best is None or hit[1] > best[0]):
            best = (hit[1], j, bucket[1][hit[2]])
    return best


def find_names_plainly(index: NameIndex, fields: tuple[tuple[str, str, float], ...]) -> list[dict[str, Any]]:
    """The definition of the watchlist scan: every capitalised word start visited in text order; a name
    found covers its words."""
    starts = re.compile(NAME_START + r"(?<![\w'’].)(?=(" + RUN_CHAR + "*))")
    tail = re.compile(r"(?: [\w'’\-]+){0," + str(index.max_tokens - 1) + "}")
    found = []
    for field_name, text, _ in fields:
        covered = 0
        for run in starts.finditer(text):
            start = run.start()
            if start < covered:
                continue
            word = text[start] + run.group(1)
            ok = can_start(word, index, Memo())
            if not ok:
                continue
            if ok == 2:  # "On", "Al": the bucket depends on the next word ("On Monday": none)
                nxt = _NEXT_WORD.match(text, start + len(word))
                if nxt is not None and not can_start(word + nxt.group(), index, Memo()):
                    continue
            if word in index.exact:
                found.append(_match(word, index.exact[word], field_name, start, start + len(word)))
                covered = start + len(word)
                continue
            words = (word + tail.match(text, start + len(word)).group()).split(" ")  # type: ignore[union-attr]
            best = best_name_plainly(words, index)
            if best is not None:
                end = start + sum(len(w) + 1 for w in words[:best[1] + 1]) - 1
                found.append({**_match(text[start:end], best[2], field_name, start, end),
                              "similarity": round(best[0], 1)})
                covered = end
    return found


def _match(term: str, entity: Entity, field_name: str, start: int, end: int) -> dict[str, Any]:
    return {"term": term, "category": "watchlist", "field": field_name, "start": start, "end": end,
            "entity": entity.name, "kind": entity.kind}


def nested_runs(start: int, word: str) -> list[tuple[int, str]]:
    """The run at `start` and those inside its hyphenated word: "American" in "Anti-American" (a capitalised
    run is a capital not inside a word and the word chars after it, hyphens included)."""
    out = [(start, word)]
    for i in range(1, len(word)):
        if word[i - 1] == "-" and _NAME_FIRST.match(word, i):
            out.append((start + i, word[i:]))
    return out


class NameFinder:
    """The watchlist of one rule set, and what it remembers between articles (each memo bounded)."""

    def __init__(self, watch: Watchlist) -> None:
        self.index = index = name_index(watch)
        self.screen = name_screen({prefix: keys for prefix, (keys, _) in index.buckets.items()},
                                  {prefix: longest for prefix, (_, longest) in index.lengths.items()},
                                  frozenset(index.exact), index.folds, index.threshold, index.max_tokens - 1,
                                  NAME_START, RUN_CHAR)
        # The words after a capitalised word that may start a name (matched at the end of that word).
        self._tail = re.compile(r"(?: [\w'’\-]+){0," + str(index.max_tokens - 1) + "}")
        self._keys: Memo[str, tuple[str, str]] = Memo()   # word -> name key
        self._may_start: Memo[str, int] = Memo()          # capitalised word(s) -> can they start a name
        self._runs: Memo[str, Any] = Memo()               # run text -> best_name
        self._steps: Memo[str, Any] = Memo()              # bucket + n-gram key -> (fuzzy hit, reachable)

    def find(self, fields: tuple[tuple[str, str, float], ...]) -> list[dict[str, Any]]:
        """What find_names_plainly finds, with "watchlist" matches as the scorer reports them."""
        index, exact = self.index, self.index.exact
        keys, may_start, run_memo = self._keys, self._may_start, self._runs
        found: list[dict[str, Any]] = []
        for (field_name, text, _), runs in zip(fields, self._screened_runs(fields), strict=True):
            covered = 0
            for run_start, head in runs:
                for start, word in nested_runs(run_start, head) if "-" in head else ((run_start, head),):
                    if start < covered:
                        continue  # inside a name already found: "Hezbollah" in "Kataeb Hezbollah"
                    ok = may_start.get(word)
                    if ok is None:
                        ok = can_start(word, index, keys)
                        if ok == 1 and word not in exact and not self._may_reach(word):
                            ok = 0  # no n-gram starting with it can reach the threshold: as good as no bucket
                        may_start.keep(word, ok)
                    if not ok:
                        continue
                    if ok == 2:  # "On", "Al": the bucket depends on the next word ("On Monday": none)
                        nxt = _NEXT_WORD.match(text, start + len(word))
                        if nxt is not None:
                            pair = word + nxt.group()
                            ok = may_start.get(pair)
                            if ok is None:
                                ok = may_start.keep(pair, can_start(pair, index, keys))
                            if not ok:
                                continue
                    if word in exact:
                        found.append(_match(word, exact[word], field_name, start, start + len(word)))
                        covered = start + len(word)
                        continue
                    # _tail matches the empty string too: its match() is never None
                    run_text = word + self._tail.match(text, start + len(word)).group()  # type: ignore[union-attr]
                    words = run_text.split(" ")
                    best = run_memo.get(run_text, False)
                    if best is False:
                        best = run_memo.keep(run_text, best_name(words, index, keys, self._steps))
                    if best is not None:
                        end = start + sum(len(w) + 1 for w in words[:best[1] + 1]) - 1
                        m = _match(text[start:end], best[2], field_name, start, end)
                        m["similarity"] = round(best[0], 1)
                        found.append(m)
                        covered = end
        return found

    def _may_reach(self, word: str) -> bool:
        """Can an n-gram starting with `word` (its skeleton names a bucket) reach the threshold?"""
        key, skeleton = self._keys.get(word) or name_key(word, self.index.folds)
        return reachable(key, self.index.buckets[skeleton[:2]][0], self.index.threshold)

    def _screened_runs(self, fields: tuple[tuple[str, str, float], ...]) -> list[list[tuple[int, str]]]:
        """Per field, the (start, word) of the capitalised runs the screen keeps. The fields are screened
        in one call, joined by line breaks: no run, and no n-gram (words one space apart), reaches over
        one."""
        whole = "\n".join(text for _, text, _ in fields)
        bounds = screen_runs(self.screen, whole)
        out: list[list[tuple[int, str]]] = []
        at = k = 0
        for _, text, _ in fields:
            end = at + len(text)
            runs = []
            while k < len(bounds) and bounds[k] < end:
                runs.append((bounds[k] - at, whole[bounds[k]:bounds[k + 1]]))
                k += 2
            out.append(runs)
            at = end + 1
        return out
