"""Sentences of a field: where they end, which modifiers reduce a phrase in its sentence, and the
casualty count next to a phrase."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from streams.escalation.model import MAX_CASUALTIES, SEVERITIES, Language, Modifier
from streams.escalation.phrases import fold

if TYPE_CHECKING:
    from streams.escalation.matching import LanguageMatcher, PhraseSet

_RANK = {name: i for i, name in enumerate(SEVERITIES)}

_WORD = re.compile(r"[\w'][\w'\-]*")
_CLAUSE = re.compile(r"[,;]")
_COUNT_WORD = re.compile(r"\d{1,3}(?:[,.\u202f\u00a0]\d{3})+(?!\d)|[\w'][\w'\-]*")  # keeps "1,200" whole
# Titles before names ("Dr. Ashraf Ghani", "Gen. Haftar") do not end a sentence.
_ABBREVIATIONS = ["Dr", "Mr", "Mrs", "Ms", "Gen", "Lt", "Col", "Sgt", "Capt", "Maj", "Gov", "Sen", "Rep",
                  "Prof", "Jr", "St", "Mt", "Adm", "Brig", "Cpl", "Pte", "Pres", "Jan", "Feb", "Mar", "Apr",
                  "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "No", "U.S", "U.N", "U.K"]
# A sentence ends at . ! ? followed by space and a non-lowercase char, or at a line break or "; ".
# The pattern starts with a character class, so the engine skips to candidate chars without trying
# each position; the end test (a space, then no lowercase) comes before the title checks, which are
# grouped by length (one fixed-width lookbehind per length): the same matches as one per title.
_SENTENCE_END = re.compile(r"[.!?;\n](?:(?<=[.!?])(?=[.!?]*[\"'”’»)]*\s+[^a-z\s])"
                           + "".join(rf"(?<!\b(?:{'|'.join(a for a in _ABBREVIATIONS if len(a) == n)})\.)"
                                     for n in sorted({len(a) for a in _ABBREVIATIONS}))
                           + r"[.!?]*[\"'”’»)]*\s+(?=[^a-z\s])|(?<=\n)|(?<=;)\s)")


def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the sentence of `text` holding offset `pos`, as the scorer cuts sentences."""
    start = 0
    for m in _SENTENCE_END.finditer(text, 0, pos + 1):
        if m.end() <= pos:
            start = m.end()
    end_match = _SENTENCE_END.search(text, max(pos, start))
    return start, end_match.end() if end_match is not None else len(text)


class Sentences:
    """Sentence bounds and modifier hits of one field, computed on first use."""

    def __init__(self, text: str, folded: str, padded: str, matcher: LanguageMatcher, *, whole: bool = False) -> None:
        """`whole`: the text is one sentence (a headline: "Militants cross border; hundreds killed")."""
        self.text, self.folded, self.padded, self.matcher = text, folded, padded, matcher
        ends = [] if whole else [m.end() for m in _SENTENCE_END.finditer(text)]
        self.starts = [0, *ends]
        self._mods: dict[int, list[tuple[int, int, str]]] = {}
        self._sets: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._set_starts: dict[int, list[int] | None] = {}

    def _starts(self, phrases: PhraseSet) -> list[int] | None:
        """Where phrases of the set may start in this field (PhraseSet.starts_in), found once."""
        key = id(phrases)
        if key not in self._set_starts:
            self._set_starts[key] = phrases.starts_in(self.padded)
        return self._set_starts[key]

    def bounds(self, pos: int) -> tuple[int, int, int]:
        i = bisect.bisect_right(self.starts, pos) - 1
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return i, self.starts[i], end

    def modifier_factor(self, start: int, end: int, modifiers: Mapping[str, Modifier]) -> tuple[float, str]:
        """The smallest factor of the modifiers that apply to the phrase at start:end, and its name."""
        factor, _, _, which = self.modifier_effect(start, end, modifiers)
        return factor, which

    def modifier_effect(self, start: int, end: int, modifiers: Mapping[str, Modifier],
                        ambiguous: bool = True, own: tuple[str, ...] = ()) -> tuple[float, str | None, str | None, str]:
        """(smallest factor, lowest cap, lowest cap of the modifiers for ambiguous phrases only, the name
        of the modifier that decided) of the modifiers that apply to the phrase at start:end; `ambiguous`
        says whether the phrase is (modifiers for ambiguous phrases only pass the others by); `own`: the
        phrase's own words (own_words), which never modify it ("breaching an agreement to pause fire")."""
        if self.matcher.modifiers.regex is None:
            return 1.0, None, None, ""
        hits = self.modifiers_in(self.bounds(start)[0])
        factor, which = 1.0, ""
        caps: dict[bool, str | None] = {False: None, True: None}
        for h_start, h_end, name in hits:
            mod = modifiers[name]
            if mod.ambiguous_only and not ambiguous:
                continue
            cap = caps[mod.ambiguous_only]
            stronger = mod.factor < factor or (mod.cap is not None and (cap is None or _RANK[mod.cap] < _RANK[cap]))
            if not stronger:
                continue
            if h_end <= start:
                applies = mod.sentence or (_words_between(self.folded, h_end, start) < mod.before
                                           # what drops a phrase ends at a comma: "fires, no water, and bodies"
                                           and not ((mod.factor <= 0 or mod.cap == "none")
                                                    and _CLAUSE.search(self.folded, h_end, start))
                                           # and a negation takes the nearest phrase: "no casualties in the
                                           # rocket attack" negates the casualties, not the attack
                                           and not (mod.factor <= 0 and self._phrase_between(h_end, start)))
            elif h_start >= end:
                applies = mod.sentence or _words_between(self.folded, end, h_start) < mod.after
            elif h_start > start and h_end < end:
                # inside a phrase's gap ("drivers called off a four-day strike"), unless the word
                # starts an event phrase itself ("employees stopped work in a strike")
                applies = not self.matcher.phrases.starts_phrase(self.folded, h_start) \
                    and not _all_own(_WORD.findall(self.folded, h_start, h_end), own)
            else:
                # the modifier overlaps the phrase's own words: it applies where it holds the whole phrase
                # and more ("missile test", "gas explosion"), not where it is part of it
                applies = h_start <= start and h_end >= end and h_end - h_start > end - start
            if applies:
                if mod.factor < factor:
                    factor, which = mod.factor, name
                if mod.cap is not None and (cap is None or _RANK[mod.cap] < _RANK[cap]):
                    caps[mod.ambiguous_only] = mod.cap
                    which = which or name
        return factor, caps[False], caps[True], which

    def modifiers_in(self, i: int) -> list[tuple[int, int, str]]:
        """(start, end, modifier name) of the modifier phrases in sentence i, found once."""
        hits = self._mods.get(i)
        if hits is None:
            s_start = self.starts[i]
            s_end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
            hits = self._mods[i] = list(self.matcher.modifiers.find_all(self.folded, self.padded, s_start, s_end,
                                                                        self._starts(self.matcher.modifiers)))
        return hits

    def dated_before(self, pos: int, year: int) -> bool:
        """Whether the sentence holding `pos` dates what it reports to a year before `year` ("shot down
        a passenger jet in 1980", "the 2018 Bourke Street attack"): that violence is not new. A year
        after "since" ("the deadliest attack since 2014") compares, it does not date."""
        i, s_start, s_end = self.bounds(pos)
        key = (-1, i)
        found = self._sets.get(key)
        if found is None:
            found = self._sets[key] = [(int(m.group(1)), 0) for m in _DATED.finditer(self.folded, s_start, s_end)
                                       if _dates(self.folded, m.start())]
        return any(1900 <= value < year for value, _ in found)

    def _phrase_between(self, a: int, b: int) -> bool:
        starts = self.matcher.phrases.starts_phrase
        return any(starts(self.folded, m.start()) for m in _WORD.finditer(self.folded, a, b))

    def has_other(self, phrases: PhraseSet, start: int, end: int) -> bool:
        """Whether the sentence holding start:end holds a phrase of `phrases` (armed context) outside
        start:end ("missiles" cannot vouch for itself)."""
        if phrases.regex is None:
            return False
        i, s_start, s_end = self.bounds(start)
        key = (id(phrases), i)
        found = self._sets.get(key)
        if found is None:
            # the regex over this one sentence: the literal screen (starts_in) would walk the whole field
            # for the few sentences asked about, and costs more than it saves here
            found = self._sets[key] = phrases.find_context(self.folded, self.padded, s_start, s_end)
        first = _WORD.match(self.folded, start)
        first_end = first.end() if first is not None else end
        last = list(_WORD.finditer(self.folded, start, end))
        last_start = last[-1].start() if last else start
        # outside the phrase, or inside its gap ("death toll in the market bombing rises"): not its own words
        return any(b <= start or a >= end or (a >= first_end and b <= last_start) for a, b in found)

    def count_near(self, start: int, end: int) -> int | None:
        """The casualty count next to a phrase: nearest number within the window, same sentence."""
        lang = self.matcher.lang
        _, s_start, s_end = self.bounds(start)
        window = lang.count_window
        before = [(m.start(), m.group()) for m in _COUNT_WORD.finditer(self.folded, max(s_start, start - 200), start)]
        before = before[-(window + 3):]
        after = [(m.start(), m.group()) for m in _COUNT_WORD.finditer(self.folded, end, min(s_end, end + 200))]
        after = after[:window + 3]
        found: list[tuple[int, int, int]] = []   # (distance, side, value): nearest wins, before on ties
        for side, words, order in ((0, before, range(len(before) - 1, -1, -1)), (1, after, range(len(after)))):
            for distance, idx in enumerate(order):
                if distance >= window or words[idx][1] in lang.count_stop:
                    break  # a stop word ("wounded") owns the numbers beyond it
                value = _number_at(lang, words, idx, after_side=side == 1)
                if value is not None and _not_people(self.text, words[idx][0], words[idx][1]):
                    continue  # "Dancer, 22, killed": an age; "the 2019 killing": a year; "a £900,000 house"
                if value is not None:
                    found.append((distance, side, value))
                    break
        return min(found)[2] if found else None


_YEAR = re.compile(r"(?:1[89]|20)\d\d")
# a year, not after "since"/"depuis" (a comparison: "the deadliest attack since 2014") or "marking" (a
# rally marking 2005's pullout is today's), not a count
# (the words before are checked apart: a pattern that starts with lookbehinds is tried at every position)
_NOT_DATING = ("since ", "depuis ", "marking ", "marks ", "commemorating ")
_DATED = re.compile(r"\b((?:19|20)\d\d)(?:'s|s)?\b(?![,.]\d)"
                    r"(?!\s*(?:people|persons|soldiers|civilians|troops|dead|killed|victims|personnes|morts|soldats))")


_CURRENCY = frozenset("$£€¥₹₽")


def _dates(text: str, pos: int) -> bool:
    """Whether the year at `pos` dates its sentence: not part of a figure ("1,2019"), not after a word
    that compares or commemorates ("since 2014", "marking 2005's pullout")."""
    if pos > 0 and text[pos - 1] in "0123456789,.":
        return False
    before = text[max(0, pos - 14):pos]
    return not before.endswith(_NOT_DATING)


def _not_people(text: str, pos: int, token: str) -> bool:
    """A number that is a person's age, a year or a sum, not a count of people: a four-digit year
    ("the 2019 killing"), an age set off by commas after a name ("Ilona Kaydanov, 22, was killed"), an
    amount ("shot dead in a £900,000 manor house")."""
    if _YEAR.fullmatch(token) or (pos > 0 and text[pos - 1] in _CURRENCY):
        return True
    before, after = text[max(0, pos - 2):pos], text[pos + len(token):pos + len(token) + 1]
    return before == ", " and after == "," and pos >= 3 and text[pos - 3].isalpha()


def _number_at(lang: Language, words: list[tuple[int, str]], idx: int, *, after_side: bool) -> int | None:
    token = words[idx][1]
    value = parse_number(token, lang)
    if value is None or value <= 0 or value > MAX_CASUALTIES:
        return None
    prev = words[idx - 1][1] if idx > 0 else ""
    nxt = words[idx + 1][1] if idx + 1 < len(words) else ""
    if prev in lang.count_not_after or nxt in lang.count_not_before:
        return None
    if after_side and nxt in lang.count_stop:
        return None  # "killing 3 and wounding 20": 20 belongs to "wounding"
    if nxt in lang.scales:
        value *= lang.scales[nxt]
    return value


def parse_number(token: str, lang: Language) -> int | None:
    """A count written in digits ("1,200") or in the language's number words ("twenty-five")."""
    if token[:1].isdigit():
        digits = re.sub(r"[,.\u202f\u00a0 ]", "", token)
        return int(digits) if digits.isdigit() and len(digits) <= 9 else None
    if token in lang.number_words:
        return lang.number_words[token]
    if "-" in token:  # twenty-five, vingt-cinq
        parts = token.split("-")
        if all(p in lang.number_words for p in parts):
            return sum(lang.number_words[p] for p in parts)
    return None


@functools.lru_cache(maxsize=4096)
def own_words(phrase: str) -> tuple[str, ...]:
    """The literal words of a phrase as written in the rules, folded; a word with endings ("kill*",
    "strik{e,es}") as its stem followed by "*"."""
    out = []
    for word in re.split(r"[\s|_]+", fold(phrase)):
        if not word or word[0] == "~" or word == "#":
            continue
        stem = word.split("{", 1)[0].rstrip("*")
        out.append(stem + "*" if stem != word else word)
    return tuple(out)


def _all_own(words: list[str], own: tuple[str, ...]) -> bool:
    return bool(words) and bool(own) and all(
        any(w == o or (o.endswith("*") and w.startswith(o[:-1])) for o in own) for w in words)


def _words_between(text: str, a: int, b: int) -> int:
    return len(_WORD.findall(text, a, b))
