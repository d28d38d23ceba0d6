"""Each compiled step of escalation (streams/_accel/phrases.py, streams/_accel/watchlist.py) against its
reference in the domain package (literals.py, namescreen.py): same inputs, same results, on random
text (non-ASCII, names with diacritics, empty, long), and the kernels' building blocks against the
Python meaning they stand for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.escalation_impls import implementation, implementations, twin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import LCSseq

from streams import _accel
from streams.escalation import Rules, fold, literals, namescreen
from streams.escalation.literals import anchors_of
from streams.escalation.matching import modifier_items, phrase_items
from streams.escalation.model import Entity, Watchlist, merge_languages
from streams.escalation.namekeys import name_key
from streams.escalation.watchlist import NAME_START, RUN_CHAR, NameFinder, find_names_plainly

ACCEL = "accel" in implementations()
needs_accel = pytest.mark.accel  # (tests/unit/conftest.py deselects it where the kernels are not loaded)
FIXTURE = [HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def shipped() -> Rules:
    return Rules.load()


# ---- phrase starts ----------------------------------------------------------------------------------

_PHRASE_PIECES = ["attack", "killed", "were shot", "heart attack", "air strike", "airstrike", "strike a deal",
                  "3", "1,200", "twenty-five", "dozens", "victims", "fired on protesters", "l'attaque", "tués",
                  "car bomb", "bomb", "hostages", "no one was hurt", "drill", "Gaza", "the", "said", "٣", "ÉTAT"]


@st.composite
def _phrase_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(_PHRASE_PIECES), st.text(max_size=5)), max_size=30))
    glue = draw(st.lists(st.sampled_from([" ", ", ", ". ", "-", "\n", "é ", "’", "\u00a0"]), min_size=len(parts),
                         max_size=len(parts)))
    return "".join(p + g for p, g in zip(parts, glue, strict=True))


def _anchor_sets(rules: Rules) -> Iterator[literals.LiteralAnchors]:
    """The literal anchors of the shipped phrase sets. A set with a raw `re:` phrase has none (the
    regex scans the whole text: test_phrase_sets_without_literal_anchors_scan_with_the_regex); the
    rest of its phrases still make a set of anchors for the twins to agree on."""
    languages = [*rules.language_rules.values(), merge_languages(list(rules.language_rules.values()))]
    for lang in languages:
        for items in (phrase_items(lang), modifier_items(lang)):
            anchored = [(source, meta) for source, meta in items if not source.startswith("re:")]
            assert len(anchored) > 0.9 * len(items)
            anchors = anchors_of(anchored, lang.number_words)
            assert anchors is not None
            yield anchors


@needs_accel
@settings(max_examples=300, deadline=None)
@given(st.one_of(_phrase_text(), st.text(max_size=80), st.text(max_size=4000).map(lambda t: t * 3)),
       st.booleans())
def test_phrase_starts_twins_agree(shipped: Rules, text: str, folded: bool) -> None:
    padded = " " + (fold(text) if folded else text)
    for anchors in _anchor_sets(shipped):
        expected = literals.phrase_starts(literals.literal_index(anchors), padded)
        accel = twin(literals, "phrase_starts", "phrases", "accel")
        index = twin(literals, "literal_index", "phrases", "accel")(anchors)  # type: ignore[operator]
        assert accel(index, padded) == expected  # type: ignore[operator]


def test_phrase_starts_are_first_words_of_live_phrases() -> None:
    anchors = anchors_of([("heart attack", None), ("attack*", ("armed_attack", "attack*")),
                          ("car bomb", ("bombing", "car bomb"))], {})
    assert anchors is not None
    for impl in implementations():
        index = twin(literals, "literal_index", "phrases", impl)(anchors)  # type: ignore[operator]
        starts = twin(literals, "phrase_starts", "phrases", impl)
        assert starts(index, " a heart attack") == [2, 8]  # type: ignore[operator]
        assert starts(index, " a car crash") == []  # type: ignore[operator]  # "bomb" anchors car bomb
        assert starts(index, " car bomb") == [0]  # type: ignore[operator]
        assert starts(index, " heart") == []  # type: ignore[operator]  # only an exclusion is live
        assert starts(index, "") == []  # type: ignore[operator]


@pytest.mark.parametrize("impl", implementations())
@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(_phrase_text(), min_size=1, max_size=3), st.sampled_from(["en", "fr", "*"]))
def test_fields_scanned_together_find_each_fields_phrases(impl: str, texts: list[str], language: str) -> None:
    with implementation(impl):
        phrases = _rules(impl).matcher(language).phrases
        paddeds = [" " + fold(t) for t in texts]
        starts = phrases.field_starts(paddeds)
        assert (starts is None) == (len(texts) < 2)
        for k, padded in enumerate(paddeds):
            expected = [(s, e, meta) for s, e, meta in phrases.find(padded[1:], padded) if meta is not None]
            assert list(phrases.find_events(padded[1:], padded, None if starts is None else starts[k])) == expected


_LOADED: dict[str, Rules] = {}


def _rules(impl: str) -> Rules:
    if impl not in _LOADED:
        with implementation(impl):
            _LOADED[impl] = Rules.load()
    return _LOADED[impl]


# ---- the name screen ----------------------------------------------------------------------------------

_ASCII_WORD = st.text(alphabet="abcdeghiklmnoqrstuwyzABCHKQSZ0_'-", min_size=1, max_size=14)
_NAMES = ["Abu", "Kamal", "Boukamal", "al-Bukamal", "Kataib", "Kata'ib", "Hezbollah", "Hizballah", "Hachd",
          "Chaabi", "Hashd", "Shaabi", "Ugarc", "Blair", "Popular", "Mobilization", "Units", "Gaza", "Strip",
          "US", "PMF", "On", "Al", "Ia", "Y", "Qaida", "Ansar", "Allah", "Houthi", "Wagner", "Kyiv", "Jff",
          "Al-Qaïda", "Crimée", "Déir", "Ōrmuz", "Idleb", "Gardiens", "Révolution", "Xaver", "Axiom"]


@st.composite
def _name_text(draw: st.DrawFn) -> str:
    """Name-like words (capitalised or not, cut, repeated letters) among plain words, one space apart
    mostly: the n-grams the screen has to follow."""
    out = []
    for _ in range(draw(st.integers(0, 30))):
        word = draw(st.one_of(st.sampled_from(_NAMES), _ASCII_WORD, st.sampled_from(["é", "Émile", "×", "ß"])))
        if draw(st.booleans()):
            word = word[: draw(st.integers(1, 12))]
        if draw(st.integers(0, 3)) == 0:
            word = word.lower() if word[:1].isupper() else word.capitalize()
        out.append(word + draw(st.sampled_from([" ", " ", " ", ", ", ". ", "-", "\n", "  ", "’s "])))
    return "".join(out)


def _screens(watch: Watchlist, impl: str, tiny: bool = False) -> object:
    index = NameFinder(watch).index
    build = twin(namescreen, "name_screen", "watchlist", impl)
    screen = build({p: keys for p, (keys, _) in index.buckets.items()},  # type: ignore[operator]
                   {p: longest for p, (_, longest) in index.lengths.items()}, frozenset(index.exact), index.folds,
                   index.threshold, index.max_tokens - 1, NAME_START, RUN_CHAR)
    if tiny:  # collisions, a full table
        from streams._accel.watchlist import VerdictTable
        screen = screen._replace(verdicts=VerdictTable(slots=8, limit=1_000))
    return screen


# a watchlist out of the shipped one's ways: folds that lengthen keys, a key past 64 chars
_ODD = Watchlist(threshold=80.0, folds=(("x", "ks"), ("c", "tch"), ("q", "k"), ("oo", "u")), entities=(
    Entity("Axiom Brigade", "actor", frozenset({"AXB"}), ("Axiom Brigade", "Aksiom Brigade")),
    Entity("Long", "actor", frozenset(), ("Organisation for the Liberation of the Coastal Mountain Provinces and "
                                          "the Islands of the Northern Sea",)),
    Entity("Cox", "place", frozenset(), ("Cox Bazar", "Coxs Bazaar")),
    Entity("Qooq", "place", frozenset(), ("Qooqa",)),
))


@needs_accel
@settings(max_examples=400, deadline=None)
@given(_name_text(), _name_text(), st.booleans(), st.booleans())
def test_screen_twins_agree(shipped: Rules, title: str, body: str, tiny: bool, odd: bool) -> None:
    watch = _ODD if odd else shipped.watchlist
    if odd:
        body += " Organisation for the Liberation of the Coastal Mountain Provinces and the Islands"
    reference, compiled = _screens(watch, "python"), _screens(watch, "accel", tiny)
    runs = twin(namescreen, "screen_runs", "watchlist", "accel")
    text = title + "\n" + body
    expected = namescreen.screen_runs(reference, text)  # type: ignore[arg-type]
    for _ in range(2):  # cold, then with the word verdicts known
        assert runs(compiled, text) == expected  # type: ignore[operator]


@pytest.mark.parametrize("impl", implementations())
@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(_name_text(), st.text(max_size=60))
def test_odd_watchlists_find_what_the_plain_scan_finds(impl: str, text: str, noise: str) -> None:
    with implementation(impl):
        finder = NameFinder(_ODD)
        fields = (("title", noise, 1.5), ("content", text + " Aksiom Brigad, Cox's Bazar, Qooqa", 1.0))
        assert finder.find(fields) == find_names_plainly(finder.index, fields)


@pytest.mark.parametrize("impl", implementations())
def test_screen_leaves_out_what_cannot_match(shipped: Rules, impl: str) -> None:
    text = ("Xqzvb said on Monday that Ugarc troops left Boukamal. Hezbollah and the PMF stayed. On Monday "
            "Blair spoke near Abu Kamal.")
    screen = _screens(shipped.watchlist, impl)
    bounds = twin(namescreen, "screen_runs", "watchlist", impl)(screen, text)  # type: ignore[operator]
    # left out: no bucket (Xqzvb, Monday; "On" + "Monday"), no n-gram within reach (Ugarc, Blair + "spoke");
    # kept: the names, an exact alias (PMF) and "Abu" (one skeleton char: "Abu Kamal" decides)
    assert [text[a:b] for a, b in zip(bounds[::2], bounds[1::2], strict=True)] == \
        ["Boukamal", "Hezbollah", "PMF", "Abu"]
    with implementation(impl):
        assert [m["term"] for m in NameFinder(shipped.watchlist).find((("title", text, 1.0),))] == \
            ["Boukamal", "Hezbollah", "PMF", "Abu Kamal"]


@pytest.mark.parametrize("impl", implementations())
def test_fields_are_screened_apart(shipped: Rules, impl: str) -> None:
    # one pass over the fields joined by a line break: runs and n-grams stay inside their field
    # ("Abu" ends the title: "Abu Kamal" is not an n-gram of it)
    with implementation(impl):
        finder = NameFinder(shipped.watchlist)
        fields = (("title", "Talks in Abu", 1.5), ("content", "Kamal said. Boukamal fell", 1.0), ("x", "", 1.0),
                  ("y", "Hezbollah", 1.0))
        assert [m["term"] for m in finder.find(fields)] == ["Boukamal", "Hezbollah"]
        assert finder.find(fields) == find_names_plainly(finder.index, fields)


@needs_accel
def test_the_verdict_table_is_bounded(shipped: Rules) -> None:
    screen = _screens(shipped.watchlist, "accel")
    runs = twin(namescreen, "screen_runs", "watchlist", "accel")
    screen.verdicts.used[0] = 50_001  # type: ignore[attr-defined]  # as if full: cleared before the next pass
    bounds = runs(screen, "Hezbollah near Boukamal")  # type: ignore[operator]
    assert bounds == [0, 9, 15, 23]
    assert screen.verdicts.used[0] == 2  # type: ignore[attr-defined]  # the capitalised words, anew


# ---- the kernels' building blocks ---------------------------------------------------------------------

_FOLDS = st.lists(st.tuples(st.text("abchkoqsux", min_size=1, max_size=3), st.text("abchkoqsux", max_size=4)),
                  max_size=5)


@needs_accel
@settings(max_examples=500, deadline=None)
@given(_ASCII_WORD, st.one_of(st.just(None), _FOLDS))
def test_word_key_is_name_key(shipped: Rules, word: str, folds: list[tuple[str, str]] | None) -> None:
    import numpy as np

    from streams._accel import watchlist as kernels

    folds = list(shipped.watchlist.folds) if folds is None else folds
    screen = kernels.name_screen({}, {}, (), folds, 80.0, 2, NAME_START, RUN_CHAR)
    text = np.frombuffer((" " + word + " ").encode(), dtype=np.uint8)
    key = np.empty(len(word) * screen.growth + 1, dtype=np.uint8)
    spare = np.empty_like(key)
    size = kernels._word_key(text, 1, 1 + len(word), *screen.folds, key, spare)
    assert bytes(key[:size]).decode() == name_key(word, tuple(folds))[0]


@needs_accel
@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("abcdkz019", max_size=9), min_size=1, max_size=4),
       st.lists(st.text("abcdkz019", min_size=1, max_size=90), min_size=1, max_size=4))
def test_lcs_of_the_kernels_is_lcsseq(chunks: list[str], keys: list[str]) -> None:
    import numpy as np

    from streams._accel import watchlist as kernels

    key_at, masks = [0], []
    for k in keys:
        key_at.append(key_at[-1] + len(k))
        masks += kernels._key_mask_row(k)
    at = np.array(key_at, dtype=np.int32)
    pool = np.frombuffer("".join(keys).encode(), dtype=np.uint8)
    row = np.zeros(len(pool) + 1, dtype=np.int64)
    state = np.full(len(keys), ~np.uint64(0), dtype=np.uint64)
    joined = ""
    for chunk in chunks:  # appended word by word, as the screen follows an n-gram
        joined += chunk
        kernels._lcs_extend(state, np.frombuffer(chunk.encode() or b"\0", dtype=np.uint8), len(chunk), 0,
                            len(keys), np.array(masks, dtype=np.uint64), at)
        whole = np.frombuffer(joined.encode() or b"\0", dtype=np.uint8)
        for t, k in enumerate(keys):
            assert kernels._lcs(state, t, 0, whole, len(joined), at, pool, row) == LCSseq.similarity(joined, k)


def test_the_switch_is_the_environment_variable() -> None:
    assert _accel.IMPL in ("python", "accel")
    assert implementations()[0] == "python"
