"""Phrase sets: many phrases as one regex, and which phrase a match is.

A language's phrases (with its exclusions) are one set, its modifier phrases another. Each set is a
trie of literal prefixes (checked by the regex engine before it enters a branch) with unnamed groups
inside (named groups would cost the engine its fast literal checks). Which phrase matched is found
afterwards by re-trying, at the match start only, the few phrases of that prefix in the order the big
regex tried them, so the answer is the phrase the regex chose.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from streams._accel import pick
from streams.escalation import literals
from streams.escalation.literals import anchors_of
from streams.escalation.model import Language
from streams.escalation.phrases import PHRASE_END, WORD_START, dispatch_phrase

literal_index = pick(literals.literal_index, "phrases")
phrase_starts = pick(literals.phrase_starts, "phrases")


class PhraseSet:
    """(phrase source, meta) items matched as one regex; meta None marks an exclusion, which wins at
    its position and is consumed without being reported."""

    def __init__(self, items: list[tuple[str, Any]], number_words: Mapping[str, int]) -> None:
        self._sources: dict[str, list[tuple[str, Any]]] = {}   # prefix -> (rest regex, meta), in try order
        for source, meta in items:
            for prefix, regex in dispatch_phrase(source, number_words):
                self._sources.setdefault(prefix, []).append((regex, meta))
        buckets = {prefix: [f"(?:{regex})" for regex, _ in entries] for prefix, entries in self._sources.items()}
        # The anchored regexes of one prefix, compiled when a match first starts with it (one text
        # needs a few of the thousands of prefixes).
        self._candidates: dict[str, list[tuple[re.Pattern[str], Any]]] = {}
        self._depth = max((len(k) for k in buckets), default=0)
        # The regex runs on " " + text and starts with the char before the word (instead of a lookbehind):
        # a pattern led by a character class lets the engine skip in C to the next word boundary, and a
        # match start in the padded text is the word start in the original.
        self.regex = re.compile(WORD_START + "(?:" + _trie(buckets) + ")" + PHRASE_END) if buckets else None
        anchors = anchors_of(items, number_words) if self.regex is not None else None
        self._literals = literal_index(anchors) if anchors is not None else None

    def find(self, text: str, padded: str, start: int = 0,
             end: int | None = None) -> Iterator[tuple[int, int, Any]]:
        """Matches in `text` (folded); `padded` is " " + text."""
        if self.regex is None:
            return
        for m in self.regex.finditer(padded, start, (len(text) if end is None else end) + 1):
            m_start, m_end = m.span()
            yield m_start, m_end - 1, self._which(text, m_start, m_end - 1)

    def field_starts(self, paddeds: list[str]) -> list[list[int]] | None:
        """phrase_starts of each padded field, from one pass over them joined: each starts with a space,
        where a literal walk stops, so the literals found are those of the fields, and the anchors found
        in any field make its phrases live in all - starts a superset of each field's own, which
        find_events may be given (same matches, see there). None when there is one field or less, or
        the set has no literal anchors (find_events then scans the whole text)."""
        if self._literals is None or len(paddeds) < 2:
            return None
        starts = phrase_starts(self._literals, "".join(paddeds))
        out: list[list[int]] = []
        at = k = 0
        for padded in paddeds:
            end = at + len(padded)
            mine = []
            while k < len(starts) and starts[k] < end:
                mine.append(starts[k] - at)
                k += 1
            out.append(mine)
            at = end
        return out

    def find_events(self, text: str, padded: str,
                    starts: list[int] | None = None) -> Iterator[tuple[int, int, Any]]:
        """The matches of `find(text, padded)` that are phrases (exclusions are consumed, not yielded).

        The same matches, cheaper: the regex is tried only where the first word of a phrase that may
        match starts (literals.phrase_starts), in text order, each try resuming after the last match -
        exactly the matches finditer finds, from any sorted superset of those starts (`starts`, when
        given: field_starts).
        """
        if starts is None and self._literals is not None:
            starts = phrase_starts(self._literals, padded)
        if starts is None:
            yield from ((s, e, meta) for s, e, meta in self.find(text, padded) if meta is not None)
            return
        regex = self.regex
        if not starts or regex is None:
            return
        resume = 0
        for at in starts:
            if at < resume:
                continue
            m = regex.match(padded, at)
            if m is None:
                continue
            resume = m_end = m.end()
            meta = self._which(text, at, m_end - 1)
            if meta is not None:
                yield at, m_end - 1, meta

    def starts_in(self, padded: str) -> list[int] | None:
        """phrase_starts of the set's literal anchors in `padded` (None: the set has none): a sorted
        superset of the places a phrase may start, for find_all."""
        return phrase_starts(self._literals, padded) if self._literals is not None else None

    def find_all(self, text: str, padded: str, start: int, end: int,
                 starts: list[int] | None = None) -> Iterator[tuple[int, int, Any]]:
        """Every phrase matching at a start the regex finds (a word may be in several lists). `starts`
        (starts_in of `padded`) saves trying the regex where no phrase can start: the same matches."""
        if self.regex is None:
            return
        for m in self.regex.finditer(padded, start, end + 1) if starts is None else \
                self._matches_from(padded, start, end + 1, starts):
            m_start = m.start()
            head = text[m_start:m_start + self._depth]
            for n in range(len(head), -1, -1):
                for anchored, meta in self._candidates_of(head[:n]):
                    hit = anchored.match(text, m_start, end)
                    if hit is not None:
                        yield m_start, hit.end(), meta

    def _matches_from(self, padded: str, start: int, end: int, starts: list[int]) -> Iterator[re.Match[str]]:
        """What regex.finditer(padded, start, end) finds, tried only at `starts` (a sorted superset of
        its match starts), each try resuming after the last match as finditer does."""
        regex = self.regex
        assert regex is not None
        resume = start
        for at in starts[bisect.bisect_left(starts, start):]:
            if at >= end:
                break
            if at < resume:
                continue
            m = regex.match(padded, at, end)
            if m is not None:
                resume = m.end()
                yield m

    def find_context(self, text: str, padded: str, start: int, end: int,
                     starts: list[int] | None = None) -> list[tuple[int, int]]:
        """Spans of the phrases in text[start:end] that no exclusion covers (a context list's matches)."""
        found = list(self.find_all(text, padded, start, end, starts))
        excluded = [(a, b) for a, b, meta in found if meta is None]
        return [(a, b) for a, b, meta in found
                if meta is not None and not any(x <= a and b <= y for x, y in excluded)]

    def starts_phrase(self, text: str, start: int) -> bool:
        """Does a (non-exclusion) phrase match at `start`?"""
        head = text[start:start + self._depth]
        for n in range(len(head), -1, -1):
            for anchored, meta in self._candidates_of(head[:n]):
                if meta is not None and anchored.match(text, start) is not None:
                    return True
        return False

    def _which(self, text: str, start: int, end: int) -> Any:
        head = text[start:start + self._depth]
        for n in range(len(head), -1, -1):
            for anchored, meta in self._candidates_of(head[:n]):
                hit = anchored.match(text, start)
                if hit is not None and hit.end() == end:
                    return meta
        return None

    def prepare(self) -> None:
        """Compile now what is otherwise compiled when a match first needs it."""
        for prefix in self._sources:
            self._candidates_of(prefix)

    def _candidates_of(self, prefix: str) -> list[tuple[re.Pattern[str], Any]]:
        found = self._candidates.get(prefix)
        if found is None:
            sources = self._sources.get(prefix)
            if sources is None:
                return []
            found = self._candidates[prefix] = [
                (re.compile(re.escape(prefix) + f"(?:{regex}){PHRASE_END}"), meta) for regex, meta in sources]
        return found


def _trie(buckets: Mapping[str, list[str]]) -> str:
    """Alternation for every bucket: under each prefix, the longer prefixes first, each behind its
    literal char (in char order), then the bucket of the prefix itself."""
    children: dict[str, set[str]] = {}
    for key in buckets:
        for n in range(len(key)):
            children.setdefault(key[:n], set()).add(key[n])

    def under(prefix: str) -> str:
        branches = [re.escape(c) + "(?:" + under(prefix + c) + ")" for c in sorted(children.get(prefix, ()))]
        return "|".join(branches + buckets.get(prefix, []))

    return under("")


@dataclass(frozen=True)
class LanguageMatcher:
    """One language, ready to scan."""

    phrases: PhraseSet            # meta: (category, phrase, ambiguous) or None for an exclusion
    modifiers: PhraseSet          # meta: modifier name
    armed: PhraseSet              # meta: the phrase: armed actors, weapons, forces (context, not events)
    headline: PhraseSet           # meta: the phrase: a headline about armed conflict
    lang: Language


def compile_language(lang: Language, priority: Mapping[str, int] | None = None) -> LanguageMatcher:
    """`priority`: category -> rank; at one position the phrases of higher ranks are tried first."""
    return LanguageMatcher(phrases=PhraseSet(phrase_items(lang, priority), lang.number_words),
                           modifiers=PhraseSet(modifier_items(lang), lang.number_words),
                           armed=PhraseSet(_context_items(lang, lang.armed), lang.number_words),
                           headline=PhraseSet(_context_items(lang, lang.headline), lang.number_words),
                           lang=lang)


def phrase_items(lang: Language, priority: Mapping[str, int] | None = None) -> list[tuple[str, Any]]:
    """The phrase set of a language, in the order its regex tries them: (source, (category, source,
    ambiguous)), or (source, None) for an exclusion."""
    # At one position the regex takes the first alternative that matches. Exclusions first, so "strike
    # a deal" beats "strike"; then unambiguous phrases before ambiguous ones ("drone strike" before
    # "drone"), the more severe category first, the longer phrase first ("car bomb" before "car").
    items: list[tuple[str, Any]] = [(source, None) for source in lang.exclude]
    both = [(category, source, False) for category, source in lang.phrases]
    both += [(category, source, True) for category, source in lang.ambiguous]
    rank = priority or {}
    items += [(source, (category, source, ambiguous))
              for category, source, ambiguous in sorted(both, key=lambda p: (p[2], -rank.get(p[0], 0), -len(p[1])))]
    return items


def _context_items(lang: Language, sources: tuple[str, ...]) -> list[tuple[str, Any]]:
    """A context list (armed, headline) with the language's exclusions first: "war chest" and "think
    tank" are no armed context. `find_context` drops what an exclusion covers."""
    return [(source, None) for source in lang.exclude] + [(source, source) for source in sources]


def modifier_items(lang: Language) -> list[tuple[str, Any]]:
    """The modifier phrases of a language: (source, modifier name)."""
    return [(source, name) for name, source in lang.modifiers]
