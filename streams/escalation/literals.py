"""Where the phrases of a set may start, proved with literal words before any regex runs.

Each phrase word begins with the literal part of one of its alternatives ("kill" of `kill*`, "air" of
`air_strike`). So a phrase can match only if one literal of its anchor word (the phrase word with the
longest literals) starts a word somewhere in the text, and only where a literal of its first word
does. Most articles hold no anchor of any phrase and are done after one pass over their words.

`literal_index` and `phrase_starts` are the reference of the compiled twins in
streams/_accel/phrases.py (same signatures, same results).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.escalation.phrases import literal_words


@dataclass(frozen=True, eq=False)
class LiteralAnchors:
    """The literals of a phrase set, numbered, and which items (phrases, exclusions) they anchor."""

    literals: tuple[str, ...]                 # lowercase [a-z0-9] word starts
    anchored: tuple[frozenset[int], ...]      # literal -> the items anchored on it
    first_of: tuple[frozenset[int], ...]      # item -> the literals of its first word
    events: frozenset[int]                    # the items that are phrases (not exclusions)


def anchors_of(items: list[tuple[str, Any]], number_words: Mapping[str, int]) -> LiteralAnchors | None:
    """The anchors of (phrase source, meta) items, meta None for an exclusion. None when some phrase has
    no literal to anchor on (`re:` phrases): the regex then scans the whole text."""
    ids: dict[str, int] = {}
    anchored: dict[int, set[int]] = {}
    first_of: list[frozenset[int]] = []
    events = set()
    for i, (source, meta) in enumerate(items):
        words = literal_words(source, number_words)
        if words is None or words[0] is None:
            return None
        usable = [w for w in words if w is not None]
        anchor = max(usable, key=lambda w: (min(map(len, w)), -len(w)))
        for literal in anchor:
            anchored.setdefault(ids.setdefault(literal, len(ids)), set()).add(i)
        first_of.append(frozenset(ids.setdefault(f, len(ids)) for f in words[0]))
        if meta is not None:
            events.add(i)
    return LiteralAnchors(tuple(ids), tuple(frozenset(anchored.get(n, ())) for n in range(len(ids))),
                          tuple(first_of), frozenset(events))


@dataclass(frozen=True, eq=False)
class LiteralIndex:
    anchors: LiteralAnchors
    number: Mapping[str, int]       # literal -> its number
    lengths: tuple[int, ...]        # the lengths of the literals, shortest first


def literal_index(anchors: LiteralAnchors) -> LiteralIndex:
    """What phrase_starts looks literals up in."""
    return LiteralIndex(anchors, {literal: n for n, literal in enumerate(anchors.literals)},
                        tuple(sorted({len(literal) for literal in anchors.literals})))


# The words literals start: runs of [a-z0-9]. Every word start of a phrase regex (after a char that is
# not a word char, or after an elision's apostrophe) and every word after a separator ([\s-]) begins
# one, after a char that is not [a-z0-9].
_LITERAL_RUN = re.compile(r"(?<![a-z0-9])[a-z0-9]+")


def phrase_starts(index: LiteralIndex, padded: str) -> list[int]:
    """Sorted offsets into `padded` (" " + folded text) where a phrase of the set may match: the char
    before a word that a first-word literal of a live phrase starts. A superset of the starts of the
    set's matches; empty when no phrase is live (no anchor literal anywhere: exclusions alone match
    nothing worth finding)."""
    anchors = index.anchors
    hits: list[tuple[int, int]] = []          # (offset of the char before the word, literal)
    for run in _LITERAL_RUN.finditer(padded, 1):
        word = run.group()
        for size in index.lengths:
            if size > len(word):
                break
            literal = index.number.get(word[:size])
            if literal is not None:
                hits.append((run.start() - 1, literal))
    live = {item for _, literal in hits for item in anchors.anchored[literal]}
    if not live & anchors.events:
        return []
    wanted = {literal for item in live for literal in anchors.first_of[item]}
    return sorted({at for at, literal in hits if literal in wanted})
