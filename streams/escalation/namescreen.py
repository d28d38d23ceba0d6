"""The name screen: which capitalised runs of a text the watchlist may match.

Most capitalised words cannot start a name: the first two consonants of their skeleton name no
bucket, or no n-gram from them can come within the threshold of a key of their bucket (the bound of
watchlist.reachable). Most that may ("Blair" in a bucket) are followed by words that take every
n-gram out of reach. The screen drops the runs that provably end so, and keeps the rest: exact
aliases, runs with a hyphen or a non-ASCII char (a name may start inside them, their keys need the
full fold), and runs that may match.

`name_screen` and `screen_runs` are the reference of the compiled twins in streams/_accel/watchlist.py
(same signatures, same results).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import LCSseq

from streams.escalation.memo import Memo
from streams.escalation.namekeys import name_key

_VERDICT_NO, _VERDICT_MAY, _VERDICT_NEXT_WORD, _VERDICT_EXACT = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)
class NameScreen:
    buckets: Mapping[str, Sequence[str]]      # skeleton head -> alias keys
    longest: Mapping[str, int]                # skeleton head -> the longest n-gram key that may match
    exact: Collection[str]                    # short aliases, as written
    folds: tuple[tuple[str, str], ...]
    threshold: float
    max_tail: int                             # words after the first that an n-gram may have
    runs: re.Pattern[str]                     # a capitalised run
    next_word: re.Pattern[str]                # one space, then a word
    verdicts: Memo[str, int]                  # plain word -> its verdict
    keys: Memo[str, tuple[str, str]]          # word -> name key


def name_screen(buckets: Mapping[str, Sequence[str]], longest: Mapping[str, int], exact: Collection[str],
                folds: Sequence[tuple[str, str]], threshold: float, max_tail: int, name_start: str,
                run_char: str) -> NameScreen:
    """The screen of a watchlist index: its buckets of alias keys, the longest n-gram key of each
    bucket that may still match, the exact aliases, the transliteration folds, the threshold, how many
    words may follow a name's first; `name_start` (a capital) and `run_char` (a name's word chars,
    the hyphen one of them) are regex character classes."""
    return NameScreen(buckets, longest, exact, tuple(folds), float(threshold), int(max_tail),
                      re.compile(name_start + rf"(?<![\w'’].){run_char}*"), re.compile(f" {run_char}+"),
                      Memo(), Memo())


def screen_runs(screen: NameScreen, text: str) -> list[int]:
    """The capitalised runs of `text` the watchlist may match, as flat (start, end) pairs."""
    out: list[int] = []
    for run in screen.runs.finditer(text):
        word = run.group()
        if word.isascii() and "-" not in word:
            verdict = screen.verdicts.get(word)
            if verdict is None:
                verdict = screen.verdicts.keep(word, _verdict(screen, word))
            if verdict == _VERDICT_NO or (verdict != _VERDICT_EXACT and not _may_name(screen, text, *run.span())):
                continue
        out += run.span()
    return out


def _verdict(screen: NameScreen, word: str) -> int:
    """Can a name start with this plain word: exact alias, may, no, or only the next word can tell
    (a skeleton of one char: "Abu", "Al")."""
    if word in screen.exact:
        return _VERDICT_EXACT
    key, skeleton = _key(screen, word)
    if len(skeleton) < 2:
        return _VERDICT_NEXT_WORD
    keys = screen.buckets.get(skeleton[:2])
    if keys is None:
        return _VERDICT_NO
    a = len(key)
    for k in keys:  # watchlist.reachable
        size = len(k)
        if 200.0 * size >= (screen.threshold - 1e-6) * (a + 2 * size - LCSseq.similarity(key, k)):
            return _VERDICT_MAY
    return _VERDICT_NO


def _may_name(screen: NameScreen, text: str, start: int, end: int) -> bool:
    """Can the n-grams from the run text[start:end] and the words after it (one space apart) hold a
    name? False only when, n-gram after n-gram, none comes within 0.01 of the threshold and then none
    can reach it any more (or its bucket does not exist, or it is longer than the bucket allows);
    True when one may, or when a word is not plain ASCII (the watchlist decides)."""
    joined = skeleton = ""
    keys: Sequence[str] | None = None
    longest = 0
    word, at = text[start:end], end
    for n in range(screen.max_tail + 1):
        if n:
            following = screen.next_word.match(text, at)
            if following is None:
                return False
            word, at = following.group()[1:], following.end()
            if not word.isascii():
                return True
        key, word_skeleton = _key(screen, word)
        joined += key
        if keys is None:
            skeleton += word_skeleton
            if len(skeleton) < 2:
                continue
            keys = screen.buckets.get(skeleton[:2])
            if keys is None:
                return False
            longest = screen.longest[skeleton[:2]]
        if len(joined) > longest:
            return False
        can_reach = False
        for k in keys:
            lcs = LCSseq.similarity(joined, k)
            if len(joined) + len(k) == 0 or 200.0 * lcs >= (screen.threshold - 0.01) * (len(joined) + len(k)):
                return True
            if 200.0 * len(k) >= (screen.threshold - 1e-6) * (len(joined) + 2 * len(k) - lcs):
                can_reach = True
        if not can_reach:
            return False
    return False


def _key(screen: NameScreen, word: str) -> tuple[str, str]:
    key = screen.keys.get(word)
    if key is None:
        key = screen.keys.keep(word, name_key(word, screen.folds))
    return key
