"""Name keys: how a word is folded before watchlist names are compared."""

from __future__ import annotations

import re

from streams.escalation.phrases import fold

VOWELS = str.maketrans("", "", "aeiouy")
_ARTICLE = re.compile(r"^(?:a[lnrstdz]|el|ash)[-'](?=\w)")  # Arabic article: "al-Bukamal" ~ "Bukamal"
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9]")
_REPEATS = re.compile(r"(.)\1+")


def name_key(word: str, folds: tuple[tuple[str, str], ...]) -> tuple[str, str]:
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
    return key, key.translate(VOWELS) or key


def _first_of_group(m: re.Match[str]) -> str:
    return m.group(1)
