"""A loaded rule set and how it scores an article.

Scoring, in one pass per field (title, body):
  1. the language's phrase set finds phrases (and exclusions, which win at the same position and are
     dropped);
  2. each phrase gets its category weight, times the title factor, times the smallest factor of the
     modifiers (negation, hedging, drill, ...) found in its window of the same sentence;
  3. phrases of counting categories look for a number within a few words: the largest is `casualties`;
  4. watchlist names (actors, places) are matched fuzzily on transliteration-folded text; they add a
     capped amount that can never reach `medium` on its own.
A category contributes its best match plus a share per further match, capped; casualty counts add a
bonus; the total against the thresholds gives the severity.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from streams.escalation.loadcache import load_cached
from streams.escalation.loading import load_rules
from streams.escalation.matching import LanguageMatcher, compile_language
from streams.escalation.model import (
    DEFAULT_RULES,
    SEVERITIES,
    Category,
    Escalation,
    Language,
    Modifier,
    Watchlist,
    merge_languages,
)
from streams.escalation.phrases import fold
from streams.escalation.sentences import Sentences
from streams.escalation.watchlist import NameFinder
from streams.normalize import MAX_TITLE_CHARS  # normalisation cuts titles there; the scorer keeps the bound

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Rules:
    """Validated rules (frozen once loaded) and the matchers compiled from them."""

    version: str
    thresholds: Mapping[str, float]
    categories: Mapping[str, Category]
    modifiers: Mapping[str, Modifier]
    scoring: Mapping[str, float]
    casualty_bonus: tuple[tuple[int, float], ...]
    default_language: str
    files: tuple[str, ...]
    language_rules: Mapping[str, Language]
    watchlist: Watchlist
    # derived: a language's matcher is compiled on first use ("*", every language at once, is for
    # articles in a language without rules of its own); the watchlist's finder and what it remembers
    _matchers: dict[str, LanguageMatcher] = field(init=False, repr=False)
    names: NameFinder = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("thresholds", "categories", "modifiers", "scoring", "language_rules"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))  # read-only
        object.__setattr__(self, "_matchers", {})
        object.__setattr__(self, "names", NameFinder(self.watchlist))

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
            found = self._matchers[language] = compile_language(rules)
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

        matches: list[dict[str, Any]] = []
        casualties: int | None = None
        scanned = [(field_name, text, field_factor, " " + fold(text)) for field_name, text, field_factor in fields
                   if text]
        starts = matcher.phrases.field_starts([padded for *_, padded in scanned])
        for k, (field_name, text, field_factor, padded) in enumerate(scanned):
            for match, count in self._scan(matcher, text, field_name, field_factor, padded,
                                           None if starts is None else starts[k]):
                matches.append(match)
                if count is not None and (casualties is None or count > casualties):
                    casualties = count

        per_category: dict[str, list[float]] = {}
        for m in matches:
            per_category.setdefault(m["category"], []).append(m["weight"])
        contributions: dict[str, float] = {}
        for cat, weights in per_category.items():
            weights.sort(reverse=True)
            base = self.categories[cat].weight
            value = weights[0] + self.scoring["repeat_bonus"] * sum(weights[1:])
            contributions[cat] = min(value, base * self.scoring["category_cap"])
        total = sum(contributions.values())
        if casualties:
            total += max((add for least, add in self.casualty_bonus if casualties >= least), default=0.0)

        watch_matches = self.names.find(fields) if self.watchlist.entities else []
        if watch_matches:
            entities = {m["entity"] for m in watch_matches}
            total += min(self.watchlist.cap, self.watchlist.weight * len(entities))
            matches.extend(watch_matches)

        categories = sorted(contributions, key=lambda c: (-contributions[c], c))
        return Escalation(severity=self.severity(total), score=round(total, 2), categories=categories,
                          casualties=casualties, matches=matches)

    def severity(self, total: float) -> str:
        """The highest severity whose threshold the score reaches."""
        for name in SEVERITIES[:0:-1]:
            if total >= self.thresholds[name]:
                return name
        return "none"

    def _scan(self, matcher: LanguageMatcher, text: str, field_name: str, field_factor: float, padded: str,
              starts: list[int] | None = None) -> Iterator[tuple[dict[str, Any], int | None]]:
        """Phrase matches of one field; `padded` is " " + fold(text), `starts` from PhraseSet.field_starts."""
        folded = padded[1:]
        sentences: Sentences | None = None
        for start, end, meta in matcher.phrases.find_events(folded, padded, starts):
            # (exclusions such as "heart attack", "strike a deal" are consumed there, not yielded)
            category, phrase = meta
            cat = self.categories[category]
            if sentences is None:
                sentences = Sentences(text, folded, padded, matcher)
            factor, modifier = sentences.modifier_factor(start, end, self.modifiers)
            weight = cat.weight * field_factor * factor
            if weight <= 0:
                continue
            match: dict[str, Any] = {"term": text[start:end], "category": category, "field": field_name,
                                     "start": start, "end": end, "weight": round(weight, 3)}
            if modifier:
                match["modifier"] = modifier
            count = None
            if cat.counts and factor >= self.scoring["count_min_factor"]:
                count = sentences.count_near(start, end)
                if count is not None:
                    match["count"] = count
            yield match, count
