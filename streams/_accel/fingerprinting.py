"""`streams.normalize.fingerprinting.fingerprint_text` in one compiled pass: tokens and hashes, key,
lead shingles and winnowing, probe, vocabulary, names and packing (~15 us an article where the
reference takes ~1 ms).

ASCII text (most articles) is scanned as its bytes and lower-cased inside the scan; other text as the
code points of its lower-cased form. Text whose lower-case form is longer (Turkish dotted I, a few
ligatures) has offsets the kernel cannot follow: the reference fingerprints it.

The kernel is compiled twice (bytes, code points): the first call loads both from numba's cache, so
that the first non-ASCII article does not stall the stream (~20 ms) and per-article timings do not
count it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from numba import njit

from streams._accel import builds_on_reference, hashtable
from streams._accel.packing import ALPHABET, write_base64
from streams._accel.words import P, code_points, mix, word_chars, word_spans

_MASK63 = np.uint64(0x7FFFFFFFFFFFFFFF)
_Z = np.uint64(0)
_ONE = np.uint64(1)
_HIGH = np.uint64(32)
CAPITAL, BEFORE_NAME = 1, 2  # bits of the name-marks table
# positions in the `shape` array: the fingerprint format's sizes, set by the domain
KEY_WORDS, MIN_KEY_CHARS, LEAD_WORDS, PROBE_WORDS, SHINGLE, WINNOW, MAX_WORDS = range(7)


@njit(cache=True, nogil=True)
def _sorted_distinct(values: np.ndarray) -> np.ndarray:  # pragma: no cover (compiled)
    """np.unique, in place (`values` is scratch)."""
    values.sort()
    n = 0
    for i in range(len(values)):
        if i == 0 or values[i] != values[i - 1]:
            values[n] = values[i]
            n += 1
    return values[:n]


@njit(cache=True, nogil=True)
def _lead_and_probe(key: np.ndarray, shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
    shingle, winnow = shape[SHINGLE], shape[WINNOW]
    m = min(len(key), shape[LEAD_WORDS])
    if m == 0:
        return np.empty(0, np.uint64), np.empty(0, np.uint64)
    if m < shingle:
        x = _Z
        for i in range(m):
            x ^= key[i] * (np.uint64(i) + P)
        x &= _MASK63
        lead = np.array([x if x != _Z else _ONE])
        return lead, lead.copy()
    ns = m - shingle + 1
    acc = np.empty(ns, np.uint64)
    for i in range(ns):
        a = key[i] * P
        for j in range(1, shingle - 1):
            a = (a + key[i + j]) * P
        a = mix(a + key[i + shingle - 1]) & _MASK63
        acc[i] = a if a != _Z else _ONE
    if ns > winnow:
        picks = np.empty(ns - winnow + 2, np.uint64)
        picks[0] = acc[0]
        for w in range(ns - winnow + 1):
            low_v = acc[w]
            for j in range(1, winnow):
                if acc[w + j] < low_v:
                    low_v = acc[w + j]
            picks[w + 1] = low_v
    else:
        picks = np.array([acc[0], acc.min()])
    lead = _sorted_distinct(picks)
    pn = min(ns, max(1, shape[PROBE_WORDS] - shingle + 1))
    probe = np.empty(pn, np.uint64)
    q = 0
    for i in range(pn):
        seen = False
        for j in range(q):
            if probe[j] == acc[i]:
                seen = True
                break
        if not seen:
            probe[q] = acc[i]
            q += 1
    return lead, probe[:q]


@njit(cache=True, nogil=True)
def _scan(low: np.ndarray, orig: np.ndarray, wch: np.ndarray, marks: np.ndarray, stop: np.ndarray,
          shape: np.ndarray, off: int, key_lo: int, key_hi: int, vocab_hi: int, lower: bool, enc: np.ndarray,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover (compiled)
    """(key, words and names packed one after the other (base64 text), [length of packed key, of
    packed words, of lead, words in key], lead then probe hashes). `low` is the lower-cased text, or
    with `lower` the ASCII text itself (then `orig` is the same array); `stop`: a word set
    (`hashtable.word_set`) of the stop words."""
    starts, ends, h64 = word_spans(low, wch, lower)
    k0 = np.searchsorted(starts, key_lo)
    k1 = min(np.searchsorted(starts, key_hi), k0 + shape[KEY_WORDS])
    chars = 0
    for i in range(k0, k1):
        chars += ends[i] - starts[i] + 1
    if chars < shape[MIN_KEY_CHARS] and k0 > 0:  # no usable body: the headline stands in
        key = np.concatenate((h64[: np.searchsorted(starts, off)], h64[k0:k1]))
    else:
        key = h64[k0:k1].copy()
    lead, probe = _lead_and_probe(key, shape)
    # content words of title + body start: distinct, first occurrence first; names among them
    vn = np.searchsorted(starts, vocab_hi)
    seen = np.zeros(hashtable.capacity(vn, 2), np.uint64)
    words = np.empty(min(vn, shape[MAX_WORDS]), np.uint32)
    names = np.empty(vn, np.uint32)
    nw = 0
    nn = 0
    for i in range(vn):
        if ends[i] - starts[i] <= 2:
            continue
        w = np.uint32(h64[i] >> _HIGH)
        wk = hashtable.word_key(w)
        if hashtable.holds(stop, wk):
            continue
        st = starts[i]
        if st >= 2 and marks[orig[st]] & CAPITAL and orig[st - 1] == 32 and marks[orig[st - 2]] & BEFORE_NAME:
            names[nn] = w
            nn += 1
        if nw < len(words) and hashtable.add(seen, wk)[1]:
            words[nw] = w
            nw += 1
    key32 = np.empty(len(key), np.uint32)
    for i in range(len(key)):
        key32[i] = np.uint32(key[i] >> _HIGH)
    names = _sorted_distinct(names[:nn])
    words = words[:nw]
    packed = np.empty(((len(key32) + nw + len(names)) * 4 + 8) // 3 * 4 + 12, np.uint8)
    e1 = write_base64(key32, enc, packed, 0)
    e2 = write_base64(words, enc, packed, e1)
    e3 = write_base64(names, enc, packed, e2)
    sizes = np.array([e1, e2 - e1, len(lead), len(key32)], np.int64)
    return packed[:e3], sizes, np.concatenate((lead, probe))


def _name_marks(capitals: str, name_after: str) -> np.ndarray:
    marks = word_chars().astype(np.uint8) * np.uint8(BEFORE_NAME)
    marks[[ord(c) for c in name_after]] |= BEFORE_NAME
    marks[[ord(c) for c in capitals]] |= CAPITAL
    return marks


@builds_on_reference
def fingerprint_text(reference: Callable[..., dict[str, Any]], *, stop_hashes: Iterable[int], key_words: int,
                     min_key_chars: int, lead_words: int, probe_words: int, shingle: int, winnow: int,
                     max_words: int, capitals: str, name_after: str) -> Callable[..., dict[str, Any]]:
    """The twin of `reference`, built with the domain's fingerprint format."""
    wch = word_chars()
    marks = _name_marks(capitals, name_after)
    stop = hashtable.word_set(np.array(sorted(stop_hashes), dtype=np.uint32), 8)
    shape = np.array([key_words, min_key_chars, lead_words, probe_words, shingle, winnow, max_words], np.int64)
    loaded = False

    def fingerprint_text(text: str, title_end: int, key_start: int, key_end: int, vocab_end: int) -> dict[str, Any]:
        nonlocal loaded
        if not loaded:
            loaded = True
            fingerprint_text("Summer\nSummer in Paris", 7, 7, 22, 22)
            fingerprint_text("\u00e9t\u00e9\n\u00c9t\u00e9 \u00e0 Paris", 4, 4, 15, 15)
        if text.isascii():
            low = orig = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
            lower = True
        else:
            low_text = text.lower()
            if len(low_text) != len(text):
                return reference(text, title_end, key_start, key_end, vocab_end)
            low, orig, lower = code_points(low_text), code_points(text), False
        packed, sizes, lead_probe = _scan(low, orig, wch, marks, stop, shape, title_end, key_start, key_end,
                                          vocab_end, lower, ALPHABET)
        key_end_, words_len, n_lead, n = sizes.tolist()
        # numpy's stubs give ndarray __buffer__ only on Python 3.12+ (PEP 688); on 3.11 it has the buffer protocol
        packed_text = str(packed, "ascii")  # type: ignore[call-overload]
        hashes = lead_probe.tolist()
        return {"key": packed_text[:key_end_], "lead": hashes[:n_lead], "probe": hashes[n_lead:],
                "words": packed_text[key_end_:key_end_ + words_len], "names": packed_text[key_end_ + words_len:],
                "n": n}

    return fingerprint_text
