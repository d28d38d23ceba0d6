"""Every compiled twin in `streams._accel` gives what its reference in the domain gives, on random
input: text of any script (lone surrogates included), empty and huge input, canonical and odd packed
words, random windows of articles. (Skipped where the compiled twins cannot run: no numba, or
WIREWATCH_IMPL=python, which must not import it.)"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np
import pytest
from helpers.impls import plain, twin_pairs
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import LCSseq

from streams.normalize import key_span
from streams.normalize.fingerprinting import KEY_SOURCE_CHARS, WORDS_FROM_CHARS

pytestmark = pytest.mark.accel  # (tests/unit/conftest.py deselects it where the kernels are not loaded)

PAIRS = {name: (reference, twin) for name, reference, twin in twin_pairs()}
COVERED = {"normalize.tokenize", "normalize.unpack_words", "normalize.fingerprint_text", "dedupe.unpack_words",
           "dedupe.copy_similarity", "dedupe.found_mask", "dedupe.found_count", "dedupe.CandidateIndex"}


def pair(name: str) -> tuple[Any, Any]:
    assert name in COVERED
    return PAIRS[name]


def outcome(function: Any, *args: Any) -> Any:
    """The result as plain values, or the type of the exception raised."""
    try:
        return plain(function(*args))
    except (ValueError, binascii.Error) as exc:
        return type(exc)


def same(name: str, *args: Any) -> Any:
    reference, twin = pair(name)
    expected = outcome(reference, *args)
    assert outcome(twin, *args) == expected, (name, args)
    return expected


# ---- text ----------------------------------------------------------------------------------------

ANY_CHAR = st.characters(blacklist_categories=())  # every code point, lone surrogates included
PIECES = st.sampled_from(["The", "quay", " ", "  ", "\n", ",", ";", ":", ")", "-", "\u2014", "LONDON (Reuters) - ",
                          "Marit", "Oyelaran", "\u00c9mile", "\u00e9t\u00e9", "\u0130stanbul", "\u00df", "\ufb01",
                          "\u01c5", "\U0001f600", "_", "42", "Read more", "...", "\u2026", "the", "and", "x"])
WORDY = st.lists(st.one_of(PIECES, st.text(ANY_CHAR, max_size=3)), max_size=120).map("".join)
TEXT = st.one_of(WORDY, st.text(ANY_CHAR, max_size=300), st.text(max_size=40).map(lambda t: t * 700))


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_tokenize(text: str) -> None:
    same("normalize.tokenize", text)
    same("normalize.tokenize", text.lower())


@settings(max_examples=300, deadline=None)
@given(WORDY, st.one_of(WORDY, TEXT))
def test_fingerprint_text(title: str, body: str) -> None:
    start, end = key_span(body)
    text = title + "\n" + body[:KEY_SOURCE_CHARS]
    off = len(title) + 1
    same("normalize.fingerprint_text", text, off, off + start, off + end, off + WORDS_FROM_CHARS)


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(0, 50), st.integers(-5, 5000), st.integers(-5, 5000), st.integers(-5, 5000))
def test_fingerprint_text_any_offsets(text: str, title_end: int, key_start: int, key_end: int, vocab_end: int) -> None:
    same("normalize.fingerprint_text", text, title_end, key_start, key_end, vocab_end)


# ---- packed words --------------------------------------------------------------------------------

WORD_LISTS = st.one_of(st.lists(st.integers(0, 2**32 - 1), max_size=50),
                       st.lists(st.integers(0, 5), max_size=500),
                       st.just(list(range(3000))))
ODD_PACKED = st.one_of(st.text(st.sampled_from("AQEB+/=z\n \u00c4"), max_size=24), st.text(max_size=12))


def packed(words: list[int]) -> str:
    return base64.b64encode(np.array(words, dtype="<u4").tobytes()).decode("ascii")


@settings(max_examples=300, deadline=None)
@given(st.one_of(WORD_LISTS.map(packed), ODD_PACKED, WORD_LISTS.map(lambda w: packed(w) + "\n")))
def test_unpack_words(text: str) -> None:
    same("normalize.unpack_words", text)
    same("dedupe.unpack_words", text)


# ---- verification --------------------------------------------------------------------------------

def similar_lists(alphabet: int, max_size: int) -> st.SearchStrategy[tuple[list[int], list[int]]]:
    """Two unrelated word lists, or a list and a copy of it with words dropped and others around it."""
    words = st.lists(st.integers(0, alphabet), max_size=max_size)

    def copy_of(drawn: tuple[list[int], list[int], list[bool]]) -> tuple[list[int], list[int]]:
        a, noise, keep = drawn
        kept = [w for i, w in enumerate(a) if keep[i % len(keep)]]
        return a, noise[: len(noise) // 2] + kept + noise[len(noise) // 2:]

    copies = st.tuples(words, words, st.lists(st.booleans(), min_size=1, max_size=10)).map(copy_of)
    return st.one_of(st.tuples(words, words), copies)


KEY_PAIRS = st.one_of(similar_lists(3, 60), similar_lists(60, 450), similar_lists(2**32 - 1, 200))


@settings(max_examples=400, deadline=None)
@given(KEY_PAIRS, st.sampled_from([120, 5, 0, -1, 400]), st.sampled_from([15, 0, 1, 200]))
def test_copy_similarity(keys: tuple[list[int], list[int]], compare_words: int, min_words: int) -> None:
    a, b = keys
    same("dedupe.copy_similarity", packed(a), packed(b), compare_words, min_words)
    same("dedupe.copy_similarity", packed(b) + "\n", packed(a), compare_words, min_words)  # not canonical


@settings(max_examples=300, deadline=None)
@given(KEY_PAIRS)
def test_compiled_lcs_is_rapidfuzz_lcs(keys: tuple[list[int], list[int]]) -> None:
    """The twin of the compiled LCS is rapidfuzz's."""
    from streams._accel.verify import lcs

    a, b = (np.array(k, dtype=np.uint32) for k in keys)
    assert lcs(a, b) == LCSseq.similarity(keys[0], keys[1])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=80), st.one_of(st.lists(st.integers(0, 40), max_size=200).map(packed),
                                                             ODD_PACKED))
def test_found(counted: list[int], vocabulary: str) -> None:
    array = np.array(counted, dtype=np.uint32)
    mask = same("dedupe.found_mask", array, vocabulary)
    n = same("dedupe.found_count", array, vocabulary)
    assert isinstance(mask, type) or n == sum(mask)


# ---- the candidate index -------------------------------------------------------------------------

OPERATIONS = st.lists(st.tuples(st.sampled_from(["add", "add", "add", "remove", "remove-unknown", "find", "find-odd"]),
                                st.lists(st.integers(1, 30), max_size=12), st.lists(st.integers(0, 60), max_size=40),
                                st.integers(0, 4)), max_size=80)


@settings(max_examples=150, deadline=None)
@given(OPERATIONS, st.sampled_from([(4, 64, 2, 4, 8), (10, 3, 1, 2, 1), (20, 64, 2, 4, 8)]))
def test_candidate_index(operations: list[tuple[str, list[int], list[int], int]],
                         options: tuple[int, int, int, int, int]) -> None:
    """Random windows: articles added (lead and vocab keys, words), removed (with or without their
    words), looked up (packed words canonical or not, long word lists); also more live articles than
    the compiled ring has slots at first."""
    reference_class, twin_class = pair("dedupe.CandidateIndex")
    reference, twin = reference_class(*options), twin_class(*options)
    live: list[int] = []
    seq = 0
    for op, keys, words, common in operations:
        word_array = np.unique(np.array(words, dtype=np.uint32))
        if op == "add" or not live:
            seq += 1 + (4096 if common == 4 else 0)
            live.append(seq)
            for index in (reference, twin):
                index.add(seq, keys, [k + 1 for k in keys[:5]], word_array)
        elif op.startswith("remove"):
            gone = live.pop(common % len(live))
            for index in (reference, twin):
                index.remove(gone, None if op == "remove-unknown" else word_array)
        else:
            if common == 4:
                word_array = np.arange(1000, dtype=np.uint32) * 3  # more words than the twin's buffers
            fp = {"words": packed(word_array.tolist()), "names": packed(word_array[::2].tolist()),
                  "lead": keys[:4], "probe": keys[4:]}
            if op == "find-odd":
                fp.update(words=fp["words"] + "\n", names=" " + fp["names"])
            expected = reference.find(fp, common * 3)
            assert plain(twin.find(fp, common * 3)) == plain(expected)
            assert reference.docs == twin.docs


def test_every_twin_pair_is_tested() -> None:
    assert set(PAIRS) == COVERED
