"""What rules and results are: the severity scale, categories, modifiers, languages, watchlist
entities, and the Escalation a scored article gets. Plain data, frozen once loaded."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from streams.resources import default_rules

# The one severity scale, lowest first: thresholds, alerts, metrics and the command line all use it.
SEVERITIES = ("none", "low", "medium", "high", "critical")
# the checkout's seeds/rules, or the installed wheel's streams/seeds/rules (streams.resources decides)
DEFAULT_RULES = default_rules()
# A count above this is a typo or a year, not a death toll; rule files cannot set a number above it.
MAX_CASUALTIES = 10_000_000


@dataclass
class Escalation:
    severity: str = "none"
    score: float = 0.0
    categories: list[str] = field(default_factory=list)
    casualties: int | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The dict `dataclasses.asdict` gives (fresh lists and match dicts), without its recursive copy:
        match values are str, int and float (a nested container is copied the asdict way)."""
        matches = []
        for m in self.matches:
            copied = dict(m)
            for value in copied.values():
                if isinstance(value, (list, dict, tuple, set)) or hasattr(value, "__dataclass_fields__"):
                    copied = _asdict_value(m)
                    break
            matches.append(copied)
        return {"severity": self.severity, "score": self.score, "categories": list(self.categories),
                "casualties": self.casualties, "matches": matches}


def _asdict_value(value: Any) -> Any:
    return asdict(_Holder(value))["value"]


@dataclass
class _Holder:
    value: Any


@dataclass(frozen=True)
class Category:
    name: str
    weight: float       # what a match adds to the score (which orders alerts; severity comes from `tier`)
    counts: bool        # its phrases look for a casualty count nearby
    description: str
    tier: str = "medium"  # the severity an event of this category reaches (DESIGN.md's severity policy)
    counts_killed: bool = False  # its counts are people killed (10 or more killed is mass-casualty violence)
    needs_armed: bool = False    # its ambiguous phrases need armed context itself (another phrase cannot vouch)


@dataclass(frozen=True)
class Modifier:
    name: str
    factor: float
    before: int          # words before the phrase, same sentence
    after: int           # words after the phrase, same sentence
    sentence: bool       # anywhere in the sentence
    cap: str | None = None         # the highest severity a phrase it applies to can reach (None: no cap)
    ambiguous_only: bool = False   # it applies to ambiguous phrases only ("attack" in a match report)
    frames: bool = False           # in a headline it frames the item: the summary's violence is background too


@dataclass(frozen=True)
class Language:
    """What the rule files say about one language (or "*": every language, for unknown ones)."""

    code: str
    phrases: tuple[tuple[str, str], ...] = ()       # (category, phrase source), in file order
    ambiguous: tuple[tuple[str, str], ...] = ()     # (category, phrase source): events only with armed context
    armed: tuple[str, ...] = ()                       # armed context: actors, weapons, forces, war
    headline: tuple[str, ...] = ()                    # a headline about armed conflict (places, "war live")
    exclude: tuple[str, ...] = ()                     # phrase sources that consume their words
    modifiers: tuple[tuple[str, str], ...] = ()      # (modifier name, phrase source)
    number_words: Mapping[str, int] = field(default_factory=dict)
    scales: Mapping[str, int] = field(default_factory=dict)
    count_window: int = 5
    count_stop: frozenset[str] = frozenset()
    count_not_after: frozenset[str] = frozenset()     # "in 2014", "March 17": not counts
    count_not_before: frozenset[str] = frozenset()    # "17 km", "17 years": not counts


def merge_languages(languages: list[Language]) -> Language:
    """Every language's phrases together: what an article in an unknown language is scanned with."""
    number_words: dict[str, int] = {}
    scales: dict[str, int] = {}
    for lang in languages:
        number_words.update(lang.number_words)
        scales.update(lang.scales)
    return Language(
        "*", phrases=tuple(p for lang in languages for p in lang.phrases),
        ambiguous=tuple(p for lang in languages for p in lang.ambiguous),
        armed=tuple(p for lang in languages for p in lang.armed),
        headline=tuple(p for lang in languages for p in lang.headline),
        exclude=tuple(e for lang in languages for e in lang.exclude),
        modifiers=tuple(m for lang in languages for m in lang.modifiers),
        number_words=number_words, scales=scales,
        count_window=max([5, *(lang.count_window for lang in languages)]),
        count_stop=frozenset().union(*(lang.count_stop for lang in languages)),
        count_not_after=frozenset().union(*(lang.count_not_after for lang in languages)),
        count_not_before=frozenset().union(*(lang.count_not_before for lang in languages)))


@dataclass(frozen=True)
class Entity:
    """A watched actor or place."""

    name: str
    kind: str                     # "actor" or "place"
    exact: frozenset[str]         # short aliases (acronyms): exact, case-sensitive
    keys: tuple[str, ...]         # longer aliases, matched fuzzily


@dataclass(frozen=True)
class Watchlist:
    """The watchlist section: names add `weight` each, at most `cap` in total."""

    weight: float = 0.5
    cap: float = 1.5
    threshold: float = 88.0                                  # rapidfuzz ratio on folded names
    exact_below: int = 6                                     # folded names shorter than this match exactly
    folds: tuple[tuple[str, str], ...] = ()                  # transliteration pairs, in order
    entities: tuple[Entity, ...] = ()
