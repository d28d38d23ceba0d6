"""Normalisation: readable cleaned text, language, fingerprints; never raises, idempotent cleaning.

Every test runs once per implementation of the steps (`impl`: the reference, and the compiled twins
where numba is installed)."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.normalize import (
    clean_text,
    fingerprints,
    key_text,
    normalize,
    tokenize,
    unpack_words,
    word_hash,
    word_hashes,
)

pytestmark = pytest.mark.usefixtures("impl")

BODY = ("<p>The harbour authority in Port Elmsworth closed the northern quay on Monday after a crane "
        "collapsed onto two fishing boats.</p><p>&bull; Read also: Lighthouse keeper retires</p>"
        "<p>Nobody was hurt, a spokeswoman said, but the quay will stay shut until engineers "
        "have inspected the remaining cranes.</p><p>Advertisement</p><p>&copy; Tidewire 2024</p>")


def article(**fields: object) -> dict[str, object]:
    base = {"id": "a1", "url": "https://example.test/a1", "title": "Crane collapses at harbour",
            "published_at": "2024-05-06T10:00:00Z", "source": "example.test", "feed": "f",
            "content": BODY, "language": "en"}
    base.update(fields)
    return base


def test_html_boilerplate_and_paragraphs():
    norm = normalize(article())["norm"]
    assert norm["body"].split("\n") == [
        "The harbour authority in Port Elmsworth closed the northern quay on Monday after a crane "
        "collapsed onto two fishing boats.",
        "Nobody was hurt, a spokeswoman said, but the quay will stay shut until engineers "
        "have inspected the remaining cranes."]
    assert norm["body_field"] == "content"
    assert norm["title"] == "Crane collapses at harbour"


def test_returns_a_copy_and_keeps_fields():
    raw = article(extra={"x": 1})
    out = normalize(raw)
    assert "norm" not in raw and out["extra"] == {"x": 1} and out["id"] == "a1"


def test_summary_used_when_content_empty():
    norm = normalize(article(content="  <p> </p>", summary="Short &amp; sweet summary."))["norm"]
    assert norm["body_field"] == "summary" and norm["body"] == "Short & sweet summary."


def test_smart_quotes_entities_and_invisible_characters():
    assert clean_text("\u201cHe\u2019s here\u201d,\u200b she said\u00a0 today") == "\"He's here\", she said today"
    assert clean_text("a&amp;lt;b&amp;gt;c") == "a c"  # double-escaped tag
    assert clean_text("line one\r\nline two\rline three") == "line one\nline two\nline three"


def test_boilerplate_only_on_whole_short_lines():
    assert clean_text("Share prices fell sharply") == "Share prices fell sharply"
    assert clean_text("Read more: council votes on harbour fees") == ""
    assert clean_text("Read more about it in the report") == "Read more about it in the report"
    assert clean_text("Police said the staff were evacuated") == "Police said the staff were evacuated"
    assert clean_text("Harbour Gazette staff") == ""


def test_language_declared_normalised_and_detected():
    assert normalize(article(language="en-GB"))["norm"]["language"] == "en"
    fr = article(language=None, title="Un incendie ravage un entrepôt",
                 content="Un incendie a ravagé mardi soir un entrepôt de la zone industrielle, "
                         "selon les pompiers qui sont intervenus pendant toute la nuit.")
    assert normalize(fr)["norm"]["language"] == "fr"
    assert normalize(article(language=None, title="", content="42"))["norm"]["language"] == "und"


def test_dateline_and_trailer_not_in_key_text():
    assert key_text("PORT ELMSWORTH (Tidewire) \u2014 The quay closed. Continue reading") == "the quay closed"
    assert key_text("KYIV, AP - The quay closed\u2026") == "the quay closed"


def test_fingerprints_json_serialisable_and_stable():
    fp = normalize(article())["norm"]["fingerprints"]
    assert json.loads(json.dumps(fp)) == fp
    assert fp == normalize(article())["norm"]["fingerprints"]
    assert fp["lead"] and fp["probe"] and len(unpack_words(fp["words"])) > 10
    assert all(0 < k < 2**63 for k in fp["lead"] + fp["probe"])


def test_huge_input_is_capped():
    big = "word " * 1_200_000  # 6 MB
    norm = normalize(article(content=big))["norm"]
    assert 0 < len(norm["body"]) <= 100_000
    assert len(unpack_words(norm["fingerprints"]["key"])) <= 400


def test_bulk_hashing_matches_regex_words_and_is_stable():
    text = "l'été: Ünïcode_words, 3 cats; \u0130stanbul x\u200by \U0001f600 end"
    starts, ends, hashes = tokenize(text.lower())
    assert [text.lower()[s:e] for s, e in zip(starts, ends, strict=True)] == re.findall(r"\w+", text.lower())
    # the same word hashes the same wherever it stands; values fixed across processes and versions
    assert word_hashes("cats end cats")[0] == word_hashes("cats")[0] == word_hashes(["x", "cats"])[1]
    assert word_hash("harbour") == word_hash("harbour") == 0xBDAD184D


def test_key_words_skip_dateline_and_trailer():
    fp = fingerprints("Title", "PORT ELMSWORTH (Tidewire) \u2014 The quay closed today. Continue reading")
    assert unpack_words(fp["key"]).tolist() == [word_hash(w) for w in ["title", "the", "quay", "closed", "today"]]
    long_body = "PARIS, AFP - " + " ".join(f"w{i}" for i in range(60))
    fp = fingerprints("Title", long_body)
    assert unpack_words(fp["key"]).tolist() == [word_hash(f"w{i}") for i in range(60)]


def test_names_are_capitalised_words_inside_sentences():
    fp = fingerprints("x", "Yesterday Marit Oyelaran met the mayor, Ivo Castellane. The Port reopened.")
    names = set(unpack_words(fp["names"]).tolist())
    assert names == {word_hash(w) for w in ("oyelaran", "ivo", "castellane", "port", "marit")}


ODD_PIECES = st.sampled_from(list("ab <>/&;#xp\n\r\t\u00a0\u200b\u2019\u201c\u00e9\u0301\U0001f600")
                             + ["<p>", "</p>", "&amp;", "&lt;", "<br/>", "Advertisement\n", "\u00a9 X\n"])
ODD_TEXT = st.lists(ODD_PIECES, max_size=80).map("".join)


@settings(max_examples=300, deadline=None)
@given(ODD_TEXT)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["title", "content", "summary", "language"]),
                       st.one_of(st.none(), st.integers(), ODD_TEXT, st.text(max_size=300))))
def test_normalize_never_raises(fields):
    out = normalize({"id": "x", **fields})
    norm = out["norm"]
    assert isinstance(norm["body"], str) and isinstance(norm["title"], str)
    assert norm["body_field"] in ("content", "summary")
    assert isinstance(norm["language"], str) and norm["language"]
    json.dumps(norm)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_body_lines_are_clean(text):
    body = clean_text(text)
    assert all(line == line.strip() and line for line in body.split("\n")) or body == ""
    assert "  " not in body and "\r" not in body


@settings(max_examples=400)
@given(st.lists(st.sampled_from(["Word.", "word", " ", "...", "\u2026", "[\u2026]", "Read more", "continue Reading",
                                 "\n", "\u00a0", "e", "G", "\u0130", "]"]), max_size=8).map("".join))
def test_trailer_fast_path_never_hides_a_trailer(text: str) -> None:
    from streams.normalize.fingerprinting import _TRAILER, _may_end_with_trailer

    if _TRAILER.search(text):
        assert _may_end_with_trailer(text)


@given(st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=30))
def test_ascii_fast_path_cleans_as_the_general_path(text: str) -> None:
    import unicodedata

    from streams.normalize.clean import _ODD, _characters, _odd_char

    assert _characters(text) == unicodedata.normalize("NFKC", _ODD.sub(_odd_char, text))


def test_packed_words_are_base64_of_little_endian_uint32() -> None:
    """Packing and unpacking give what base64 + numpy give; text that is not canonical base64 is
    decoded (or rejected) as binascii does."""
    import base64
    import binascii

    import numpy as np

    from streams.normalize import pack_words, steps

    rng = np.random.default_rng(7)
    for n in [0, 1, 2, 3, 4, 5, 17, 200, 401]:
        words = rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)
        packed = base64.b64encode(words.astype("<u4").tobytes()).decode("ascii")
        assert pack_words(words) == packed
        assert steps.unpack_words(packed).tolist() == words.tolist()
    for odd in ["AAAAAA==", "AAAA\n", "AAAA AAA", "AA=A", "AAA=", "AAAAA", "\u00c4AAA"]:
        try:
            expected: object = np.frombuffer(binascii.a2b_base64(odd), dtype="<u4").tolist()
        except (ValueError, binascii.Error) as exc:
            expected = type(exc)
        try:
            got: object = steps.unpack_words(odd).tolist()
        except (ValueError, binascii.Error) as exc:
            got = type(exc)
        assert got == expected, odd


def test_fingerprints_of_ascii_and_other_text() -> None:
    """Upper-case ASCII, accents, a character that lower-cases to two (the title's words stay at their
    offsets), a dateline, a headline standing in for an empty body: fixed values for every
    implementation."""
    from streams.normalize import steps

    cases = [("Crane collapses", BODY), ("X", "LONDON (Reuters) - The Quay, said Ivo Castellane; Port ELMSWORTH."),
             ("", ""), ("Only a title", ""), ("T", "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 30),
             ("\u0130stanbul \u00c9t\u00e9", "Le maire, \u00c9mile Durand, a parl\u00e9 \u00e0 \u0130stanbul."),
             ("\u0130\u0130\u0130 Crane", "Said: Marit Oyelaran of Port Elmsworth")]
    for title, body in cases:
        fp = fingerprints(title, body)
        assert len(unpack_words(fp["key"])) == fp["n"]
        assert fp["lead"] == sorted(set(fp["lead"])) and len(fp["probe"]) == len(set(fp["probe"]))
    fp = fingerprints("\u0130\u0130\u0130 Crane", "Said: Marit Oyelaran of Port Elmsworth")
    names = ("crane", "marit", "oyelaran", "port", "elmsworth")  # "crane" follows a word of the title
    assert unpack_words(fp["names"]).tolist() == sorted({word_hash(w) for w in names})
    assert steps.fingerprint_text("Title\nBody", 6, 6, 10, 10)["n"] == 2  # "body" is too short: + the title
