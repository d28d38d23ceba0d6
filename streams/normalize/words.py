r"""Words and their hashes: what every fingerprint is made of.

A word is a maximal run of word characters (the regex `\w`: letters, digits and "_" of any script).
Its 64-bit hash is sum(code point[k] * P**k) mod 2**64 (P the 64-bit FNV prime) through the splitmix64
finaliser, so that similar words get unrelated hashes; fingerprints keep a word's high 32 bits
(`word_hash`). Stable across processes and machines, unlike `hash`: stored fingerprints depend on it.
Changing it changes every fingerprint, and records in a store written by an older version stop
matching new articles until they leave the window.
"""

from __future__ import annotations

import re

import numpy as np

P = 0x100000001B3
_U64 = (1 << 64) - 1
WORD = re.compile(r"\w+")

_STOPWORDS_TEXT = """
a about after against all also an and any are as at be because been before being between both but by
can could did do does during each for from had has have he her here hers him his how i if in into is it
its just last may me more most mr mrs ms my new no nor not now of off on once one only or other our out
over own said same says she should so some such than that the their them then there these they this
those through to too two under until up very was we were what when where which while who whom why will
with would year years you your
le la les un une des du de et est en que qui dans pour pas sur au aux par il elle ils sont ont avec
der die das und ist nicht ein eine den dem des mit von zu im auf sich auch als an es für
el los las y del se por con para una al lo como más pero sus su
il di che è per non con gli della
o os as um uma do da dos das em no na com não para
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())  # say nothing about which story an article tells


def finalise(h: int) -> int:
    """The splitmix64 finaliser: every bit of the result depends on every bit of `h`."""
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & _U64
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & _U64
    return h ^ (h >> 31)


def hash64(word: str) -> int:
    """The 64-bit hash of one word, as it is written (callers lower-case first)."""
    h, p = 0, 1
    for ch in word:
        h = (h + ord(ch) * p) & _U64
        p = (p * P) & _U64
    return finalise(h)


def tokenize(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start offsets, end offsets, 64-bit hashes) of the words of `text`, hashed as they are
    (callers lower-case first)."""
    spans = [match.span() for match in WORD.finditer(text)]
    return (np.array([start for start, _ in spans], dtype=np.int64),
            np.array([end for _, end in spans], dtype=np.int64),
            np.array([hash64(text[start:end]) for start, end in spans], dtype=np.uint64))


def word_hashes(words: list[str] | str) -> np.ndarray:
    """64-bit hashes of words (a list, or the words of a string), as `fingerprints` computes them."""
    text = words if isinstance(words, str) else " ".join(words)
    return np.array([hash64(match.group()) for match in WORD.finditer(text)], dtype=np.uint64)


def word_hash(word: str) -> int:
    """32-bit hash of one (lower-case) word, as stored in `words` / `names` / `key`."""
    match = WORD.search(word)
    return hash64(match.group()) >> 32 if match else 0


STOP_HASHES = frozenset(word_hash(word) for word in STOPWORDS)
