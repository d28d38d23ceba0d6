"""The compiled watchlist screen (streams/escalation.py, _screen_runs) against the Python tests it
stands in for: name keys, LCS, word verdicts, whole watchlist scans, and the fallback when it fails."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import LCSseq

import streams.escalation as escalation
from streams.escalation import Rules, _key_mask_row, _name_key, _VerdictTable, _WatchScreen, _WordTable


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.load()


def article(body: str, title: str = "") -> dict:
    return {"id": "x", "norm": {"language": "en", "title": title, "body": body, "body_field": "content"}}


_ASCII_WORD = st.text(alphabet="abcdeghiklmnoqrstuwyzABCHKQSZ0_'-", min_size=1, max_size=14)
_FOLDS = st.lists(st.tuples(st.text("abchkoqsu", min_size=1, max_size=3), st.text("abchkoqsu", max_size=3))
                  .filter(lambda f: len(f[1]) <= len(f[0])), max_size=5)


@settings(max_examples=500, deadline=None)
@given(_ASCII_WORD, st.one_of(st.just(None), _FOLDS))
def test_word_key_is_name_key(rules: Rules, word: str, folds: list[tuple[str, str]] | None) -> None:
    folds = rules._watch["folds"] if folds is None else folds
    fold_at, pool = [0], b""
    for src, dst in folds:
        pool += src.encode()
        fold_at.append(len(pool))
        pool += dst.encode()
        fold_at.append(len(pool))
    text = np.frombuffer((" " + word + " ").encode(), dtype=np.uint8)
    key = np.empty(len(word), dtype=np.uint8)
    size = escalation._word_key(text, 1, 1 + len(word), np.array(fold_at, dtype=np.int32),
                                np.frombuffer(pool or b"\0", dtype=np.uint8), key)
    assert bytes(key[:size]).decode() == _name_key(word, folds)[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text("abcdkz019", max_size=9), min_size=1, max_size=4),
       st.lists(st.text("abcdkz019", min_size=1, max_size=63), min_size=1, max_size=4))
def test_bit_parallel_lcs_is_lcsseq(chunks: list[str], keys: list[str]) -> None:
    key_at, masks = [0], []
    for k in keys:
        key_at.append(key_at[-1] + len(k))
        masks += _key_mask_row(k)
    state = np.full(len(keys), ~np.uint64(0), dtype=np.uint64)
    joined = ""
    for chunk in chunks:  # appended word by word, as _may_name does
        joined += chunk
        escalation._lcs_extend(state, np.frombuffer(chunk.encode() or b"\0", dtype=np.uint8), len(chunk), 0,
                               len(keys), np.array(masks, dtype=np.uint64))
        for t, k in enumerate(keys):
            assert escalation._lcs_of(state[t], len(k)) == LCSseq.similarity(joined, k)


_NAMES = ["Abu", "Kamal", "Boukamal", "al-Bukamal", "Kataib", "Kata'ib", "Hezbollah", "Hizballah", "Hachd",
          "Chaabi", "Hashd", "Shaabi", "Ugarc", "Blair", "Popular", "Mobilization", "Units", "Gaza", "Strip",
          "US", "PMF", "On", "Al", "Ia", "Y", "Qaida", "Ansar", "Allah", "Houthi", "Wagner", "Kyiv", "Jff"]


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
        out.append(word + draw(st.sampled_from([" ", " ", " ", ", ", ". ", "-", "\n", "  "])))
    return "".join(out)


def _fresh(template: Rules, *, screen: bool = True, tiny_table: bool = False) -> Rules:
    fresh = copy.copy(template)
    fresh._fold_cache, fresh._may_start, fresh._no_start, fresh._run_cache = {}, {}, set(), {}
    fresh._known_words, fresh._step_cache = _WordTable(), {}
    if not screen:
        fresh._screen = None
        return fresh
    fresh._screen = copy.copy(template._screen)
    fresh._screen.verdicts = _VerdictTable(slots=8, limit=1_000) if tiny_table else _VerdictTable()
    return fresh


def test_fields_are_screened_apart(rules: Rules) -> None:
    # one pass over the fields joined by a line break: runs and n-grams stay inside their field
    # ("Abu" ends the title: "Abu Kamal" is not an n-gram of it)
    fields = (("title", "Talks in Abu", 1.5), ("content", "Kamal said. Boukamal fell", 1.0), ("x", "", 1.0),
              ("y", "Hezbollah", 1.0))
    assert _fresh(rules)._screened_runs(fields, set(), _WordTable()) == \
        [[], [(12, "Boukamal")], [], [(0, "Hezbollah")]]
    fields = (("title", "Talks in Abu Kamal", 1.5), ("content", "Boukamal fell", 1.0))
    assert _fresh(rules)._screened_runs(fields, set(), _WordTable()) == [[(9, "Abu")], [(0, "Boukamal")]]
    assert _fresh(rules)._watchlist(fields) == _fresh(rules, screen=False)._watchlist(fields)


@settings(max_examples=400, deadline=None)
@given(_name_text(), _name_text(), st.booleans())
def test_screened_watchlist_is_the_python_watchlist(rules: Rules, title: str, body: str, tiny: bool) -> None:
    fields = (("title", title, 1.5), ("content", body, 1.0))
    screened, plain = _fresh(rules, tiny_table=tiny), _fresh(rules, screen=False)
    expected = plain._watchlist(fields)
    for _ in range(2):  # cold, then with the word verdicts known
        assert screened._watchlist(fields) == expected
    assert screened._screen is not None


def test_screen_leaves_out_what_cannot_match(rules: Rules) -> None:
    screened = _fresh(rules)
    text = ("Xqzvb said on Monday that Ugarc troops left Boukamal. Hezbollah and the PMF stayed. On Monday "
            "Blair spoke near Abu Kamal.")
    kept = [w for _, w in screened._screened_runs((("title", text, 1.0),), set(), _WordTable())[0]]
    # left out: no bucket (Xqzvb, Monday; "On" + "Monday"), no n-gram within reach (Ugarc, Blair + "spoke");
    # kept: the names, an exact alias (PMF) and "Abu" (one skeleton char: "Abu Kamal" decides)
    assert kept == ["Boukamal", "Hezbollah", "PMF", "Abu"]
    assert [m["term"] for m in screened._watchlist((("title", text, 1.0),))] == \
        ["Boukamal", "Hezbollah", "PMF", "Abu Kamal"]


@pytest.mark.parametrize(("kernel", "screen_off", "after"), [
    # the compiled watchlist screen -> the Python tests; the capitalised-word pass behind it still runs compiled
    ("_screen_runs", False, {"_screen": None, "_runs_compiled": True}),
    # the capitalised-word pass behind the screen -> the regex (the screen finds the runs first: off)
    ("_capital_runs", True, {"_runs_compiled": False}),
])
def test_a_failing_kernel_falls_back_to_python(monkeypatch: pytest.MonkeyPatch, kernel: str, screen_off: bool,
                                               after: dict[str, object]) -> None:
    text = "Fighters loyal to Kataib Hezbollah near Abu Kamal, US officials said."
    expected = Rules.load().score(article(text, "Strike near Boukamal")).to_dict()

    def broken(*_: object) -> None:
        raise ModuleNotFoundError("stale kernel cache")

    monkeypatch.setattr(escalation, kernel, broken)
    fresh = Rules.load()
    if screen_off:
        fresh._screen = None
    assert fresh.score(article(text, "Strike near Boukamal")).to_dict() == expected
    assert {name: getattr(fresh, name) for name in after} == after


def test_lengthening_folds_or_long_keys_leave_the_screen_out(rules: Rules) -> None:
    index, exact, max_tokens = rules._watch_index
    assert isinstance(_WatchScreen(index, exact, rules._watch["folds"], rules._watch_lengths,
                                   rules._watch["threshold"], max_tokens - 1), _WatchScreen)
    watch = dict(rules._watch, folds=[*rules._watch["folds"], ("x", "ks")])
    grown = Rules(version="t", thresholds=rules.thresholds, categories=rules.categories, modifiers=rules.modifiers,
                  languages=rules._languages, scoring=rules.scoring, casualty_bonus=rules.casualty_bonus,
                  entities=rules._entities, watchlist=watch, default_language=rules.default_language, files=[])
    assert grown._screen is None
    text = "Fighters loyal to Kataib Hezbollah near Abu Kamal, US officials said, Boxkamal too."
    assert grown.score(article(text)).matches  # still matched, by the Python tests


def test_the_verdict_table_is_bounded(rules: Rules) -> None:
    screened = _fresh(rules)
    screen = screened._screen
    screen.verdicts.used[0] = 50_001  # as if full: cleared before the next pass
    kept = screened._screened_runs((("title", "Hezbollah near Boukamal", 1.0),), set(), _WordTable())[0]
    assert [w for _, w in kept] == ["Hezbollah", "Boukamal"]
    assert screen.verdicts.used[0] == 2  # the capitalised words, anew


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="AaBbZz09_'xé", min_size=1, max_size=18), min_size=1, max_size=40))
def test_verdict_table_keeps_words_apart(rules: Rules, words: list[str]) -> None:
    # words differing in one byte, in length, or past 8 and 15 bytes each get their own verdict
    text = " ".join(w[0].upper() + w[1:] for w in words)
    small, big = _fresh(rules, tiny_table=True), _fresh(rules, screen=False)
    fields = (("title", text, 1.0),)
    for _ in range(2):
        assert small._watchlist(fields) == big._watchlist(fields)
    table = small._screen.verdicts
    assert table.used[0] <= len(table.cells) // 4  # at most half of the slots



_PHRASE_PIECES = ["attack", "killed", "were shot", "heart attack", "air strike", "airstrike", "strike a deal",
                  "3", "twenty-five", "dozens", "victims", "fired on protesters", "l'attaque", "tués", "car bomb",
                  "bomb", "hostages", "no one was hurt", "drill", "Gaza", "the", "said"]


@st.composite
def _phrase_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(_PHRASE_PIECES), st.text(max_size=5)), max_size=15))
    glue = draw(st.lists(st.sampled_from([" ", ", ", ". ", "-", "\n", "é "]), min_size=len(parts),
                         max_size=len(parts)))
    return "".join(p + g for p, g in zip(parts, glue, strict=True))


@settings(max_examples=400, deadline=None)
@given(st.lists(_phrase_text(), min_size=1, max_size=3), st.sampled_from(["en", "fr", "*"]))
def test_fields_scanned_together_find_each_fields_phrases(rules: Rules, texts: list[str], language: str) -> None:
    phrases = rules._compiled[language].phrases
    paddeds = [" " + escalation.fold(t) for t in texts]
    starts = phrases.field_starts(paddeds)
    assert (starts is None) == (len(texts) < 2)
    for k, padded in enumerate(paddeds):
        expected = [(s, e, meta) for s, e, meta in phrases.find(padded[1:], padded) if meta is not None]
        assert list(phrases.find_events(padded[1:], padded, None if starts is None else starts[k])) == expected


def test_a_failing_joint_phrase_pass_falls_back_to_the_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = Rules.load()
    text = "Gunmen opened fire on a bus, killing twenty-five passengers. It was not a heart attack."
    expected = fresh.score(article(text, "Air strike hits convoy")).to_dict()
    scanner = fresh._compiled["en"].phrases._scanner

    def broken(padded: str) -> list[int]:
        raise ModuleNotFoundError("stale kernel cache")

    monkeypatch.setattr(scanner, "starts", broken)
    assert fresh.score(article(text, "Air strike hits convoy")).to_dict() == expected
    assert fresh._compiled["en"].phrases._scanner is None
