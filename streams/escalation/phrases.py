"""The phrase language of the rule files (docs/rules.md), turned into regular expressions.

    `word`       the word (case and accents ignored)        `kill*`     any ending: kill, killed, killing
    `a|b|c`      one of these words                          `strik{e,es,ing}|struck`  endings in braces
    `air_strike` optional space or hyphen: airstrike, air strike, air-strike
    `~3`         up to three other words in between         `#`         a number (digits or words)
    `re:...`     a raw regular expression (on lowercase, accent-folded text)

Phrases run on folded text (`fold`): lowercase, accents off, same length as the original, so that an
offset into the folded text is an offset into the article.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping


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


# One char -> one char: accents off, typographic quotes and dashes to ASCII.
_FOLD = _fold_table()
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def fold(text: str) -> str:
    """Lowercase + accent fold, same length as `text` (required: offsets must stay valid)."""
    low = text.lower()
    if len(low) != len(text):  # e.g. 'İ' lowercases to two chars: fold char by char instead
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if low.isascii():
        return low
    return _NON_ASCII.sub(_fold_char, low)  # most texts have few chars to map: sub visits only those


def _fold_char(m: re.Match[str]) -> str:
    return _FOLD.get(ord(m.group()), m.group())


# Between the words of a phrase: spaces or hyphens, then perhaps a French elision ("l'expulsion de
# l'ambassadeur" is expuls* ~4 ambassadeur*).
ELISION = r"(?:(?:[ldjmnstc]|qu)')?"
SEPARATOR = r"[\s\-]+" + ELISION
# The char before a phrase's first word: not a word char or an apostrophe ("don't" holds no word "t"),
# except the apostrophe of a French elision ("l'attaque", "d'affrontements", "qu'une", "lorsqu'il")
# and an opening quote, an apostrophe with no word before it ("gunmen 'killed 9 people'"): words in
# quotes count when the quote reports the event.
WORD_START = r"(?:[^\w']|'(?<=(?<![\w'])[ldjmnstc]')|'(?<=qu')|'(?<=[^\w']'))"
PHRASE_END = r"(?!\w|-\w)"   # "flood" does not match in "flood-control"
# a word in a phrase's gap (~N); a number with thousands separators ("4,000 soldiers") is one word
_GAP_WORD = r"(?:(?:\d{1,3}(?:[,.\u202f\u00a0]\d{3})+|[\w'][\w'\-]*),?[\s\-]+)"
_DIGITS = r"\d{1,3}(?:[,.\u202f\u00a0 ]\d{3})+(?!\d)|\d+"
_PHRASE_TOKEN = re.compile(r"^[\w'\-{},|*_.&]+$")


def compile_phrase(source: str, number_words: Mapping[str, int] | None = None, *,
                   first: str | None = None) -> str:
    """Turn an analyst's phrase into a regex (see the module docstring and docs/rules.md); `first`
    replaces the regex of the first word (dispatch_phrase)."""
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
        out.append((SEPARATOR + (pending_gap + ELISION if pending_gap else "") if out else "") + piece)
        pending_gap = ""
    return "(?:" + "".join(out) + ")"


def dispatch_phrase(source: str, number_words: Mapping[str, int] | None = None,
                    depth: int = 3) -> list[tuple[str, str]]:
    """Split a phrase by the literal prefix (up to `depth` chars) of its first word: [(prefix, rest regex)].

    A phrase set nests the prefixes as a trie of literal chars, which the regex engine checks before
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


_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _literal_start(alternative: str) -> str:
    """The leading [a-z0-9] chars of an alternative: what every match of it starts with."""
    n = 0
    while n < len(alternative) and alternative[n] in _LITERAL_CHARS:
        n += 1
    return alternative[:n]


def literal_words(source: str, number_words: Mapping[str, int]) -> list[frozenset[str] | None] | None:
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
