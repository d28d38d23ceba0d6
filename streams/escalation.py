"""Escalation scoring: rules are data (YAML, see docs/rules.md), this module compiles and applies them.

    Rules.load(path)          parse + validate every key (RuleError with file, line, key, reason),
                              compile one alternation regex per language, the watchlist index
    Rules.score(normed)       -> Escalation(severity, score, categories, casualties, matches)

Scoring, in one pass per field (title, body):
  1. the language regex finds phrases (and exclusions, which win at the same position and are dropped);
  2. each phrase gets its category weight, times the title factor, times the smallest factor of the
     modifiers (negation, hedging, drill, ...) found in its window of the same sentence;
  3. phrases of counting categories look for a number within a few words: the largest is `casualties`;
  4. watchlist names (actors, places) are matched fuzzily on transliteration-folded text; they add a
     capped amount that can never reach `medium` on its own.
A category contributes its best match plus a share per further match, capped; casualty counts add a
bonus; the total against the thresholds gives the severity.

Pure Python: no Kafka or Faust here. Never raises on odd input.
"""

from __future__ import annotations

import bisect
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numba import njit
from rapidfuzz import fuzz, process
from rapidfuzz.distance import LCSseq

from connectors.errors import RuleError

log = logging.getLogger(__name__)

SEVERITIES = ("none", "low", "medium", "high", "critical")
DEFAULT_RULES = Path(__file__).resolve().parent.parent / "seeds" / "rules" / "escalation.yaml"

# Length-preserving fold (one char -> one char) so offsets into the folded text are offsets into the
# original: accents off, typographic quotes and dashes to ASCII. Patterns are folded the same way.
def _fold_table() -> dict[int, str]:
    table = {}
    for code in range(0xC0, 0x250):  # Latin-1 Supplement, Latin Extended-A/B
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base != chr(code) and base.isascii():
            table[code] = base.lower()
    table.update({ord(c): "'" for c in "’‘ʼ`´"})
    table.update({ord(c): "-" for c in "–—‐‑"})
    table.update({ord("ı"): "i", ord("ł"): "l", ord("đ"): "d", ord("ø"): "o"})
    return table


_FOLD = _fold_table()
_NON_ASCII = re.compile(r"[^\x00-\x7f]")

_WORD = re.compile(r"[\w'][\w'\-]*")
_COUNT_WORD = re.compile(r"\d{1,3}(?:[,.\u202f\u00a0]\d{3})+(?!\d)|[\w'][\w'\-]*")  # keeps "1,200" whole
# A sentence ends at . ! ? followed by space and a non-lowercase char, or at a line break.
# Written to start with a character class: the engine then skips to candidate chars in C (3x faster).
# Titles before names ("Dr. Ashraf Ghani", "Gen. Haftar") do not end a sentence.
_ABBREVIATIONS = ["Dr", "Mr", "Mrs", "Ms", "Gen", "Lt", "Col", "Sgt", "Capt", "Maj", "Gov", "Sen", "Rep",
                  "Prof", "Jr", "St", "Mt", "Adm", "Brig", "Cpl", "Pte", "Pres"]
# The end test (a space, then no lowercase) runs before the title checks, which are grouped by length
# (one fixed-width lookbehind per length): the same matches as one lookbehind per title, 25 % faster.
_SENTENCE_END = re.compile(r"[.!?;\n](?:(?<=[.!?])(?=[.!?]*[\"'”’»)]*\s+[^a-z\s])"
                           + "".join(rf"(?<!\b(?:{'|'.join(a for a in _ABBREVIATIONS if len(a) == n)})\.)"
                                     for n in sorted({len(a) for a in _ABBREVIATIONS}))
                           + r"[.!?]*[\"'”’»)]*\s+(?=[^a-z\s])|(?<=\n)|(?<=;)\s)")
# between the words of a phrase: spaces or hyphens, then perhaps a French elision ("l'expulsion de
# l'ambassadeur" is expuls* ~4 ambassadeur*)
_ELISION = r"(?:(?:[ldjmnstc]|qu)')?"
_SEP = r"[\s\-]+" + _ELISION
# The char before a phrase's first word: not a word char or an apostrophe ("don't" holds no word "t"),
# except the apostrophe of a French elision ("l'attaque", "d'affrontements", "qu'une", "lorsqu'il").
_WORD_START = r"(?:[^\w']|'(?<=(?<![\w'])[ldjmnstc]')|'(?<=qu'))"
_PHRASE_END = r"(?!\w|-\w)"   # "flood" does not match in "flood-control"
# a word in a phrase's gap (~N); a number with thousands separators ("4,000 soldiers") is one word
_GAP_WORD = r"(?:(?:\d{1,3}(?:[,.\u202f\u00a0]\d{3})+|[\w'][\w'\-]*),?[\s\-]+)"
_DIGITS = r"\d{1,3}(?:[,.\u202f\u00a0 ]\d{3})+(?!\d)|\d+"
MAX_TITLE_CHARS = 1_000
MAX_CASUALTIES = 10_000_000


def fold(text: str) -> str:
    """Lowercase + accent fold, same length as `text` (required: offsets must stay valid)."""
    low = text.lower()
    if len(low) != len(text):  # e.g. 'İ' lowercases to two chars: fold char by char instead
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if low.isascii():
        return low
    return _NON_ASCII.sub(_fold_char, low)  # sub beats str.translate: few chars to map in most texts


def _fold_char(m: re.Match[str]) -> str:
    return _FOLD.get(ord(m.group()), m.group())


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


# --------------------------------------------------------------------------------------------------
# Loading: YAML nodes keep their marks, so every error names file and line.


class _Doc:
    """Validating reader over a composed YAML node tree of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise RuleError(f"cannot read rule file: {exc.strerror or exc}", file=str(path)) from exc
        except UnicodeDecodeError as exc:
            raise RuleError("rule file is not UTF-8", file=str(path)) from exc
        try:
            self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise RuleError(f"YAML syntax: {exc.problem}", file=str(path), line=line) from exc
        except yaml.YAMLError as exc:
            raise RuleError(f"YAML: {exc}", file=str(path)) from exc
        if self.root is None:
            raise RuleError("empty rule file", file=str(path), line=1)

    def error(self, node: yaml.Node | None, key: str, reason: str) -> RuleError:
        line = node.start_mark.line + 1 if node is not None else None
        return RuleError(reason, file=str(self.path), line=line, key=key or None)

    def mapping(self, node: yaml.Node, key: str, allowed: set[str],
                required: set[str] = frozenset()) -> dict[str, yaml.Node]:  # type: ignore[assignment]
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, key, "expected a mapping")
        out: dict[str, yaml.Node] = {}
        for k_node, v_node in node.value:
            name = self.scalar(k_node, key)
            path = f"{key}.{name}" if key else name
            if allowed and name not in allowed:
                raise self.error(k_node, path, f"unknown key {name!r} (allowed: {', '.join(sorted(allowed))})")
            if name in out:
                raise self.error(k_node, path, f"duplicate key {name!r}")
            out[name] = v_node
        missing = sorted(set(required) - set(out))
        if missing:
            raise self.error(node, key, f"missing required key {missing[0]!r}")
        return out

    def free_mapping(self, node: yaml.Node, key: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """A mapping whose keys are names chosen by the author (categories, words)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, key, "expected a mapping")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k_node, v_node in node.value:
            name = self.scalar(k_node, key)
            if name in out:
                raise self.error(k_node, f"{key}.{name}", f"duplicate key {name!r}")
            out[name] = (k_node, v_node)
        return out

    def scalar(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.error(node, key, "expected a single value")
        return str(node.value)

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node, key).strip()
        if not value:
            raise self.error(node, key, "empty string")
        return value

    def number(self, node: yaml.Node, key: str, *, lo: float = 0.0, hi: float = 1e9) -> float:
        raw = self.scalar(node, key)
        try:
            value = float(raw)
        except ValueError:
            raise self.error(node, key, f"expected a number, got {raw!r}") from None
        if not lo <= value <= hi:
            raise self.error(node, key, f"{value:g} is outside [{lo:g}, {hi:g}]")
        return value

    def integer(self, node: yaml.Node, key: str, *, lo: int = 0, hi: int = 1_000_000_000) -> int:
        raw = self.scalar(node, key)
        if not re.fullmatch(r"-?\d+", raw.strip()):
            raise self.error(node, key, f"expected an integer, got {raw!r}")
        value = int(raw)
        if not lo <= value <= hi:
            raise self.error(node, key, f"{value} is outside [{lo}, {hi}]")
        return value

    def strings(self, node: yaml.Node, key: str) -> list[tuple[str, yaml.Node]]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, key, "expected a list")
        return [(self.string(item, f"{key}[{i}]"), item) for i, item in enumerate(node.value)]

    def boolean(self, node: yaml.Node, key: str) -> bool:
        raw = self.scalar(node, key).lower()
        if raw not in ("true", "false"):
            raise self.error(node, key, f"expected true or false, got {raw!r}")
        return raw == "true"


@dataclass(frozen=True)
class Category:
    name: str
    weight: float
    counts: bool        # its phrases look for a casualty count nearby
    description: str


@dataclass(frozen=True)
class Modifier:
    name: str
    factor: float
    before: int          # words before the phrase, same sentence
    after: int           # words after the phrase, same sentence
    sentence: bool       # anywhere in the sentence


@dataclass
class _Language:
    """What one language file contributes before compilation."""

    code: str
    phrases: list[tuple[str, str, str]] = field(default_factory=list)   # (category, source, regex)
    exclude: list[tuple[str, str]] = field(default_factory=list)         # (source, regex)
    modifiers: list[tuple[str, str]] = field(default_factory=list)       # (modifier, regex)
    number_words: dict[str, int] = field(default_factory=dict)
    scales: dict[str, int] = field(default_factory=dict)
    count_window: int = 5
    count_stop: set[str] = field(default_factory=set)
    count_not_after: set[str] = field(default_factory=set)    # "in 2014", "March 17": not counts
    count_not_before: set[str] = field(default_factory=set)   # "17 km", "17 years": not counts


@dataclass
class _Entity:
    name: str
    kind: str
    exact: frozenset[str]         # short aliases (acronyms): exact, case-sensitive
    keys: list[str]               # folded aliases without spaces, for rapidfuzz


_PHRASE_TOKEN = re.compile(r"^[\w'\-{},|*_.&]+$")


def compile_phrase(source: str, number_words: Mapping[str, int] | None = None, *,
                   first: str | None = None) -> str:
    """Turn an analyst's phrase into a regex (see docs/rules.md).

    `word`       the word (case and accents ignored)        `kill*`     any ending: kill, killed, killing
    `a|b|c`      one of these words                          `strik{e,es,ing}|struck`  endings in braces
    `air_strike` optional space or hyphen: airstrike, air strike, air-strike
    `~3`         up to three other words in between         `#`         a number (digits or words)
    `re:...`     a raw regular expression (on lowercase, accent-folded text)
    """
    source = source.strip()
    if source.startswith("re:"):
        return f"(?:{source[3:].strip()})"
    tokens = fold(source).split()
    if not tokens:
        raise ValueError("empty phrase")
    if _is_gap(tokens[0]) or _is_gap(tokens[-1]):
        raise ValueError("a phrase cannot start or end with a gap (~N)")
    out: list[str] = []
    pending_gap = ""
    for i, tok in enumerate(tokens):
        if _is_gap(tok):
            if pending_gap:
                raise ValueError("two gaps in a row")
            pending_gap = f"{_GAP_WORD}{{0,{int(tok[1:])}}}"
            continue
        if i == 0 and first is not None:
            piece = first
        else:
            piece = _number_regex(number_words or {}) if tok == "#" else _token_regex(tok)
        out.append((_SEP + (pending_gap + _ELISION if pending_gap else "") if out else "") + piece)
        pending_gap = ""
    return "(?:" + "".join(out) + ")"


def dispatch_phrase(source: str, number_words: Mapping[str, int] | None = None,
                    depth: int = 3) -> list[tuple[str, str]]:
    """Split a phrase by the literal prefix (up to `depth` chars) of its first word: [(prefix, rest regex)].

    The scanner nests the prefixes as a trie of literal chars, which the regex engine checks before
    entering a branch: a word start costs a few char compares instead of one try per phrase.
    A phrase without a literal first character comes back as [("", full regex)].
    """
    source = source.strip()
    tokens = fold(source).split() if not source.startswith("re:") else []
    if not tokens:
        return [("", compile_phrase(source, number_words))]
    if tokens[0] == "#":
        return [(prefix, compile_phrase(source, number_words, first=rest))
                for prefix, rest in _number_dispatch(number_words or {}, depth)]
    by_prefix: dict[str, list[str]] = {}
    for alt in tokens[0].split("|"):
        n = 0
        while n < min(depth, len(alt)) and (alt[n].isalnum() or alt[n] in "'.&"):
            n += 1
        if n == 0:
            return [("", compile_phrase(source, number_words))]
        by_prefix.setdefault(alt[:n], []).append(_alt_regex(alt[n:], tokens[0]) if len(alt) > n else "")
    return [(prefix, compile_phrase(source, number_words, first="(?:" + "|".join(rests) + ")"))
            for prefix, rests in by_prefix.items()]


def _number_dispatch(number_words: Mapping[str, int], depth: int) -> list[tuple[str, str]]:
    """`#` split by literal prefix: each digit, and each number word (same language as _number_regex)."""
    words = sorted(number_words, key=len, reverse=True)
    word_alt = "|".join(re.escape(w) for w in words)
    more_words = f"(?:[\\s\\-]+(?:{word_alt}))*" if words else ""
    digit_rest = r"(?:\d{0,2}(?:[,.\u202f\u00a0 ]\d{3})+(?!\d)|\d*)"
    out = [(str(d), digit_rest) for d in range(10)]
    by_prefix: dict[str, list[str]] = {}
    for w in words:
        n = 0
        while n < min(depth, len(w)) and (w[n].isalnum() or w[n] in "'.&"):
            n += 1
        if n == 0:
            return [("", _number_regex(number_words))]
        by_prefix.setdefault(w[:n], []).append(re.escape(w[n:]))
    out += [(prefix, "(?:" + "|".join(rests) + ")" + more_words) for prefix, rests in by_prefix.items()]
    return out


def _is_gap(tok: str) -> bool:
    if tok.startswith("~"):
        if not re.fullmatch(r"~\d{1,2}", tok):
            raise ValueError(f"bad gap {tok!r}: write ~N with N a number of words")
        return True
    return False


def _token_regex(tok: str) -> str:
    if not _PHRASE_TOKEN.match(tok):
        raise ValueError(f"unsupported character in {tok!r} (use re: for a raw regex)")
    alts = []
    for alt in tok.split("|"):
        if not alt:
            raise ValueError(f"empty alternative in {tok!r}")
        alts.append(_alt_regex(alt, tok))
    return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"


def _alt_regex(alt: str, tok: str) -> str:
    out = []
    i = 0
    while i < len(alt):
        c = alt[i]
        if c == "{":
            j = alt.find("}", i)
            if j < 0:
                raise ValueError(f"unclosed brace in {tok!r}")
            options = alt[i + 1:j].split(",")
            out.append("(?:" + "|".join(re.escape(o) for o in options) + ")")
            i = j + 1
            continue
        if c == "}":
            raise ValueError(f"unopened brace in {tok!r}")
        if c == "*":
            if i != len(alt) - 1:
                raise ValueError(f"* only at the end of a word in {tok!r}")
            out.append(r"[\w'\-]*")
        elif c in "_-":
            out.append(r"[\s\-]?")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _number_regex(number_words: Mapping[str, int]) -> str:
    words = sorted(number_words, key=len, reverse=True)
    word_alt = "|".join(re.escape(w) for w in words)
    return f"(?:{_DIGITS}" + (f"|(?:{word_alt})(?:[\\s\\-]+(?:{word_alt}))*" if words else "") + ")"


def _load_language(doc: _Doc, root: dict[str, yaml.Node], categories: Mapping[str, Category],
                   modifiers: Mapping[str, Modifier], lang: _Language) -> None:
    target: dict[str, int] | set[str]  # numbers: word -> value; casualty_counts: a set of words
    if "numbers" in root:
        nums = doc.mapping(root["numbers"], "numbers", {"words", "scales"})
        for part, target in (("words", lang.number_words), ("scales", lang.scales)):
            if part in nums:
                for word, (_k, v_node) in doc.free_mapping(nums[part], f"numbers.{part}").items():
                    target[fold(word)] = doc.integer(v_node, f"numbers.{part}.{word}", lo=0, hi=MAX_CASUALTIES)
    if "phrases" in root:
        for cat, (k_node, v_node) in doc.free_mapping(root["phrases"], "phrases").items():
            if cat not in categories:
                raise doc.error(k_node, f"phrases.{cat}",
                                f"unknown category {cat!r}: declare it under categories in the main file")
            for i, (phrase, node) in enumerate(doc.strings(v_node, f"phrases.{cat}")):
                lang.phrases.append((cat, phrase, _checked(doc, node, f"phrases.{cat}[{i}]", phrase, lang)))
    if "exclude" in root:
        for i, (phrase, node) in enumerate(doc.strings(root["exclude"], "exclude")):
            lang.exclude.append((phrase, _checked(doc, node, f"exclude[{i}]", phrase, lang)))
    if "modifiers" in root:
        for name, (k_node, v_node) in doc.free_mapping(root["modifiers"], "modifiers").items():
            if name not in modifiers:
                raise doc.error(k_node, f"modifiers.{name}",
                                f"unknown modifier {name!r}: declare it under modifiers in the main file")
            for i, (phrase, node) in enumerate(doc.strings(v_node, f"modifiers.{name}")):
                _checked(doc, node, f"modifiers.{name}[{i}]", phrase, lang)
                lang.modifiers.append((name, phrase))
    if "casualty_counts" in root:
        key = "casualty_counts"
        cc = doc.mapping(root[key], key, {"window", "stop", "not_after", "not_before"})
        if "window" in cc:
            lang.count_window = doc.integer(cc["window"], f"{key}.window", lo=1, hi=20)
        for part, target in (("stop", lang.count_stop), ("not_after", lang.count_not_after),
                             ("not_before", lang.count_not_before)):
            if part in cc:
                target.update(fold(w) for w, _ in doc.strings(cc[part], f"{key}.{part}"))


def _checked(doc: _Doc, node: yaml.Node, key: str, phrase: str, lang: _Language) -> str:
    try:
        regex = compile_phrase(phrase, lang.number_words)
        compiled = re.compile(regex)
    except (ValueError, re.error) as exc:
        raise doc.error(node, key, f"bad phrase {phrase!r}: {exc}") from None
    if compiled.match(""):
        raise doc.error(node, key, f"phrase {phrase!r} matches the empty string")
    return regex


# --------------------------------------------------------------------------------------------------


class _PhraseSet:
    """Many phrases as one regex: a trie of literal prefixes (checked by the engine before entering a
    branch), unnamed groups inside (named groups cost the engine its fast literal checks, about 2x).

    `find` yields (start, end, meta) in text order; which phrase matched is found afterwards by
    re-trying, at the match start only, the few phrases of that prefix in the order the big regex
    tried them, so the answer is the phrase the regex chose.
    """

    def __init__(self, items: list[tuple[str, Any]], number_words: Mapping[str, int]) -> None:
        buckets: dict[str, list[str]] = {}
        self._candidates: dict[str, list[tuple[re.Pattern[str], Any]]] = {}
        for source, meta in items:
            for prefix, regex in dispatch_phrase(source, number_words):
                buckets.setdefault(prefix, []).append(f"(?:{regex})")
                anchored = re.compile(re.escape(prefix) + f"(?:{regex}){_PHRASE_END}")
                self._candidates.setdefault(prefix, []).append((anchored, meta))
        self._depth = max((len(k) for k in buckets), default=0)
        # The regex runs on " " + text and starts with the char before the word (instead of a lookbehind):
        # a pattern led by a character class lets the engine skip in C to the next word boundary, and a
        # match start in the padded text is the word start in the original.
        self.regex = re.compile(_WORD_START + "(?:" + _trie(buckets, "") + ")" + _PHRASE_END) if buckets else None
        self._scanner = _Scanner.build(items, number_words) if self.regex is not None else None

    def find(self, text: str, padded: str, start: int = 0,
             end: int | None = None) -> Iterator[tuple[int, int, Any]]:
        """Matches in `text` (folded); `padded` is " " + text."""
        if self.regex is None:
            return
        for m in self.regex.finditer(padded, start, (len(text) if end is None else end) + 1):
            m_start, m_end = m.span()
            yield m_start, m_end - 1, self._which(text, m_start, m_end - 1)

    def field_starts(self, paddeds: list[str]) -> list[list[int]] | None:
        """_Scanner.starts of each padded field, from one compiled pass over them joined (a kernel call
        costs ~2 µs): each starts with a space, where the literal walk stops, so the literals found are
        those of the fields, and the anchors found in any field make its phrases live in all - starts a
        superset of each field's own, which find_events may be given (same matches, see there). None
        when there is one field or less, or no scanner (find_events then finds its own)."""
        if self._scanner is None or len(paddeds) < 2:
            return None
        try:
            starts = self._scanner.starts("".join(paddeds))
        except Exception:  # the compiled kernel failed to load or run: scan with the regex from now on
            log.exception("phrase prefilter failed; falling back to the regex scan")
            self._scanner = None
            return None
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

        The same matches, cheaper: a phrase needs its anchor word (the most specific of its words) in
        the text, so most articles are done after one compiled pass over the text (_Scanner); otherwise
        the regex is tried only where the first word of a phrase that may match starts, in text order,
        each try resuming after the last match - exactly the matches finditer finds, from any sorted
        superset of those starts (`starts`, when given: field_starts).
        """
        scanner = self._scanner
        if starts is None and scanner is not None:
            try:
                starts = scanner.starts(padded)
            except Exception:  # the compiled kernel failed to load or run: scan with the regex from now on
                log.exception("phrase prefilter failed; falling back to the regex scan")
                self._scanner = None
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

    def find_all(self, text: str, padded: str, start: int, end: int) -> Iterator[tuple[int, int, Any]]:
        """Every phrase matching at a start the regex finds (a word may be in several lists)."""
        if self.regex is None:
            return
        for m in self.regex.finditer(padded, start, end + 1):
            m_start = m.start()
            head = text[m_start:m_start + self._depth]
            for n in range(len(head), -1, -1):
                for anchored, meta in self._candidates.get(head[:n], ()):
                    hit = anchored.match(text, m_start, end)
                    if hit is not None:
                        yield m_start, hit.end(), meta

    def starts_phrase(self, text: str, start: int) -> bool:
        """Does a (non-exclusion) phrase match at `start`?"""
        head = text[start:start + self._depth]
        for n in range(len(head), -1, -1):
            for anchored, meta in self._candidates.get(head[:n], ()):
                if meta is not None and anchored.match(text, start) is not None:
                    return True
        return False

    def _which(self, text: str, start: int, end: int) -> Any:
        head = text[start:start + self._depth]
        for n in range(len(head), -1, -1):
            for anchored, meta in self._candidates.get(head[:n], ()):
                hit = anchored.match(text, start)
                if hit is not None and hit.end() == end:
                    return meta
        return None


_SCAN_BYTES = bytes(c if 48 <= c <= 57 or 97 <= c <= 122 else 32 for c in range(256))  # [a-z0-9] kept
_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _literal_start(alternative: str) -> str:
    """The leading [a-z0-9] chars of an alternative: what every match of it starts with."""
    n = 0
    while n < len(alternative) and alternative[n] in _LITERAL_CHARS:
        n += 1
    return alternative[:n]


class _Scanner:
    r"""Where phrases may start, proved with literal words (no regex pass over the text).

    The text is scanned as bytes where every char but [a-z0-9] is a space (non-ASCII chars too, via
    "?"): every word start of the regex (after a [^\w'] char or an elision's apostrophe) and every word
    after a phrase separator ([\s-]) is then after a space, and each phrase word begins with the literal
    part of one of its alternatives ("kill" of `kill*`, "air" of `air_strike`). So a phrase can match
    only if one literal of its anchor word starts a word somewhere (anchor: the phrase word with the
    longest literals), and only where one literal of its first word does. A compiled walk of a trie of
    the literals from each word start (numba) finds both.
    """

    def __init__(self, literals: list[str], anchored: list[frozenset[int]], first_of: list[frozenset[int]],
                 events: frozenset[int]) -> None:
        child = [[-1] * 36]
        ends = [-1]
        for number, literal in enumerate(literals):
            node = 0
            for ch in literal:
                code = ord(ch) - 48 if ch <= "9" else ord(ch) - 87
                if child[node][code] < 0:
                    child[node][code] = len(child)
                    child.append([-1] * 36)
                    ends.append(-1)
                node = child[node][code]
            ends[node] = number
        self.tables = (
            np.array(child, dtype=np.int32).ravel(),                            # node * 36 + char -> node
            np.array(ends, dtype=np.int32),                                      # node -> literal ending there
            *_csr([sorted(a) for a in anchored]),                                # anchor literal -> its items
            *_csr([sorted(f) for f in first_of]),                                # item -> first-word literals
            np.array([i in events for i in range(len(first_of))], dtype=np.bool_),  # item is a phrase
        )

    @classmethod
    def build(cls, items: list[tuple[str, Any]], number_words: Mapping[str, int]) -> _Scanner | None:
        """None when some phrase has no literal to anchor on (`re:` phrases): the regex scans then."""
        ids: dict[str, int] = {}
        anchored: dict[int, set[int]] = {}
        first_of: list[frozenset[int]] = []
        events = set()
        for i, (source, meta) in enumerate(items):
            words = _literal_words(source, number_words)
            if words is None or words[0] is None:
                return None
            usable = [w for w in words if w is not None]
            anchor = max(usable, key=lambda w: (min(map(len, w)), -len(w)))
            for literal in anchor:
                anchored.setdefault(ids.setdefault(literal, len(ids)), set()).add(i)
            first_of.append(frozenset(ids.setdefault(f, len(ids)) for f in words[0]))
            if meta is not None:
                events.add(i)
        return cls(list(ids), [frozenset(anchored.get(n, ())) for n in range(len(ids))], first_of,
                   frozenset(events))

    def starts(self, padded: str) -> list[int]:
        """Sorted offsets into `padded` where the phrase regex may match (a superset of its matches)."""
        scan = np.frombuffer(padded.encode("ascii", "replace").translate(_SCAN_BYTES), dtype=np.uint8)
        return _phrase_starts(scan, *self.tables).tolist()


def _csr(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ints as (offsets, values): row r is values[offsets[r]:offsets[r + 1]]."""
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    offsets[1:] = np.cumsum([len(r) for r in rows])
    return offsets, np.array([v for r in rows for v in r], dtype=np.int32)


@njit(cache=True, nogil=True)
def _phrase_starts(scan: np.ndarray, child: np.ndarray, ends: np.ndarray, anchor_at: np.ndarray,
                   anchor_items: np.ndarray, first_at: np.ndarray, first_lits: np.ndarray,
                   events: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """_Scanner.starts: walk the literal trie from every word start (a byte after a space), keeping
    (space offset, literal) per literal reached; the items anchored by a literal found are live; no
    live phrase -> nothing; else the offsets where a first-word literal of a live item starts."""
    n = len(scan)
    hit_at = np.empty(n, dtype=np.int64)
    hit_lit = np.empty(n, dtype=np.int32)
    hits = 0
    i = 1
    while i < n:
        if scan[i] == 32 or scan[i - 1] != 32:
            i += 1
            continue
        node = 0
        j = i
        while j < n:
            c = scan[j]
            if c == 32:
                break
            node = child[node * 36 + (c - 48 if c <= 57 else c - 87)]
            if node < 0:
                break
            lit = ends[node]
            if lit >= 0:
                hit_at[hits] = i - 1
                hit_lit[hits] = lit
                hits += 1
            j += 1
        i = j + 1
    n_items = len(first_at) - 1
    live = np.zeros(n_items, dtype=np.bool_)
    any_event = False
    for h in range(hits):
        lit = hit_lit[h]
        for k in range(anchor_at[lit], anchor_at[lit + 1]):
            item = anchor_items[k]
            live[item] = True
            if events[item]:
                any_event = True
    out = np.empty(hits, dtype=np.int64)
    if not any_event:
        return out[:0]
    wanted = np.zeros(len(anchor_at) - 1, dtype=np.bool_)
    for item in range(n_items):
        if live[item]:
            for k in range(first_at[item], first_at[item + 1]):
                wanted[first_lits[k]] = True
    count = 0
    for h in range(hits):
        if wanted[hit_lit[h]] and (count == 0 or out[count - 1] != hit_at[h]):
            out[count] = hit_at[h]
            count += 1
    return out[:count]


# Bytes of ASCII text: 1 = may precede no run start ([\w'] in the lookbehind of Rules._name_words),
# 2 = continues a run ([\w'\-]); 4 = starts a run ([A-Z]).
_RUN_BYTES = np.zeros(256, dtype=np.uint8)
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_'":
    _RUN_BYTES[_c] |= 3
_RUN_BYTES[ord("-")] |= 2
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _RUN_BYTES[_c] |= 4
# Non-ASCII chars are scanned as one byte of their class (_run_byte): 0x80 capital word char, 0x81 a
# capital of _NAME_START that is not a word char ("×"), 0x82 another word char ("é", "’"), 0x83 other.
_RUN_BYTES[0x80], _RUN_BYTES[0x81], _RUN_BYTES[0x82], _RUN_BYTES[0x83] = 7, 4, 3, 0
_RUN_CLASS: dict[str, int] = {}
_RUN_WORD = re.compile(r"[\w'’\-]")


def _run_byte(char: str) -> int:
    code = _RUN_CLASS.get(char)
    if code is None:
        start, word = _NAME_FIRST.match(char) is not None, _RUN_WORD.match(char) is not None
        code = _RUN_CLASS[char] = 0x80 if start and word else 0x81 if start else 0x82 if word else 0x83
    return code


_HASH_MASK = (1 << 48) - 1


@njit(cache=True, nogil=True)
def _capital_runs(text: np.ndarray, table: np.ndarray, slots: np.ndarray, offsets: np.ndarray,
                  pool: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    r"""The matches of Rules._name_words in ASCII text, as flat (start, end) pairs: a capital not after
    a [\w'] byte, then every [\w'-] byte after it (finditer: a run resumes the search at its end).
    Runs whose bytes are a word of the _WordTable (slots, offsets, pool) are left out (exact compare)."""
    n = len(text)
    out = np.empty(2 * n, dtype=np.int32)  # a run per char at most ("××": a capital that ends its run)
    count = 0
    i = 0
    while i < n:
        if table[text[i]] & 4 and (i == 0 or not table[text[i - 1]] & 1):
            j = i + 1
            while j < n and table[text[j]] & 2:
                j += 1
            if _table_find(text, i, j, slots, offsets, pool) < 0:
                out[count] = i
                out[count + 1] = j
                count += 2
            i = j
        else:
            i += 1
    return out[:count]


@njit(cache=True, nogil=True)
def _table_add(word: np.ndarray, slots: np.ndarray, offsets: np.ndarray, pool: np.ndarray,
               meta: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Add `word` (bytes, not in the table yet) to the _WordTable; False when full."""
    entries, used = meta[0], meta[1]
    if entries + 1 >= len(offsets) - 1 or used + len(word) > len(pool) or 2 * (entries + 1) > len(slots):
        return False
    h = np.int64(word[0])
    for c in word[1:]:
        h = (h * 31 + c) & _HASH_MASK
    mask = len(slots) - 1
    slot = h & mask
    while slots[slot] != 0:
        slot = (slot + 1) & mask
    pool[used:used + len(word)] = word
    offsets[entries + 1] = used + len(word)
    slots[slot] = entries + 1
    meta[0] = entries + 1
    meta[1] = used + len(word)
    return True


class _WordTable:
    """ASCII words known not to start a name, as arrays the compiled run pass looks words up in:
    open addressing (`slots`: entry + 1, 0 = empty) over words stored back to back in `pool`
    (entry e is pool[offsets[e]:offsets[e + 1]]). A subset of Rules._no_start: when full, words are
    left to the set."""

    def __init__(self, slots: int = 1 << 17, entries: int = 60_000, pool: int = 1 << 20) -> None:
        self.slots = np.zeros(slots, dtype=np.int32)
        self.offsets = np.zeros(entries + 1, dtype=np.int32)
        self.pool = np.zeros(pool, dtype=np.uint8)
        self.meta = np.zeros(2, dtype=np.int64)   # entries, pool bytes used

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.slots, self.offsets, self.pool

    def add(self, word: str) -> None:
        if word.isascii():
            _table_add(np.frombuffer(word.encode("ascii"), dtype=np.uint8), self.slots, self.offsets,
                       self.pool, self.meta)

    def clear(self) -> None:
        self.slots[:] = 0
        self.meta[:] = 0


_EMPTY_TABLE = _WordTable(slots=1, entries=1, pool=1)


# ---- the watchlist screen: the name tests of Rules._watchlist for plain ASCII words, compiled -----------
# Most capitalised words never start a name, and most that may start one ("Blair" in a bucket) are
# followed by words that take every n-gram out of reach. Deciding that in Python costs a name key, a
# bucket test and LCS bounds per new word (~4 µs) and a _best_name call per candidate run (~5 µs); the
# compiled screen below decides both inside the capitalised-word pass and hands Python only the runs
# it cannot rule out. Name keys are fixed replacements (lowercase, Arabic article, [a-z0-9] only, the
# rules' folds in order, repeats, vowels), so they are computed on bytes exactly as _name_key does.


@njit(cache=True, nogil=True)
def _table_find(text: np.ndarray, i: int, j: int, slots: np.ndarray, offsets: np.ndarray,
                pool: np.ndarray) -> int:  # pragma: no cover - compiled
    """Entry of the _WordTable holding text[i:j] (same hash as _table_add), -1 if none."""
    h = np.int64(text[i])
    for k in range(i + 1, j):
        h = (h * 31 + text[k]) & _HASH_MASK
    mask = len(slots) - 1
    slot = h & mask
    while slots[slot] != 0:
        entry = slots[slot] - 1
        a = offsets[entry]
        if offsets[entry + 1] - a == j - i:
            same = True
            for k in range(j - i):
                if pool[a + k] != text[i + k]:
                    same = False
                    break
            if same:
                return entry
        slot = (slot + 1) & mask
    return -1


@njit(cache=True, nogil=True)
def _is_word_byte(c: int) -> bool:  # pragma: no cover - compiled
    return 97 <= c <= 122 or 48 <= c <= 57 or c == 95   # \w on lowercase ASCII


@njit(cache=True, nogil=True)
def _word_key(text: np.ndarray, i: int, j: int, fold_at: np.ndarray, fold_pool: np.ndarray,
              key: np.ndarray) -> int:  # pragma: no cover - compiled
    """_name_key(text[i:j])[0] for ASCII bytes, written to key[:length] (len(key) >= j - i); returns
    the length. Folds are replaced in place: none makes a key longer (_WatchScreen checks)."""
    n = j - i
    marks = False
    for k in range(n):
        c = text[i + k]
        if 65 <= c <= 90:
            c += 32
        key[k] = c
        if c == 45 or c == 39:
            marks = True
    start = 0
    if marks:  # _ARTICLE: ^(?:a[lnrstdz]|el|ash)[-'](?=\w)
        if n >= 4 and key[2] in (45, 39) and _is_word_byte(key[3]) and (
                key[0] == 97 and key[1] in (108, 110, 114, 115, 116, 100, 122) or key[0] == 101 and key[1] == 108):
            start = 3   # al-, an-, ..., el-
        elif n >= 5 and key[0] == 97 and key[1] == 115 and key[2] == 104 and key[3] in (45, 39) \
                and _is_word_byte(key[4]):
            start = 4
    m = 0
    present = 0   # bit (c - 97) for each letter c of the key: folds whose first letter is absent are skipped
    for k in range(start, n):
        c = key[k]
        if 97 <= c <= 122 or 48 <= c <= 57:
            key[m] = c
            m += 1
            if c >= 97:
                present |= 1 << (c - 97)
    for f in range(0, len(fold_at) - 2, 2):  # str.replace(src, dst), left to right, in place (dst <= src)
        src, end = fold_at[f], fold_at[f + 1]
        size, dst_size = end - src, fold_at[f + 2] - end
        first = fold_pool[src]
        if not present & (1 << (first - 97)):
            continue
        for k in range(dst_size):
            present |= 1 << (fold_pool[end + k] - 97)
        r = w = 0
        while r < m:
            hit = key[r] == first and r + size <= m
            if hit:
                for k in range(size):
                    if key[r + k] != fold_pool[src + k]:
                        hit = False
                        break
            if hit:
                for k in range(dst_size):
                    key[w + k] = fold_pool[end + k]
                w += dst_size
                r += size
            else:
                key[w] = key[r]
                w += 1
                r += 1
        m = w
    if m > 1:  # _REPEATS: each run of one char -> the char
        w = 1
        for k in range(1, m):
            if key[k] != key[w - 1]:
                key[w] = key[k]
                w += 1
        m = w
    return m


@njit(cache=True, nogil=True)
def _skeleton_head(key: np.ndarray, m: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """(length of the skeleton of key[:m], bucket code of its first two chars or -1): the skeleton is
    the key without vowels (aeiouy), or the key itself when that leaves nothing."""
    consonants = 0
    code = 0
    for k in range(m):
        c = key[k]
        if c not in (97, 101, 105, 111, 117, 121):
            if consonants < 2:
                code = code * 36 + (c - 48 if c <= 57 else c - 87)
            consonants += 1
    if consonants == 0:
        consonants = m
        code = 0
        for k in range(min(m, 2)):
            c = key[k]
            code = code * 36 + (c - 48 if c <= 57 else c - 87)
    return consonants, code if consonants >= 2 else -1


@njit(cache=True, nogil=True)
def _lcs_extend(state: np.ndarray, key: np.ndarray, m: int, lo: int, hi: int,
                masks: np.ndarray) -> None:  # pragma: no cover - compiled
    """Append key[:m] to the n-gram whose LCS with each bucket key t in lo..hi is tracked bit-parallel in
    state[t - lo] (Allison-Dix / Hyyro: masks[t * 36 + char] has bit s set where key t has that char
    at s; a zero bit of the state is a char of key t in the LCS)."""
    for t in range(lo, hi):
        v = state[t - lo]
        for q in range(m):
            c = key[q]
            u = v & masks[t * 36 + (c - 48 if c <= 57 else c - 87)]
            v = (v + u) | (v - u)
        state[t - lo] = v


@njit(cache=True, nogil=True)
def _lcs_of(v: np.uint64, size: int) -> int:  # pragma: no cover - compiled
    """LCS length held in a state of _lcs_extend for a key of `size` (< 64) chars: its zero bits."""
    x = ~v & ((np.uint64(1) << np.uint64(size)) - np.uint64(1))
    count = 0
    while x:
        x &= x - np.uint64(1)
        count += 1
    return count


@njit(cache=True, nogil=True)
def _verdict(text: np.ndarray, i: int, j: int, fold_at: np.ndarray, fold_pool: np.ndarray,
             bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray, masks: np.ndarray,
             threshold: float, key: np.ndarray, state: np.ndarray) -> int:  # pragma: no cover - compiled
    """What _watchlist decides for the plain word text[i:j] (not an exact alias): 2 a skeleton of one
    char (the next words decide), 0 no bucket or no n-gram can reach the threshold (the bound of
    Rules._may_reach), 1 it may start a name. `key`, `state`: scratch (see _screen_runs)."""
    m = _word_key(text, i, j, fold_at, fold_pool, key)
    size, code = _skeleton_head(key, m)
    if size < 2:
        return 2
    bucket = bucket_of[code]
    if bucket < 0:
        return 0
    lo, hi = bucket_at[bucket], bucket_at[bucket + 1]
    state[:hi - lo] = ~np.uint64(0)
    _lcs_extend(state, key, m, lo, hi, masks)
    for t in range(lo, hi):
        k_size = key_at[t + 1] - key_at[t]
        if 200.0 * k_size >= (threshold - 1e-6) * (m + 2 * k_size - _lcs_of(state[t - lo], k_size)):
            return 1
    return 0


@njit(cache=True, nogil=True)
def _may_name(text: np.ndarray, i: int, j: int, classes: np.ndarray, fold_at: np.ndarray,
              fold_pool: np.ndarray, bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray,
              masks: np.ndarray, longest: np.ndarray, threshold: float, max_tail: int, key: np.ndarray,
              joined_key: np.ndarray, state: np.ndarray) -> bool:  # pragma: no cover - compiled
    """Can _best_name find a hit for the n-grams from the run text[i:j] (verdict 1 or 2) and the words
    after it? False only when its loop provably ends without one; True when it may (or a word is not
    plain ASCII). A head of one skeleton char (verdict 2) needs the next words for its bucket, as in
    _best_name: _watchlist's pair test (`On Monday`) only ever leaves out runs that end so."""
    n = len(text)
    joined = 0
    skeleton = 0      # skeleton chars so far, up to 2
    code = 0          # their bucket code (as _skeleton_head)
    bucket = lo = hi = -1
    a, at = i, j
    for word in range(max_tail + 1):
        if word:  # the next word of the _name_tail: one space, then [\w'’-]+
            if at + 1 >= n or text[at] != 32 or not classes[text[at + 1]] & 2:
                return False
            a = at = at + 1
            while at < n and classes[text[at]] & 2:
                if text[at] >= 128:
                    return True  # not plain: Python decides
                at += 1
        m = _word_key(text, a, at, fold_at, fold_pool, key)
        if bucket < 0:
            joined_key[joined:joined + m] = key[:m]
            joined += m
            vowels_only = True
            for k in range(m):
                if key[k] not in (97, 101, 105, 111, 117, 121):
                    vowels_only = False
                    break
            for k in range(m):  # the word's skeleton: its consonants, or the key if it has none
                c = key[k]
                if skeleton < 2 and (vowels_only or c not in (97, 101, 105, 111, 117, 121)):
                    code = code * 36 + (c - 48 if c <= 57 else c - 87)
                    skeleton += 1
            if skeleton < 2:
                continue
            bucket = bucket_of[code]
            if bucket < 0:
                return False
            lo, hi = bucket_at[bucket], bucket_at[bucket + 1]
            state[:hi - lo] = ~np.uint64(0)
            _lcs_extend(state, joined_key, joined, lo, hi, masks)
        else:
            _lcs_extend(state, key, m, lo, hi, masks)
            joined += m
        if joined > longest[bucket]:
            return False
        reachable = False
        for t in range(lo, hi):
            k_size = key_at[t + 1] - key_at[t]
            lcs = _lcs_of(state[t - lo], k_size)
            if joined + k_size == 0 or 200.0 * lcs >= (threshold - 0.01) * (joined + k_size):
                return True
            if 200.0 * k_size >= (threshold - 1e-6) * (joined + 2 * k_size - lcs):
                reachable = True
        if not reachable:
            return False
    return False


@njit(cache=True, nogil=True)
def _verdict_slot(cells: np.ndarray, text: np.ndarray, i: int, j: int) -> tuple[np.int64, np.uint64, np.uint64]:
    # pragma: no cover - compiled
    """Where the word text[i:j] (at most 15 bytes) is, or would go, in a _VerdictTable: (slot, its two
    cells). A word is its bytes packed little-endian in the cells, the length and the verdict + 1 in the
    top byte of the second (never 0: 0, 0 is an empty slot), so a look-up reads one cache line."""
    w0 = np.uint64(0)
    w1 = np.uint64(j - i) << np.uint64(60)
    for k in range(j - i):
        if k < 8:
            w0 |= np.uint64(text[i + k]) << np.uint64(8 * k)
        else:
            w1 |= np.uint64(text[i + k]) << np.uint64(8 * (k - 8))
    h = w0 * np.uint64(0x9E3779B97F4A7C15) + w1 * np.uint64(0xC2B2AE3D27D4EB4F)
    h ^= h >> np.uint64(29)
    mask = len(cells) // 2 - 1
    slot = np.int64(h & np.uint64(mask))
    top = np.uint64(0xF0) << np.uint64(56)      # the length nibble; the verdict nibble below it is not compared
    low = ~(np.uint64(0xFF) << np.uint64(56))
    while True:
        a, b = cells[2 * slot], cells[2 * slot + 1]
        if (a == 0 and b == 0) or (a == w0 and (b & low) == (w1 & low) and (b & top) == (w1 & top)):
            return slot, w0, w1
        slot = (slot + 1) & mask


@njit(cache=True)  # holds the GIL: it writes the verdict table, which threads scoring at once share
def _screen_runs(text: np.ndarray, classes: np.ndarray, cells: np.ndarray, used: np.ndarray, ex_slots: np.ndarray,
                 ex_offsets: np.ndarray, ex_pool: np.ndarray, fold_at: np.ndarray, fold_pool: np.ndarray,
                 bucket_of: np.ndarray, bucket_at: np.ndarray, key_at: np.ndarray, masks: np.ndarray,
                 longest: np.ndarray, threshold: float, max_tail: int) -> np.ndarray:  # pragma: no cover
    r"""The runs of _capital_runs (flat (start, end) pairs) that Rules._watchlist may still match.

    Left out: plain runs (ASCII, no hyphen) that cannot start a name - verdict 0 as in _watchlist: no
    bucket, or no n-gram from the word can reach the threshold - and plain runs that may (verdict 1,
    or 2: one skeleton char) but whose n-grams, with the words that follow them (the _name_tail), all
    end as _best_name ends them without a hit (_may_name). Kept: exact aliases (verdict 3), runs with
    a hyphen or a non-ASCII char, and runs that may match. Verdicts of words up to 15 bytes are kept in
    a _VerdictTable (cells, used); longer words, or words past half its size, are decided again."""
    n = len(text)
    out = np.empty(2 * n, dtype=np.int32)
    key = np.empty(n, dtype=np.uint8)                               # scratch: any word of the text fits
    joined_key = np.empty(n, dtype=np.uint8)                        # scratch: so does any n-gram
    state = np.empty(max(1, len(key_at) - 1), dtype=np.uint64)       # scratch: one LCS state per key
    count = 0
    i = 0
    while i < n:
        if not (classes[text[i]] & 4 and (i == 0 or not classes[text[i - 1]] & 1)):
            i += 1
            continue
        j = i + 1
        plain = text[i] < 128
        while j < n and classes[text[j]] & 2:
            if text[j] >= 128 or text[j] == 45:
                plain = False
            j += 1
        keep = not plain
        if plain:
            verdict: int | np.int64  # -1 (not decided yet), or 0-3; read back from the table as np.int64
            slot: int | np.int64  # -1 (the word is not in the table), or _verdict_slot's slot
            verdict = slot = -1
            w0 = w1 = np.uint64(0)
            if j - i <= 15:
                slot, w0, w1 = _verdict_slot(cells, text, i, j)
                if cells[2 * slot + 1]:
                    verdict = np.int64((cells[2 * slot + 1] >> np.uint64(56)) & np.uint64(15)) - 1
            if verdict < 0:
                if _table_find(text, i, j, ex_slots, ex_offsets, ex_pool) >= 0:
                    verdict = 3
                else:
                    verdict = _verdict(text, i, j, fold_at, fold_pool, bucket_of, bucket_at, key_at, masks,
                                       threshold, key, state)
                if slot >= 0 and 2 * used[0] < len(cells) // 2:  # at most half full: probes stay short
                    cells[2 * slot] = w0
                    cells[2 * slot + 1] = w1 | (np.uint64(verdict + 1) << np.uint64(56))
                    used[0] += 1
            if verdict == 3:
                keep = True
            elif verdict:
                keep = _may_name(text, i, j, classes, fold_at, fold_pool, bucket_of, bucket_at, key_at,
                                 masks, longest, threshold, max_tail, key, joined_key, state)
        if keep:
            out[count] = i
            out[count + 1] = j
            count += 2
        i = j
    return out[:count]


class _WatchScreen:
    """The watchlist index as the arrays _screen_runs decides with, and its table of word verdicts."""

    def __init__(self, index: Mapping[str, tuple[list[str], list[_Entity]]], exact: Mapping[str, _Entity],
                 folds: list[tuple[str, str]], lengths: Mapping[str, tuple[frozenset[int], int]],
                 threshold: float, max_tail: int) -> None:
        self.verdicts = _VerdictTable()
        plain = [alias for alias in exact if alias.isascii()]
        self.exact = _WordTable(slots=1 << max(3, (4 * len(plain) + 4).bit_length()), entries=len(plain) + 2,
                                pool=sum(map(len, plain)) + 1)
        for alias in plain:
            self.exact.add(alias)
        fold_at, fold_pool = [0], b""
        for src, dst in folds:
            fold_pool += src.encode("ascii")
            fold_at.append(len(fold_pool))
            fold_pool += dst.encode("ascii")
            fold_at.append(len(fold_pool))
        self.folds = (np.array(fold_at, dtype=np.int32), np.frombuffer(fold_pool or b"\0", dtype=np.uint8).copy())
        bucket_of = np.full(36 * 36, -1, dtype=np.int32)
        longest: list[int]
        bucket_at, key_at, masks, longest = [0], [0], [], []
        for prefix, (keys, _) in index.items():
            if len(prefix) != 2:
                continue  # a one-char skeleton: never the bucket of an n-gram of two consonants or more
            bucket_of[int(prefix[0], 36) * 36 + int(prefix[1], 36)] = len(longest)  # as _skeleton_head
            for k in keys:
                key_at.append(key_at[-1] + len(k))
                masks += _key_mask_row(k)
            bucket_at.append(len(key_at) - 1)
            longest.append(lengths[prefix][1])
        self.index = (bucket_of, np.array(bucket_at, dtype=np.int32), np.array(key_at, dtype=np.int32),
                      np.array(masks or [0], dtype=np.uint64), np.array(longest or [0], dtype=np.int64))
        self.threshold = float(threshold)
        self.max_tail = int(max_tail)

    def runs(self, scan: np.ndarray) -> list[int]:
        """_screen_runs over `scan` (see _run_scan): flat (start, end) pairs."""
        table = self.verdicts
        if table.used[0] > table.limit:
            table.clear()  # bounded like the other watchlist caches
        return _screen_runs(scan, _RUN_BYTES, table.cells, table.used, *self.exact.arrays, *self.folds,
                            *self.index, self.threshold, self.max_tail).tolist()


def _key_mask_row(key: str) -> list[int]:
    """The bit-parallel LCS masks of a name key (chars 0-9a-z): per char, the bits of its positions."""
    row = [0] * 36
    for bit, ch in enumerate(key):
        row[int(ch, 36)] |= 1 << bit
    return row


class _VerdictTable:
    """Word -> _screen_runs verdict, for words of up to 15 bytes: open addressing over slots of two
    uint64 cells holding the word itself (see _verdict_slot), 16 bytes a slot, so that a look-up in a
    cold CPU cache (the replay: other stages run between articles) costs one memory read, not the three
    of a _WordTable (slots, offsets, pool). Cleared past `limit` words, like the other caches."""

    def __init__(self, slots: int = 1 << 17, limit: int = 50_000) -> None:
        self.cells = np.zeros(2 * slots, dtype=np.uint64)
        self.used = np.zeros(1, dtype=np.int64)
        self.limit = min(limit, slots // 2 - 1)

    def clear(self) -> None:
        self.cells[:] = 0
        self.used[:] = 0


def _run_scan(text: str) -> np.ndarray:
    """`text` as bytes for the capitalised-word passes: ASCII as is, each non-ASCII char as the byte of
    its class (_run_byte), so offsets stay char offsets."""
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    data = bytearray(text.encode("ascii", "replace"))
    for m in _NON_ASCII.finditer(text):
        data[m.start()] = _run_byte(m.group())
    return np.frombuffer(data, dtype=np.uint8)


def _literal_words(source: str, number_words: Mapping[str, int]) -> list[frozenset[str] | None] | None:
    """Per word of a phrase (gaps left out): the literal starts of its alternatives, lowercase [a-z0-9]
    (None for a word without one: a number after the first word may be in any script's digits, an
    alternative may start with a brace). None for a `re:` phrase."""
    source = source.strip()
    if source.startswith("re:"):
        return None
    out: list[frozenset[str] | None] = []
    for k, token in enumerate(t for t in fold(source).split() if not _is_gap(t)):
        if token == "#":
            if k:
                out.append(None)
                continue
            alternatives = [str(d) for d in range(10)] + list(number_words)  # as _number_dispatch
        else:
            alternatives = token.split("|")
        literals = frozenset(_literal_start(a) for a in alternatives)
        out.append(None if "" in literals else literals)
    return out


@dataclass
class _Compiled:
    """One language, ready to scan."""

    phrases: _PhraseSet           # meta: (category, phrase) or None for an exclusion
    modifiers: _PhraseSet         # meta: modifier name
    lang: _Language


class Rules:
    def __init__(self, *, version: str, thresholds: dict[str, float], categories: dict[str, Category],
                 modifiers: dict[str, Modifier], languages: dict[str, _Language],
                 scoring: dict[str, float], casualty_bonus: list[tuple[int, float]],
                 entities: list[_Entity], watchlist: dict[str, Any], default_language: str,
                 files: list[str]) -> None:
        self.version = version
        self.thresholds = thresholds
        self.categories = categories
        self.modifiers = modifiers
        self.scoring = scoring
        self.casualty_bonus = casualty_bonus
        self.default_language = default_language
        self.files = files
        self.languages = sorted(languages)
        self._languages = languages
        self._compiled = {code: _compile_language(lang) for code, lang in languages.items()}
        if len(languages) > 1:
            self._compiled["*"] = _compile_language(_merge_languages(languages.values()))
        self._entities = entities
        self._watch = watchlist
        self._watch_index = _entity_index(entities, watchlist["folds"])
        # Runs: each capitalised word start and its word (the capital and the [\w'’-]* after it). The class
        # comes first so the engine skips lowercase text in C; the lookbehind then checks the word start.
        # A word start after a hyphen inside such a word ("Anti-American") is a run of its own (_nested_runs).
        self._name_words = re.compile(_NAME_START + r"(?<![\w'’].)[\w'’\-]*")
        self._runs_compiled = True  # _capital_runs finds them in ASCII text (False: it failed, regex only)
        # The words after a capitalised word that may start a name (matched at the end of that word).
        self._name_tail = re.compile(r"(?: [\w'’\-]+){0," + str(self._watch_index[2] - 1) + "}")
        self._fold_cache: dict[str, tuple[str, str]] = {}   # word -> name key; bounded in _watchlist
        self._next_word = re.compile(r" [\w'’\-]+")
        self._may_start: dict[str, int] = {}                # capitalised word(s) -> can they start a name
        self._no_start: set[str] = set()                    # the words of _may_start that cannot (0)
        self._known_words = _WordTable()                    # no_start's ASCII words, for _capital_runs
        self._run_cache: dict[str, Any] = {}                # run text -> _best_name result; bounded
        self._step_cache: dict[str, Any] = {}               # bucket + n-gram key -> (fuzzy hit, reachable)
        # per bucket: the joined-key lengths that can reach the threshold with one of its keys, and the
        # longest (fuzz.ratio <= 200 * min(len) / sum(len): longer n-grams only drift further away)
        self._watch_lengths = _compatible_lengths(self._watch_index[0], float(watchlist["threshold"]))
        # the compiled screen of the runs (None: it failed, or a fold lengthens keys, which _word_key does
        # not do in place: every run then goes through the Python tests)
        self._screen: _WatchScreen | None = _WatchScreen(
            self._watch_index[0], self._watch_index[1], watchlist["folds"], self._watch_lengths,
            float(watchlist["threshold"]), self._watch_index[2] - 1) \
            if all(len(dst) <= len(src) for src, dst in watchlist["folds"]) \
            and all(len(k) < 64 for keys, _ in self._watch_index[0].values() for k in keys) else None

    @staticmethod
    def _can_start(words: str, index: dict[str, Any], exact: Mapping[str, _Entity],
                   folds: list[tuple[str, str]], cache: dict[str, Any]) -> int:
        """Can an n-gram starting with `words` (one or two words) match? The first test of _best_name:
        0 no (its skeleton's first two consonants name no bucket), 1 yes, 2 not known before the next word.
        """
        if not words[0].isupper():
            return 0
        if words in exact:
            return 1
        skeleton = ""
        for word in words.split(" "):
            key = cache.get(word)
            if key is None:
                key = cache[word] = _name_key(word, folds)
            skeleton += key[1]
        if len(skeleton) < 2:
            return 2 if " " not in words else 1
        return 1 if skeleton[:2] in index else 0

    @staticmethod
    def _may_reach(word: str, index: dict[str, tuple[list[str], list[_Entity]]], threshold: float,
                   cache: dict[str, Any]) -> bool:
        """Can an n-gram starting with `word` (its skeleton names a bucket) reach the threshold?

        The n-gram's key is A + R (A: the word's key, R: whatever follows). For a key K of the bucket,
        LCS(A + R, K) <= min(|K|, LCS(A, K) + |R|), so fuzz.ratio = 200 LCS / (|A| + |R| + |K|) is at
        most 200 |K| / (|A| + 2 |K| - LCS(A, K)) (the best |R| is |K| - LCS(A, K)). Below the
        threshold for every key: no name starts here, whatever the next words.
        """
        key, skeleton = cache[word]
        return _reachable(key, index[skeleton[:2]][0], threshold)

    def _best_name(self, words: list[str], index: dict[str, tuple[list[str], list[_Entity]]],
                   threshold: float, folds: list[tuple[str, str]],
                   cache: dict[str, Any]) -> tuple[float, int, _Entity] | None:
        """Best watchlist entity for the n-grams starting at words[0]: (similarity, last word, entity)."""
        joined, skeleton = "", ""
        best: tuple[float, int, _Entity] | None = None
        steps = self._step_cache
        if len(steps) > 50_000:
            steps.clear()
        for j, w in enumerate(words):
            key = cache.get(w)
            if key is None:
                key = cache[w] = _name_key(w, folds)
            joined += key[0]
            skeleton += key[1]
            if len(skeleton) < 2:
                continue
            bucket = index.get(skeleton[:2])
            if bucket is None:
                break  # the skeleton prefix is fixed now: longer n-grams cannot match either
            lengths, longest = self._watch_lengths[skeleton[:2]]
            if len(joined) > longest:
                break  # too long for every key of the bucket, and longer n-grams are longer still
            # (the fuzzy hit of this n-gram, can a longer one reach the threshold): a function of the
            # bucket and `joined` alone, cached (the first words of a run recur: "Blair", "Blair said")
            step_key = skeleton[:2] + joined
            step = steps.get(step_key)
            if step is None:
                hit = process.extractOne(joined, bucket[0], scorer=fuzz.ratio, score_cutoff=threshold) \
                    if len(joined) in lengths else None  # no key of a length that could reach the threshold
                step = steps[step_key] = (hit, _reachable(joined, bucket[0], threshold))
            hit = step[0]
            if hit is not None and (best is None or hit[1] > best[0]):
                best = (hit[1], j, bucket[1][hit[2]])
            if not step[1]:
                break  # no longer n-gram can reach the threshold (the bound of _may_reach, on `joined`)
        return best

    # ---- loading ---------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES) -> Rules:
        """Load and validate a rule file (and the files it includes); RuleError names file and line."""
        main_path = Path(path)
        doc = _Doc(main_path)
        top = doc.mapping(doc.root, "", {"version", "thresholds", "scoring", "casualty_bonus", "categories",
                                         "modifiers", "default_language", "include", "language",
                                         "numbers", "phrases", "exclude", "casualty_counts", "watchlist"},
                          {"version", "thresholds", "categories"})
        version = doc.string(top["version"], "version")
        thresholds = _thresholds(doc, top["thresholds"])
        scoring = _scoring(doc, top.get("scoring"))
        casualty_bonus = _casualty_bonus(doc, top.get("casualty_bonus"))
        categories = _categories(doc, top["categories"])
        modifiers = _modifiers(doc, top.get("modifiers"))
        default_language = doc.string(top["default_language"], "default_language") \
            if "default_language" in top else "en"
        languages: dict[str, _Language] = {}
        entities: list[_Entity] = []
        watch: dict[str, Any] = {"weight": 0.5, "cap": 1.5, "threshold": 88.0, "folds": []}
        files = [str(main_path)]
        parts: list[tuple[_Doc, dict[str, yaml.Node]]] = [(doc, top)]
        if "include" in top:
            for name, node in doc.strings(top["include"], "include"):
                sub_path = (main_path.parent / name)
                if not sub_path.is_file():
                    raise doc.error(node, "include", f"included file {name!r} not found")
                sub = _Doc(sub_path)
                sub_top = sub.mapping(sub.root, "", {"language", "numbers", "phrases", "exclude", "modifiers",
                                                     "casualty_counts", "watchlist"})
                parts.append((sub, sub_top))
                files.append(str(sub_path))
        for part_doc, part in parts:
            language_keys = {"numbers", "phrases", "exclude", "modifiers", "casualty_counts"} & set(part)
            if part is top:
                language_keys.discard("modifiers")  # the main file's modifiers are the declarations
            if language_keys:
                if "language" not in part:
                    key = sorted(language_keys)[0]
                    raise part_doc.error(part[key], key, "phrases need a `language:` (ISO 639-1) in this file")
                code = part_doc.string(part["language"], "language").lower()
                if not re.fullmatch(r"[a-z]{2}", code):
                    raise part_doc.error(part["language"], "language", f"{code!r} is not an ISO 639-1 code")
                lang = languages.setdefault(code, _Language(code))
                sub_root = {k: part[k] for k in language_keys}
                _load_language(part_doc, sub_root, categories, modifiers, lang)
            if "watchlist" in part:
                _watchlist(part_doc, part["watchlist"], watch, entities)
        if not languages:
            raise doc.error(doc.root, "", "no phrases: no file declares a `language:` with phrases")
        if default_language not in languages:
            raise doc.error(top.get("default_language"), "default_language",
                            f"no phrases for default language {default_language!r}")
        if watch["cap"] >= thresholds["medium"]:
            raise doc.error(top.get("thresholds"), "watchlist.cap",
                            "the watchlist cap must stay below the medium threshold: "
                            "names alone must not make an article medium")
        return cls(version=version, thresholds=thresholds, categories=categories, modifiers=modifiers,
                   languages=languages, scoring=scoring, casualty_bonus=casualty_bonus, entities=entities,
                   watchlist=watch, default_language=default_language, files=files)

    # ---- scoring ---------------------------------------------------------------------------------

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
        compiled = self._compiled.get(language if isinstance(language, str) else "") or \
            self._compiled.get("*") or self._compiled[self.default_language]
        max_chars = int(self.scoring["max_chars"])
        fields = (("title", title[:MAX_TITLE_CHARS], self.scoring["title_factor"]),
                  (body_field, body[:max_chars], 1.0))

        matches: list[dict[str, Any]] = []
        casualties: int | None = None
        scanned = [(field_name, text, field_factor, " " + fold(text)) for field_name, text, field_factor in fields
                   if text]
        starts = compiled.phrases.field_starts([padded for *_, padded in scanned])
        for k, (field_name, text, field_factor, padded) in enumerate(scanned):
            for match, count in self._scan(compiled, text, field_name, field_factor, padded,
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

        watch_matches = self._watchlist(fields) if self._entities else []
        if watch_matches:
            entities = {m["entity"] for m in watch_matches}
            total += min(self._watch["cap"], self._watch["weight"] * len(entities))
            matches.extend(watch_matches)

        categories = sorted(contributions, key=lambda c: (-contributions[c], c))
        return Escalation(severity=self._severity(total), score=round(total, 2), categories=categories,
                          casualties=casualties, matches=matches)

    def _severity(self, total: float) -> str:
        for name in SEVERITIES[:0:-1]:
            if total >= self.thresholds[name]:
                return name
        return "none"

    def _scan(self, compiled: _Compiled, text: str, field_name: str, field_factor: float, padded: str,
              starts: list[int] | None = None) -> Iterator[tuple[dict[str, Any], int | None]]:
        """Phrase matches of one field; `padded` is " " + fold(text), `starts` from _PhraseSet.field_starts."""
        folded = padded[1:]
        sentences: _Sentences | None = None
        for start, end, meta in compiled.phrases.find_events(folded, padded, starts):
            # (exclusions such as "heart attack", "strike a deal" are consumed there, not yielded)
            category, phrase = meta
            cat = self.categories[category]
            if sentences is None:
                sentences = _Sentences(text, folded, padded, compiled)
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

    @staticmethod
    def _nested_runs(start: int, word: str) -> list[tuple[int, str]]:
        """The run at `start` and those inside its hyphenated word: "American" in "Anti-American"."""
        out = [(start, word)]
        for i in range(1, len(word)):
            if word[i - 1] == "-" and _NAME_FIRST.match(word, i):
                out.append((start + i, word[i:]))
        return out

    def _runs(self, text: str, no_start: set[str], known: _WordTable = _EMPTY_TABLE) -> list[tuple[int, str]]:
        """(start, word) of the matches of _name_words in `text` not in `no_start`, from a compiled pass
        (_capital_runs) that already leaves out the words of `known` (a subset of `no_start`; its words
        are ASCII, a run with a non-ASCII char is never one of them), or from the regex if the kernel
        fails (logged once)."""
        if self._runs_compiled:
            try:
                bounds = _capital_runs(_run_scan(text), _RUN_BYTES, *known.arrays).tolist()
            except Exception:  # the compiled kernel failed to load or run: the regex from now on
                log.exception("capitalised-word pass failed; falling back to the regex")
                self._runs_compiled = False
            else:
                return [(a, w) for a, b in zip(bounds[::2], bounds[1::2], strict=True)
                        if (w := text[a:b]) not in no_start]
        return [(m.start(), w) for m in self._name_words.finditer(text) if (w := m[0]) not in no_start]

    def _screened_runs(self, fields: tuple[tuple[str, str, float], ...], no_start: set[str],
                       known: _WordTable) -> list[list[tuple[int, str]]]:
        """Per field, the runs of _runs that _watchlist may match: those _screen_runs cannot rule out (a
        word that cannot start a name, a run whose n-grams all miss); all of _runs if the screen fails
        (logged). The fields are screened in one pass, joined by line breaks: no run, and no n-gram of
        the _name_tail (words one space apart), reaches over one (a kernel call costs ~2 µs)."""
        screen = self._screen
        if screen is not None:
            whole = "\n".join(text for _, text, _ in fields)
            try:
                bounds = screen.runs(_run_scan(whole))
            except Exception:  # the compiled kernel failed to load or run: the Python tests from now on
                log.exception("watchlist screen failed; falling back to the capitalised-word pass")
                self._screen = None
            else:
                out: list[list[tuple[int, str]]] = []
                at = k = 0
                for _, text, _ in fields:
                    end = at + len(text)
                    runs = []
                    while k < len(bounds) and bounds[k] < end:
                        if (w := whole[bounds[k]:bounds[k + 1]]) not in no_start:
                            runs.append((bounds[k] - at, w))
                        k += 2
                    out.append(runs)
                    at = end + 1
                return out
        return [self._runs(text, no_start, known) for _, text, _ in fields]

    def _watchlist(self, fields: tuple[tuple[str, str, float], ...]) -> list[dict[str, Any]]:
        """Fuzzy actor/place names: n-grams starting at a capitalised word, folded, vs alias keys.

        Candidates are bucketed by the first two consonants of their skeleton, so rapidfuzz only
        compares names that already sound alike ("Boukamal" and "Abu Kamal" are both "bk...").
        """
        index, exact, max_tokens = self._watch_index
        threshold = self._watch["threshold"]
        folds = self._watch["folds"]
        cache = self._fold_cache
        if len(cache) > 50_000:
            cache.clear()
        found: list[dict[str, Any]] = []
        may_start = self._may_start
        if len(may_start) > 50_000:
            may_start.clear()
            self._no_start.clear()
            self._known_words.clear()
        tail = self._name_tail
        next_word = self._next_word
        no_start = self._no_start
        known = self._known_words
        run_cache = self._run_cache
        if len(run_cache) > 50_000:
            run_cache.clear()
        for (field_name, text, _), runs in zip(fields, self._screened_runs(fields, no_start, known), strict=True):
            covered = 0
            # Most capitalised words cannot start a name: they are dropped by one set look-up each (words
            # with a hyphen are never in `no_start`: a run may start inside them, "Anti-Blair").
            for run_start, head in runs:
                for start, word in self._nested_runs(run_start, head) if "-" in head else ((run_start, head),):
                    if start < covered:
                        continue  # inside a name already found: "Hezbollah" in "Kataeb Hezbollah"
                    ok = may_start.get(word)
                    if ok is None:
                        ok = self._can_start(word, index, exact, folds, cache)
                        if ok == 1 and word not in exact and not self._may_reach(word, index, threshold, cache):
                            ok = 0  # no n-gram starting with it can reach the threshold: as good as no bucket
                        may_start[word] = ok
                        if not ok and "-" not in word:
                            no_start.add(word)
                            known.add(word)
                    if not ok:
                        continue
                    if ok == 2:  # "On", "Al": the bucket depends on the next word ("On Monday": none)
                        nxt = next_word.match(text, start + len(word))
                        if nxt is not None:
                            pair = word + nxt.group()
                            ok = may_start.get(pair)
                            if ok is None:
                                ok = may_start[pair] = self._can_start(pair, index, exact, folds, cache)
                            if not ok:
                                continue
                    if word in exact:
                        found.append(_watch_match(word, exact[word], field_name, start, start + len(word)))
                        covered = start + len(word)
                        continue
                    # _name_tail matches the empty string too: its match() is never None
                    run_text = word + tail.match(text, start + len(word)).group()  # type: ignore[union-attr]
                    words = run_text.split(" ")
                    best = run_cache.get(run_text, False)
                    if best is False:
                        best = run_cache[run_text] = self._best_name(words, index, threshold, folds, cache)
                    if best is not None:
                        end = start + sum(len(w) + 1 for w in words[:best[1] + 1]) - 1
                        m = _watch_match(text[start:end], best[2], field_name, start, end)
                        m["similarity"] = round(best[0], 1)
                        found.append(m)
                        covered = end
        return found


def _reachable(key: str, keys: list[str], threshold: float) -> bool:
    """Can key + R reach the threshold with one of `keys`, for some R (maybe empty)? See _may_reach."""
    a = len(key)
    for k in keys:
        size = len(k)
        if 200.0 * size >= (threshold - 1e-6) * (a + 2 * size - LCSseq.similarity(key, k)):
            return True
    return False


def _watch_match(term: str, entity: _Entity, field_name: str, start: int, end: int) -> dict[str, Any]:
    return {"term": term, "category": "watchlist", "field": field_name, "start": start, "end": end,
            "entity": entity.name, "kind": entity.kind}


_VOWELS = str.maketrans("", "", "aeiouy")
_ARTICLE = re.compile(r"^(?:a[lnrstdz]|el|ash)[-'](?=\w)")  # Arabic article: "al-Bukamal" ~ "Bukamal"
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9]")
_REPEATS = re.compile(r"(.)\1+")
_NAME_START = r"[A-Z\u00C0-\u00DE\u0100-\u024F\u0391-\u03A9\u0410-\u042F]"   # a capital (names start with one)
_NAME_FIRST = re.compile(_NAME_START)


def _first_of_group(m: re.Match[str]) -> str:
    return m.group(1)


def _name_key(word: str, folds: list[tuple[str, str]]) -> tuple[str, str]:
    """(folded key, consonant skeleton): 'Hachd' -> ('hashd', 'hshd'), 'Kata'ib' -> ('kataib', 'ktb')."""
    key = fold(word)
    if "-" in key or "'" in key:
        key = _ARTICLE.sub("", key)
    if not (key.isalnum() and key.isascii()):   # most words are [a-z0-9] already
        key = _NOT_KEY_CHAR.sub("", key)
    for a, b in folds:
        key = key.replace(a, b)
    if _REPEATS.search(key) is not None:
        key = _REPEATS.sub(_first_of_group, key)
    return key, key.translate(_VOWELS) or key


def _entity_index(entities: list[_Entity],
                  folds: list[tuple[str, str]]) -> tuple[dict[str, tuple[list[str], list[_Entity]]],
                                                          dict[str, _Entity], int]:
    """Alias keys bucketed by the first two consonants of their skeleton (filter before rapidfuzz)."""
    index: dict[str, tuple[list[str], list[_Entity]]] = {}
    exact: dict[str, _Entity] = {}
    max_tokens = 1
    for entity in entities:
        for alias in entity.exact:
            exact[alias] = entity
        for alias in entity.keys:
            words = alias.split()
            max_tokens = max(max_tokens, len(words))
            key = "".join(_name_key(w, folds)[0] for w in words)
            skeleton = key.translate(_VOWELS) or key
            keys, owners = index.setdefault(skeleton[:2], ([], []))
            keys.append(key)
            owners.append(entity)
    return index, exact, max_tokens + 1


def _compatible_lengths(index: Mapping[str, tuple[list[str], list[_Entity]]],
                       threshold: float) -> dict[str, tuple[frozenset[int], int]]:
    """Per bucket: the lengths L of a joined key whose fuzz.ratio with some key of the bucket can reach
    `threshold` (ratio = 200 * LCS / (L + k) <= 200 * min(L, k) / (L + k)), and the largest such L."""
    out = {}
    for prefix, (keys, _) in index.items():
        sizes = {len(k) for k in keys}
        ok = frozenset(n for n in range(0, 4 * max(sizes, default=0) + 8)
                       if any(n + k == 0 or 200.0 * min(n, k) / (n + k) >= threshold - 1e-6 for k in sizes))
        out[prefix] = (ok, max(ok, default=-1))
    return out


class _Sentences:
    """Sentence bounds and modifier hits of one field, computed on first use."""

    def __init__(self, text: str, folded: str, padded: str, compiled: _Compiled) -> None:
        self.text, self.folded, self.padded, self.compiled = text, folded, padded, compiled
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]
        self.starts = [0, *ends]
        self._mods: dict[int, list[tuple[int, int, str]]] = {}

    def bounds(self, pos: int) -> tuple[int, int, int]:
        i = bisect.bisect_right(self.starts, pos) - 1
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
        return i, self.starts[i], end

    def modifier_factor(self, start: int, end: int, modifiers: Mapping[str, Modifier]) -> tuple[float, str]:
        if self.compiled.modifiers.regex is None:
            return 1.0, ""
        i, s_start, s_end = self.bounds(start)
        hits = self._mods.get(i)
        if hits is None:
            hits = self._mods[i] = list(self.compiled.modifiers.find_all(self.folded, self.padded, s_start, s_end))
        factor, which = 1.0, ""
        for h_start, h_end, name in hits:
            mod = modifiers[name]
            if mod.factor >= factor:
                continue
            if h_end <= start:
                applies = mod.sentence or _words_between(self.folded, h_end, start) < mod.before
            elif h_start >= end:
                applies = mod.sentence or _words_between(self.folded, end, h_start) < mod.after
            elif h_start > start and h_end < end:
                # inside a phrase's gap ("drivers called off a four-day strike"), unless the word
                # starts an event phrase itself ("employees stopped work in a strike")
                applies = not self.compiled.phrases.starts_phrase(self.folded, h_start)
            else:
                applies = False  # the modifier overlaps the phrase's own words
            if applies:
                factor, which = mod.factor, name
        return factor, which

    def count_near(self, start: int, end: int) -> int | None:
        """The casualty count next to a phrase: nearest number within the window, same sentence."""
        lang = self.compiled.lang
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
                value = self._number_at(words, idx, after_side=side == 1)
                if value is not None:
                    found.append((distance, side, value))
                    break
        return min(found)[2] if found else None

    def _number_at(self, words: list[tuple[int, str]], idx: int, *, after_side: bool) -> int | None:
        lang = self.compiled.lang
        token = words[idx][1]
        value = _parse_number(token, lang)
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


def _parse_number(token: str, lang: _Language) -> int | None:
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


def _words_between(text: str, a: int, b: int) -> int:
    return len(_WORD.findall(text, a, b))


def _merge_languages(languages: Any) -> _Language:
    merged = _Language("*")
    for lang in languages:
        merged.phrases += lang.phrases
        merged.exclude += lang.exclude
        merged.modifiers += lang.modifiers
        merged.number_words.update(lang.number_words)
        merged.scales.update(lang.scales)
        merged.count_window = max(merged.count_window, lang.count_window)
        merged.count_stop |= lang.count_stop
        merged.count_not_after |= lang.count_not_after
        merged.count_not_before |= lang.count_not_before
    return merged


def _compile_language(lang: _Language) -> _Compiled:
    # Exclusions first: at the same position the first alternative wins, so "strike a deal" beats "strike".
    items: list[tuple[str, Any]] = [(source, None) for source, _ in lang.exclude]
    # Longer phrases first, for the same reason: "car bomb" before "car".
    items += [(source, (category, source))
              for category, source, _ in sorted(lang.phrases, key=lambda p: -len(p[1]))]
    return _Compiled(phrases=_PhraseSet(items, lang.number_words),
                     modifiers=_PhraseSet([(src, name) for name, src in lang.modifiers], lang.number_words), lang=lang)


def _trie(buckets: Mapping[str, list[str]], prefix: str) -> str:
    """Alternation for every bucket under `prefix`: longer prefixes first, each behind its literal char."""
    children = sorted({key[len(prefix)] for key in buckets if len(key) > len(prefix) and key.startswith(prefix)})
    branches = [re.escape(c) + "(?:" + _trie(buckets, prefix + c) + ")" for c in children]
    branches += buckets.get(prefix, [])
    return "|".join(branches)


# ---- validation of the main file's sections -------------------------------------------------------


def _thresholds(doc: _Doc, node: yaml.Node) -> dict[str, float]:
    names = set(SEVERITIES[1:])
    raw = doc.mapping(node, "thresholds", names, names)
    values = {name: doc.number(raw[name], f"thresholds.{name}", lo=0.01, hi=1000) for name in SEVERITIES[1:]}
    for lower, higher in zip(SEVERITIES[1:], SEVERITIES[2:], strict=False):
        if values[higher] <= values[lower]:
            raise doc.error(raw[higher], f"thresholds.{higher}",
                            f"must be above thresholds.{lower} ({values[lower]:g})")
    return values


_SCORING_DEFAULTS = {"title_factor": 1.5, "repeat_bonus": 0.25, "category_cap": 1.5, "max_chars": 20_000.0,
                     "count_min_factor": 0.5}


def _scoring(doc: _Doc, node: yaml.Node | None) -> dict[str, float]:
    values = dict(_SCORING_DEFAULTS)
    if node is None:
        return values
    raw = doc.mapping(node, "scoring", set(_SCORING_DEFAULTS))
    limits = {"title_factor": (0, 10), "repeat_bonus": (0, 1), "category_cap": (1, 10),
              "max_chars": (100, 5_000_000), "count_min_factor": (0, 1)}
    for name, value in raw.items():
        lo, hi = limits[name]
        values[name] = doc.number(value, f"scoring.{name}", lo=lo, hi=hi)
    return values


def _casualty_bonus(doc: _Doc, node: yaml.Node | None) -> list[tuple[int, float]]:
    if node is None:
        return []
    if not isinstance(node, yaml.SequenceNode):
        raise doc.error(node, "casualty_bonus", "expected a list of {min: N, add: X}")
    out = []
    for i, item in enumerate(node.value):
        key = f"casualty_bonus[{i}]"
        raw = doc.mapping(item, key, {"min", "add"}, {"min", "add"})
        out.append((doc.integer(raw["min"], f"{key}.min", lo=1),
                    doc.number(raw["add"], f"{key}.add", lo=0, hi=100)))
    return out


def _categories(doc: _Doc, node: yaml.Node) -> dict[str, Category]:
    out = {}
    for name, (k_node, v_node) in doc.free_mapping(node, "categories").items():
        key = f"categories.{name}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise doc.error(k_node, key, "category names are lowercase snake_case")
        if name == "watchlist":
            raise doc.error(k_node, key, "`watchlist` is reserved for watchlist matches")
        raw = doc.mapping(v_node, key, {"weight", "counts", "description"}, {"weight"})
        out[name] = Category(name=name, weight=doc.number(raw["weight"], f"{key}.weight", lo=0, hi=100),
                             counts=doc.boolean(raw["counts"], f"{key}.counts") if "counts" in raw else False,
                             description=doc.string(raw["description"], f"{key}.description")
                             if "description" in raw else "")
    if not out:
        raise doc.error(node, "categories", "no categories")
    return out


def _modifiers(doc: _Doc, node: yaml.Node | None) -> dict[str, Modifier]:
    out: dict[str, Modifier] = {}
    if node is None:
        return out
    for name, (_k, v_node) in doc.free_mapping(node, "modifiers").items():
        key = f"modifiers.{name}"
        raw = doc.mapping(v_node, key, {"factor", "before", "after", "scope", "description"}, {"factor"})
        scope = doc.string(raw["scope"], f"{key}.scope") if "scope" in raw else "window"
        if scope not in ("window", "sentence"):
            raise doc.error(raw["scope"], f"{key}.scope", "scope is `window` (before/after words) or `sentence`")
        before = doc.integer(raw["before"], f"{key}.before", hi=50) if "before" in raw else 0
        after = doc.integer(raw["after"], f"{key}.after", hi=50) if "after" in raw else 0
        if scope == "window" and not before and not after:
            raise doc.error(v_node, key, "a window modifier needs `before` and/or `after` (words)")
        out[name] = Modifier(name=name, factor=doc.number(raw["factor"], f"{key}.factor", lo=0, hi=1),
                             before=before, after=after, sentence=scope == "sentence")
    return out


def _watchlist(doc: _Doc, node: yaml.Node, watch: dict[str, Any], entities: list[_Entity]) -> None:
    raw = doc.mapping(node, "watchlist", {"weight", "cap", "threshold", "transliteration", "actors", "places"})
    for name, lo, hi in (("weight", 0, 10), ("cap", 0, 100), ("threshold", 50, 100)):
        if name in raw:
            watch[name] = doc.number(raw[name], f"watchlist.{name}", lo=lo, hi=hi)
    if "transliteration" in raw:
        for src, (k_node, v_node) in doc.free_mapping(raw["transliteration"], "watchlist.transliteration").items():
            dst = doc.scalar(v_node, f"watchlist.transliteration.{src}")
            if not re.fullmatch(r"[a-z]+", src) or not re.fullmatch(r"[a-z]*", dst):
                raise doc.error(k_node, f"watchlist.transliteration.{src}", "use lowercase ASCII letters")
            watch["folds"].append((src, dst))
    for kind_key, kind in (("actors", "actor"), ("places", "place")):
        if kind_key not in raw:
            continue
        for name, (_k, v_node) in doc.free_mapping(raw[kind_key], f"watchlist.{kind_key}").items():
            key = f"watchlist.{kind_key}.{name}"
            aliases = [name] + [a for a, _ in doc.strings(v_node, key)] if isinstance(v_node, yaml.SequenceNode) \
                else _raise(doc.error(v_node, key, "expected a list of aliases (may be empty: [])"))
            exact = frozenset(a for a in aliases if len(re.sub(r"\W", "", a)) < 5)
            keys = [a for a in aliases if a not in exact]
            entities.append(_Entity(name=name, kind=kind, exact=exact, keys=keys))


def _raise(exc: Exception) -> Any:
    raise exc


# --------------------------------------------------------------------------------------------------
# Reloading at run time: load and validate the new files first, swap only then.


class RulesHolder:
    """The rules in force, swapped as one attribute assignment (readers never see a half-loaded set).

    Scoring code keeps the holder and calls `holder.score(...)` / reads `holder.rules`, so a swap
    takes effect on the next article.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    @property
    def version(self) -> str:
        return self.rules.version

    def score(self, normed: Mapping[str, Any]) -> Escalation:
        return self.rules.score(normed)

    def swap(self, rules: Rules) -> Rules:
        old, self.rules = self.rules, rules
        return old


class RuleReloader(RulesHolder):
    """Reload a rule file (and its includes) when it changes; a broken file keeps the old rules.

    `maybe_reload(now)` is pure with respect to time (the caller passes its clock), cheap when
    nothing changed (at most one stat() per file every `interval` seconds) and never raises:

      - the files' (mtime, size) are compared with the last look; unchanged -> nothing to do;
      - changed -> their content hash; same content (touched, copied over) -> nothing to do;
      - new content -> Rules.load; on RuleError the old rules stay, the error is logged once per
        broken content as `file:line, key '...': reason` and kept in `last_error`;
      - on success the new rules are swapped in and `maybe_reload` returns True.

    The first load happens in the constructor and raises: a worker must not start without rules.
    """

    def __init__(self, path: str | Path = DEFAULT_RULES, interval: float = 5.0, *,
                 rules: Rules | None = None, loader: Any = None) -> None:
        self.path = Path(path)
        self.interval = max(0.0, float(interval))
        self._loader = loader or Rules.load
        super().__init__(rules if rules is not None else self._loader(self.path))
        self._files = self._watched(self.rules)
        self._stamp = self._stamps(self._files)
        self._digest = self._content_digest(self._files)
        self._failed_digest: str | None = None
        self._next_check = float("-inf")
        self.last_error: RuleError | None = None
        self.reloads = 0
        self.failures = 0

    def _watched(self, rules: Rules) -> list[Path]:
        files = [Path(f) for f in getattr(rules, "files", [])]
        return files if self.path in files else [self.path, *files]

    @staticmethod
    def _stamps(files: list[Path]) -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                out.append(None)
            else:
                out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)

    @staticmethod
    def _content_digest(files: list[Path]) -> str:
        import hashlib

        h = hashlib.sha256()
        for f in files:
            h.update(str(f).encode() + b"\0")
            try:
                h.update(f.read_bytes())
            except OSError as exc:
                h.update(f"<unreadable: {exc.errno}>".encode())
            h.update(b"\0")
        return h.hexdigest()

    def maybe_reload(self, now: float) -> bool:
        """Check (at most once per interval) and reload if the files changed. True when swapped."""
        if now < self._next_check:
            return False
        self._next_check = now + self.interval
        return self.check()

    def check(self) -> bool:
        """Check now, ignoring the interval. True when new rules were swapped in."""
        stamp = self._stamps(self._files)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        digest = self._content_digest(self._files)
        if digest == self._digest or digest == self._failed_digest:
            return False  # same content as in force, or the broken content already reported
        try:
            rules = self._loader(self.path)
        except RuleError as exc:
            self._failed_digest = digest
            self.last_error = exc
            self.failures += 1
            log.error("rule reload failed, keeping rules %s: %s", self.rules.version, exc)
            return False
        except Exception as exc:  # never take the worker down for a reload
            self._failed_digest = digest
            self.last_error = RuleError(f"unexpected error: {exc!r}", file=str(self.path))
            self.failures += 1
            log.exception("rule reload failed, keeping rules %s", self.rules.version)
            return False
        old = self.swap(rules)
        # includes may have changed: watch the new file list from now on
        self._files = self._watched(rules)
        self._stamp = self._stamps(self._files)
        self._digest = self._content_digest(self._files)
        self._failed_digest = None
        self.last_error = None
        self.reloads += 1
        log.info("rules reloaded: version %s -> %s (%s)", old.version, rules.version, self.path)
        return True


def sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    """(start, end) of the sentence of `text` holding offset `pos`, as the scorer cuts sentences."""
    start = 0
    for m in _SENTENCE_END.finditer(text, 0, pos + 1):
        if m.end() <= pos:
            start = m.end()
    end_match = _SENTENCE_END.search(text, max(pos, start))
    return start, end_match.end() if end_match is not None else len(text)
