"""A loaded rule set and how it scores an article.

Scoring, in one pass per field (title, body):
  1. the article's context (context.py: URL section, tags, outlet, headline label) says how far its
     words can go: a game guide is never an event, an opinion piece at most low;
  2. the language's phrase set finds phrases (exclusions such as "heart attack" win at the same
     position and are dropped); ambiguous phrases note whether their sentence holds armed context;
  3. the modifiers found around a phrase in its sentence (negation, hedging, drills, history,
     aftermath, accidents) drop it or cap what it establishes;
  4. phrases of counting categories look for a number within a few words: the casualty count;
  5. watchlist names (actors, places) are matched fuzzily on transliteration-folded text: they give
     ambiguous phrases their context and add to the score, never to the severity;
  6. assess.py turns all that into the severity the policy gives the event, and a score.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from streams.escalation.assess import RANK, Hit, assess
from streams.escalation.context import Context, ContextFinder
from streams.escalation.loadcache import load_cached
from streams.escalation.loading import load_rules
from streams.escalation.matching import LanguageMatcher, compile_language
from streams.escalation.model import (
    DEFAULT_RULES,
    Category,
    Escalation,
    Language,
    Modifier,
    Watchlist,
    merge_languages,
)
from streams.escalation.phrases import fold
from streams.escalation.sentences import Sentences, own_words, sentence_bounds
from streams.escalation.watchlist import NameFinder
from streams.normalize import MAX_TITLE_CHARS  # normalisation cuts titles there; the scorer keeps the bound

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Rules:
    """Validated rules (frozen once loaded) and the matchers compiled from them."""

    version: str
    severity: Mapping[str, int]
    categories: Mapping[str, Category]
    modifiers: Mapping[str, Modifier]
    scoring: Mapping[str, float]
    casualty_bonus: tuple[tuple[int, float], ...]
    default_language: str
    files: tuple[str, ...]
    language_rules: Mapping[str, Language]
    watchlist: Watchlist
    contexts: tuple[Context, ...] = ()
    # derived: a language's matcher is compiled on first use ("*", every language at once, is for
    # articles in a language without rules of its own); the watchlist's finder and what it remembers
    _matchers: dict[str, LanguageMatcher] = field(init=False, repr=False)
    names: NameFinder = field(init=False, repr=False)
    context: ContextFinder = field(init=False, repr=False)
    _priority: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("severity", "categories", "modifiers", "scoring", "language_rules"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))  # read-only
        object.__setattr__(self, "_matchers", {})
        object.__setattr__(self, "names", NameFinder(self.watchlist))
        object.__setattr__(self, "context", ContextFinder(self.contexts))
        # at one position the phrase of the more severe category is tried first ("sent troops into"
        # is an invasion before it is a deployment)
        object.__setattr__(self, "_priority", {name: RANK[c.tier] for name, c in self.categories.items()})

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES) -> Rules:
        """Load and validate a rule file (and the files it includes); RuleError names file and line."""
        return cls(**load_cached(Path(path), load_rules))

    @property
    def languages(self) -> list[str]:
        return sorted(self.language_rules)

    def prepared(self) -> Rules:
        """These rules with every language's matcher compiled now: a worker loads rules off its event
        loop and must not make the first article of a language wait for a compile."""
        for code in [*self.language_rules, "*"]:
            matcher = self.matcher(code)
            matcher.phrases.prepare()
            matcher.modifiers.prepare()
            matcher.armed.prepare()
            matcher.headline.prepare()
        return self

    def matcher(self, language: str) -> LanguageMatcher:
        """The matcher for an article's language: its own, or every language's together ("*") for a
        language without rules, or the default language's when there is only that one."""
        found = self._matchers.get(language)
        if found is None:
            if language not in self.language_rules:
                language = "*" if len(self.language_rules) > 1 else self.default_language
            found = self._matchers.get(language)
        if found is None:
            rules = merge_languages(list(self.language_rules.values())) if language == "*" \
                else self.language_rules[language]
            found = self._matchers[language] = compile_language(rules, self._priority)
        return found

    def score(self, normed: Mapping[str, Any]) -> Escalation:
        """Score one normalised article. Never raises on odd input: a broken record scores `none`."""
        try:
            return self._score(normed)
        except Exception:  # scoring must not take the stream down: log it, score the article `none`
            log.warning("escalation scoring failed", exc_info=True)
            return Escalation()

    def _score(self, normed: Mapping[str, Any]) -> Escalation:
        norm = normed.get("norm") if isinstance(normed, Mapping) else None
        if not isinstance(norm, Mapping):
            return Escalation()
        # (the guards make these three str; mypy does not narrow the result of a call such as norm.get)
        title: str = norm.get("title") if isinstance(norm.get("title"), str) else ""  # type: ignore[assignment]
        body: str = norm.get("body") if isinstance(norm.get("body"), str) else ""  # type: ignore[assignment]
        body_field: str = (norm.get("body_field")  # type: ignore[assignment]
                           if norm.get("body_field") in ("content", "summary") else "content")
        language = norm.get("language")
        matcher = self.matcher(language if isinstance(language, str) else "")
        max_chars = int(self.scoring["max_chars"])
        fields = (("title", title[:MAX_TITLE_CHARS], self.scoring["title_factor"]),
                  (body_field, body[:max_chars], 1.0))
        scanned = [(field_name, text, field_factor, " " + fold(text)) for field_name, text, field_factor in fields
                   if text]
        starts = matcher.phrases.field_starts([padded for *_, padded in scanned])
        found = [list(matcher.phrases.find_events(padded[1:], padded, None if starts is None else starts[k]))
                 for k, (*_, padded) in enumerate(scanned)]
        if not any(found):
            return Escalation()  # no phrase at all (most articles): the context and the names cannot matter
        context = self.context.assess(normed, title)
        if context.cap == "none":
            return Escalation()

        # The watchlist names are looked for only when something asks for them (an ambiguous phrase
        # without armed words in its sentence, a headline without a conflict word, an item that reaches
        # a severity): finding names is the dearest step, and most items never ask.
        watched = _Watched(self.names, fields, bool(self.watchlist.entities))
        hits: list[Hit] = []
        split: dict[str, Sentences] = {}  # the fields the scan cut into sentences, with the modifiers it found
        for events, (field_name, text, field_factor, padded) in zip(found, scanned, strict=True):
            if events:
                hits.extend(self._scan(matcher, text, field_name, field_factor, padded, context.ambiguous, events,
                                       watched, _year(normed), split))
        on_conflict: bool | Callable[[], bool]
        on_conflict, soft_cap = self._headline(matcher, scanned, watched, split)
        if any(h.sentence[0] == "title" and h.match.get("modifier") == "dated" for h in hits):
            on_conflict = False  # "Pentagon to interview troops over 2021 Kabul bombing": the summary recounts it
        verdict = assess(hits, context, mass_casualties=self.severity["mass_casualties"],
                         casualty_bonus=self.casualty_bonus, category_cap=self.scoring["category_cap"],
                         names=watched.entities, watch_weight=self.watchlist.weight,
                         watch_cap=self.watchlist.cap, repeat_bonus=self.scoring["repeat_bonus"],
                         headline_on_conflict=on_conflict, headline_soft_cap=soft_cap,
                         lead_soft_cap=self._lead_soft_cap(matcher, scanned, split))
        matches = [hit.match for hit in verdict.counted]
        if verdict.severity != "none":
            matches.extend(watched.matches())
        return Escalation(severity=verdict.severity, score=verdict.score, categories=verdict.categories,
                          casualties=verdict.casualties, matches=matches)

    def _headline(self, matcher: LanguageMatcher, scanned: list[tuple[str, str, float, str]],
                  watched: _Watched, split: Mapping[str, Sentences]) -> tuple[bool | Callable[[], bool], str | None]:
        """What the headline says about the item: (whether it names armed conflict, the soft cap it sets).

        It names armed conflict with a watchlist name, a place or word of the rules' `headline` list (a
        weapon alone does not: "governor bans firearms in public" is gun policy), never when a modifier
        marked `frames` (aftermath, history, supply, ...) frames it. A framing modifier for ambiguous
        phrases (`applies_to: ambiguous`: a flood, an earthquake, a fuel depot) leaves the question open
        and sets its cap on the item's ambiguous phrases instead: "Libya floods: what we know" recounts
        deaths, not killings, while an air strike its summary reports still counts."""
        for field_name, _text, _factor, padded in scanned:
            if field_name == "title":
                folded = padded[1:]
                soft_cap: str | None = None
                for _, _, name in _lead_modifiers(matcher, split.get(field_name), folded, padded, len(folded)):
                    modifier = self.modifiers[name]
                    if not modifier.frames:
                        continue
                    if not modifier.ambiguous_only:
                        return False, None  # "Victims sue over 2018 attack", "Germany to supply drones"
                    if modifier.cap is not None and (soft_cap is None or RANK[modifier.cap] < RANK[soft_cap]):
                        soft_cap = modifier.cap
                if matcher.headline.find_context(folded, padded, 0, len(folded)):
                    return True, soft_cap
                return watched.in_title, soft_cap  # a watchlist name in the headline (looked for if it matters)
        return True, None  # no headline: nothing says the body's violence is background

    def _lead_soft_cap(self, matcher: LanguageMatcher, scanned: list[tuple[str, str, float, str]],
                       split: Mapping[str, Sentences]) -> str | None:
        """The cap of the disaster and accident framing (`frames` modifiers for ambiguous phrases) in the
        summary's first sentence: "Explosion kills 20" / "... in a blast at a fuel depot"."""
        cap: str | None = None
        for field_name, text, _factor, padded in scanned:
            if field_name == "title":
                continue
            sentences = split.get(field_name)
            end = sentence_bounds(text, 0)[1] if sentences is None else sentences.bounds(0)[2]
            for _, _, name in _lead_modifiers(matcher, sentences, padded[1:], padded, end):
                modifier = self.modifiers[name]
                if modifier.frames and modifier.ambiguous_only and modifier.cap is not None \
                        and (cap is None or RANK[modifier.cap] < RANK[cap]):
                    cap = modifier.cap
        return cap

    def _scan(self, matcher: LanguageMatcher, text: str, field_name: str, field_factor: float, padded: str,
              ambiguous_allowed: bool, events: list[tuple[int, int, Any]], watched: _Watched,
              year: int | None = None, split: dict[str, Sentences] | None = None) -> Iterator[Hit]:
        """Hits of the phrase matches of one field; `padded` is " " + fold(text), `events` what
        PhraseSet.find_events found in it, `watched` the article's watchlist names (armed context for
        their sentence); the field's Sentences, once cut, go into `split`."""
        folded = padded[1:]
        sentences: Sentences | None = None
        for start, end, meta in events:
            category, phrase, ambiguous = meta
            if ambiguous and not ambiguous_allowed:
                continue
            cat = self.categories[category]
            if sentences is None:
                sentences = Sentences(text, folded, padded, matcher, whole=field_name == "title")
                if split is not None:
                    split[field_name] = sentences
            factor, cap, soft_cap, modifier = sentences.modifier_effect(start, end, self.modifiers, ambiguous,
                                                                        own_words(phrase))
            if factor <= 0:
                continue
            index = sentences.bounds(start)[0]
            if year is not None and sentences.dated_before(start, year) and (cap is None or RANK[cap] > RANK["low"]):
                cap, modifier = "low", modifier or "dated"  # violence of an earlier year: background, not news
            armed = False
            if ambiguous:
                armed = sentences.has_other(matcher.armed, start, end)
                if not armed:
                    _, s_start, s_end = sentences.bounds(start)
                    armed = watched.named_in(field_name, text, s_start, s_end)
            match: dict[str, Any] = {"term": text[start:end], "category": category, "field": field_name,
                                     "start": start, "end": end,
                                     "weight": round(cat.weight * field_factor * factor, 3)}
            if modifier:
                match["modifier"] = modifier
            count = None
            if cat.counts and factor >= self.scoring["count_min_factor"]:
                count = sentences.count_near(start, end)
                if count is not None:
                    match["count"] = count
            yield Hit(match=match, category=cat, ambiguous=ambiguous, sentence=(field_name, index), factor=factor,
                      cap=cap, soft_cap=soft_cap, armed=armed, count=count)


def _lead_modifiers(matcher: LanguageMatcher, sentences: Sentences | None, folded: str, padded: str,
                    end: int) -> list[tuple[int, int, str]] | Iterator[tuple[int, int, Any]]:
    """The modifiers of the field's first sentence (folded[:end], the whole of a headline): those the
    scan found there already, or found now."""
    if sentences is not None:
        return sentences.modifiers_in(0)
    return matcher.modifiers.find_all(folded, padded, 0, end)


class _Watched:
    """The watchlist names of one article's fields, looked for on first use: all of them (for the score),
    or those of one sentence (armed context). A name never reaches over a sentence's end (its words are
    one space apart, and a sentence ends at punctuation, a line break or "; "), so the names a sentence
    holds are those found in its text alone."""

    __slots__ = ("_finder", "_fields", "_watching", "_matches", "_in")

    def __init__(self, finder: NameFinder, fields: tuple[tuple[str, str, float], ...], watching: bool) -> None:
        self._finder, self._fields, self._watching = finder, fields, watching
        self._matches: list[dict[str, Any]] | None = None
        self._in: dict[tuple[str, int, int], bool] = {}

    def matches(self) -> list[dict[str, Any]]:
        """The "watchlist" matches, as NameFinder.find gives them ([] when the watchlist is empty)."""
        if self._matches is None:
            self._matches = self._finder.find(self._fields) if self._watching else []
        return self._matches

    def named_in(self, field_name: str, text: str, start: int, end: int) -> bool:
        """Whether a name starts in text[start:end], a sentence of the field (or the whole field)."""
        if self._matches is not None:
            return any(m["field"] == field_name and start <= m["start"] < end for m in self._matches)
        key = (field_name, start, end)
        found = self._in.get(key)
        if found is None:
            found = self._in[key] = self._watching and bool(self._finder.find(((field_name, text[start:end], 1.0),)))
        return found

    def in_title(self) -> bool:
        """Whether the headline names a watched entity."""
        title = next((text for name, text, _ in self._fields if name == "title"), "")
        return self.named_in("title", title, 0, len(title))

    def entities(self) -> int:
        """How many watched entities the article names."""
        return len({m["entity"] for m in self.matches()})


def _year(normed: Mapping[str, Any]) -> int | None:
    """The year the article was published (what "an earlier year" is measured against)."""
    published = normed.get("published_at")
    if isinstance(published, str) and len(published) >= 4 and published[:4].isdigit():
        return int(published[:4])
    return None
