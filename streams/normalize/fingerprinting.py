"""Fingerprints: what `streams.dedupe` compares articles on, all JSON-serialisable.

    key    32-bit hashes of the first 400 lower-case words of the body without dateline and trailing
           "Read more" (what copies are verified on), packed
    lead   winnowed 63-bit hashes of word 5-grams at the start of the key (indexed for copies; a
           common run of >= 16 words shares one)
    probe  all word 5-gram hashes of the first 36 words (looked up for copies)
    words  distinct content-word hashes (first 200, title + first 3,000 characters) (rare-word
           lookup and vocabulary containment for rewrites)
    names  the same for capitalised words inside sentences (rewrite lookup)
    n      number of words in the key

Packed: see `packing`; words and hashes: see `words`. All hashes come from one tokenisation of the
lower-cased title + body start.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

from streams.normalize.packing import pack_words
from streams.normalize.words import STOP_HASHES, WORD, P, finalise, hash64

KEY_TEXT_CHARS = 2_000  # verification compares prefixes; more costs time and store space
WORDS_FROM_CHARS = 3_000  # vocabulary for rewrite detection comes from the start of the article
KEY_SOURCE_CHARS = 4_000  # the key words come from the start of the body
KEY_WORDS = 400  # words of the key (copies are verified on 120 words against 380)
MIN_KEY_CHARS = 41  # a key shorter than this (words + a space each) is no usable body: add the title
MAX_WORDS = 200
LEAD_TOKENS = 64
PROBE_TOKENS = 36
SHINGLE = 5
WINNOW = 12
MIN_CONTENT_CHARS = 3  # shorter words are left out of the vocabulary
# A name starts with a capital letter (Latin-1) after a space that follows a word or , ; : )
CAPITALS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "".join(map(chr, range(0xC0, 0xDF))).replace("\u00d7", "")
NAME_AFTER = ",;:)"
_MASK63 = (1 << 63) - 1
_U64 = (1 << 64) - 1

_TRAILER = re.compile(r"(?:\s*(?:\u2026|\.\.\.|\[\u2026\]|\[\.\.\.\]|continue reading|read more)\s*)+$", re.I)
# "LONDON (Reuters) - ", "KYIV, AP - ", "WASHINGTON, AFP \u2013 ": a capitalised place, an optional agency,
# then a dash. Only stripped from the key text: the readable body keeps it.
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'\u2019 \-]{1,30}(?:,\s*[A-Z][\w.' \-]{0,25})?\s*(?:\([\w .\-/]{1,25}\))?\s*[\u2014\u2013\-]{1,2}\s+")


def _may_end_with_trailer(text: str) -> bool:
    """False only where `_TRAILER` cannot match: it needs the text, trailing whitespace left out, to
    end with "...", "\u2026", "]" or "reading"/"more" (any case; a non-ASCII last character may
    case-fold to a letter, so it also says True). Sentences end with one ".": most texts are out
    before the regex runs."""
    end = text.rstrip()[-3:]
    if not end:
        return False
    last = end[-1]
    if last == ".":
        return end == "..."
    return last in "\u2026]gGeE" or not last.isascii()


def key_span(body: str) -> tuple[int, int]:
    """Where the key words of the body are: after the dateline, before a trailing "Read more" (only a
    short text can end inside the key text)."""
    dateline = _DATELINE.match(body)
    start = dateline.end() if dateline else 0
    end = len(body)
    if end - start < KEY_TEXT_CHARS and _may_end_with_trailer(body):
        trailer = _TRAILER.search(body, end - min(120, end - start))
        if trailer:
            end = trailer.start()
    return start, end


def key_text(body: str) -> str:
    """Lower-case words of the body without dateline and trailing "Read more"/ellipsis (readable form
    of what `fingerprints` hashes as `key`; for inspection and tests)."""
    text = _DATELINE.sub("", body[: KEY_TEXT_CHARS * 3], count=1)
    if len(text) < KEY_TEXT_CHARS:  # only a short text can end inside the key text
        text = text[:-120] + _TRAILER.sub("", text[-120:])
    return " ".join(WORD.findall(text.lower()))[:KEY_TEXT_CHARS].rstrip()


def lower_keeping_offsets(text: str) -> str:
    """`text.lower()`, where a character that lower-cases to several (Turkish dotted I) keeps only the
    first, so that offsets into the text are offsets into its lower-case form."""
    low = text.lower()
    if len(low) != len(text):
        low = text.translate({ord(c): c.lower()[0] for c in set(text) if len(c.lower()) != 1}).lower()
    return low


def shingle_hashes(key: list[int]) -> list[int]:
    """63-bit hashes (never 0) of the word 5-grams of the key, in order: the polynomial
    w0 * P**4 + w1 * P**3 + ... + w4 (mod 2**64) of the word hashes, finalised. Fewer than 5 words
    make one hash of them all."""
    if len(key) < SHINGLE:
        x = 0
        for i, h in enumerate(key):
            x ^= (h * (i + P)) & _U64
        return [(x & _MASK63) or 1] if key else []
    shingles = []
    for i in range(len(key) - SHINGLE + 1):
        a = 0
        for h in key[i: i + SHINGLE]:
            a = (a * P + h) & _U64
        shingles.append((finalise(a) & _MASK63) or 1)
    return shingles


def winnow(shingles: list[int]) -> list[int]:
    """The lead keys: the first shingle and the smallest of every `WINNOW` in a row, sorted, distinct.
    Two texts that share a run of WINNOW + SHINGLE - 1 = 16 words share at least one."""
    if len(shingles) <= 1:
        return shingles
    if len(shingles) > WINNOW:
        picks = [shingles[0]] + [min(shingles[w: w + WINNOW]) for w in range(len(shingles) - WINNOW + 1)]
    else:
        picks = [shingles[0], min(shingles)]
    return sorted(set(picks))


def is_name(text: str, start: int) -> bool:
    """A capitalised word inside a sentence: after a space that follows a word or , ; : )"""
    if start < 2 or text[start] not in CAPITALS or text[start - 1] != " ":
        return False
    before = text[start - 2]
    return before in NAME_AFTER or WORD.match(before) is not None


def vocabulary(text: str, spans: list[tuple[int, int]], hashes: list[int]) -> tuple[list[int], list[int]]:
    """(the first `MAX_WORDS` distinct content words, in order; the names among all content words,
    sorted, distinct) as 32-bit hashes. Content words: longer than 2 characters, not stop words."""
    words: list[int] = []
    seen: set[int] = set()
    names: set[int] = set()
    for (start, end), h in zip(spans, hashes, strict=True):
        w = h >> 32
        if end - start < MIN_CONTENT_CHARS or w in STOP_HASHES:
            continue
        if is_name(text, start):
            names.add(w)
        if len(words) < MAX_WORDS and w not in seen:
            seen.add(w)
            words.append(w)
    return words, sorted(names)


def fingerprint_text(text: str, title_end: int, key_start: int, key_end: int, vocab_end: int) -> dict[str, Any]:
    """The fingerprints of `text` (title + "\\n" + body start): the key is made of the words that
    start in [key_start, key_end), the vocabulary of those before vocab_end; the words of the title
    end before title_end."""
    low = lower_keeping_offsets(text)
    spans = [match.span() for match in WORD.finditer(low)]
    hashes = [hash64(low[start:end]) for start, end in spans]
    starts = [start for start, _ in spans]
    k0 = bisect_left(starts, key_start)
    k1 = min(bisect_left(starts, key_end), k0 + KEY_WORDS)
    key = hashes[k0:k1]
    if sum(end - start + 1 for start, end in spans[k0:k1]) < MIN_KEY_CHARS and k0 > 0:
        key = hashes[: bisect_left(starts, title_end)] + key  # no usable body: the headline stands in
    shingles = shingle_hashes(key[:LEAD_TOKENS])
    probe = list(dict.fromkeys(shingles[: max(1, PROBE_TOKENS - SHINGLE + 1)]))
    n_vocab = bisect_left(starts, vocab_end)
    words, names = vocabulary(text, spans[:n_vocab], hashes[:n_vocab])
    return {"key": pack_words([h >> 32 for h in key]), "lead": winnow(shingles), "probe": probe,
            "words": pack_words(words), "names": pack_words(names), "n": len(key)}


# the fingerprint format, for the compiled twin (`streams._accel.fingerprinting`)
FORMAT: dict[str, Any] = {
    "stop_hashes": STOP_HASHES, "key_words": KEY_WORDS, "min_key_chars": MIN_KEY_CHARS, "lead_words": LEAD_TOKENS,
    "probe_words": PROBE_TOKENS, "shingle": SHINGLE, "winnow": WINNOW, "max_words": MAX_WORDS, "capitals": CAPITALS,
    "name_after": NAME_AFTER}
