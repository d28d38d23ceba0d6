"""Behaviour of the shipped escalation rules and of the scorer (pure, no Kafka)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.escalation import DEFAULT_RULES, SEVERITIES, Escalation, Rules, _WordTable, fold

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_aa3391fe6c98fe85.txt"
MEDIUM = SEVERITIES.index("medium")


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.load()


def article(body: str, title: str = "", language: str = "en", body_field: str = "content") -> dict:
    return {"id": "x", "norm": {"language": language, "title": title, "body": body, "body_field": body_field}}


def flagged(esc: Escalation) -> bool:
    return SEVERITIES.index(esc.severity) >= MEDIUM


def test_seed_article_is_high_or_critical_with_17_dead(rules: Rules) -> None:
    title, _, body = SEED.read_text("utf-8").partition("\n")
    esc = rules.score(article(body, title))
    assert esc.severity in ("high", "critical")
    assert esc.casualties == 17
    assert {"armed_attack", "casualties"} <= set(esc.categories)
    names = {m.get("entity") for m in esc.matches if m["category"] == "watchlist"}
    assert {"Popular Mobilization Forces", "Abu Kamal", "Kataib Hezbollah"} <= names


def test_matches_slice_to_their_term(rules: Rules) -> None:
    title, _, body = SEED.read_text("utf-8").partition("\n")
    esc = rules.score(article(body, title, body_field="summary"))
    for m in esc.matches:
        text = title if m["field"] == "title" else body
        assert m["field"] in ("title", "summary")
        assert text[m["start"]:m["end"]] == m["term"]
    assert esc.to_dict()["casualties"] == 17


@pytest.mark.parametrize("text", [
    "No casualties were reported after the incident at the border post.",
    "The army denied carrying out the strike on the village.",
    "Troops took part in a military drill near the border on Tuesday.",
    "Nobody was killed and no one was hurt, police said.",
    "The navy held a joint exercise with missile launches off the coast.",
    "The group threatened to attack the embassy if its demands were not met.",
    "Officials warned that the militia could attack again.",
])
def test_negated_hedged_and_drills_are_not_medium(rules: Rules, text: str) -> None:
    esc = rules.score(article(text))
    assert not flagged(esc), (esc.severity, esc.matches)


@pytest.mark.parametrize("text, count", [
    ("An air strike killed 17 people in the town.", 17),
    ("At least 17 fighters perished in the raid.", 17),
    ("Two people were killed when rockets hit the base.", 2),
    ("Gunmen opened fire on a bus, killing twenty-five passengers and wounding 40.", 25),
    ("The death toll from the bombing rose to 1,200 on Monday.", 1200),
    ("Un bombardement a fait 17 morts dans la ville.", 17),
    ("Les frappes ont touché un convoi, tuant 12 personnes.", 12),
])
def test_casualty_counts(rules: Rules, text: str, count: int) -> None:
    language = "fr" if " la " in text or " un " in text.lower() else "en"
    esc = rules.score(article(text, language=language))
    assert esc.casualties == count
    assert flagged(esc)


def test_counts_ignore_dates_ages_and_the_wounded(rules: Rules) -> None:
    esc = rules.score(article("On March 17 a bomb killed a soldier and wounded 40 others in 2019."))
    assert esc.casualties is None
    esc = rules.score(article("A 15-year-old boy was killed by a stray bullet."))
    assert esc.casualties is None


def test_french_phrases_with_accents_and_elisions(rules: Rules) -> None:
    esc = rules.score(article("Des frappes aériennes ont visé l'armée ; l'attaque a été revendiquée.", language="fr"))
    assert "armed_attack" in esc.categories
    assert flagged(esc)


@pytest.mark.parametrize(("text", "term", "category"), [
    ("L'explosion a tué deux soldats.", "explosion", "bombing"),
    ("Kinshasa a ordonné l’expulsion de trois diplomates.", "expulsion de trois diplomates", "sanctions"),
    ("Le président dénonce l'attaque.", "attaque", "armed_attack"),
    ("Trois soldats ont été tués lors de l'assaut contre la base.", "assaut", "armed_attack"),
    # and a later word of a phrase may follow one too (expuls* ~4 ambassadeur*)
    ("Bamako a ordonné l'expulsion de l'ambassadeur d'Algérie.", "expulsion de l'ambassadeur", "sanctions"),
])
def test_a_phrase_starts_after_a_french_elision(rules: Rules, text: str, term: str, category: str) -> None:
    # until 2026-11 a phrase never started after an apostrophe, so "l'attaque" held no "attaque"
    esc = rules.score(article(text, language="fr"))
    found = [(m["term"], m["category"]) for m in esc.matches]
    assert (term, category) in found, found
    match = next(m for m in esc.matches if m["term"] == term)
    assert text[match["start"]:match["end"]] == term


@pytest.mark.parametrize("text", ["They don't attack.", "It's rock 'n' roll."])
def test_an_english_apostrophe_starts_no_word(rules: Rules, text: str) -> None:
    # "don't" holds no word "t", "'n'" no word "n": only an elision letter at a word start elides
    from streams.escalation import _WORD_START
    assert re.findall(_WORD_START + r"(t|n)\b", " " + fold(text)) == []


def test_a_number_with_thousands_separators_is_one_word_of_a_gap(rules: Rules) -> None:
    esc = rules.score(article("Venezuela deployed around 4,000 soldiers to its eastern frontier."))
    assert [m["term"] for m in esc.matches] == ["deployed around 4,000 soldiers"]
    assert flagged(esc)


def test_unknown_language_falls_back_to_all_rules(rules: Rules) -> None:
    assert flagged(rules.score(article("Rebels attacked a checkpoint, killing three soldiers.", language="und")))
    assert flagged(rules.score(article("L'attaque a fait trois morts.", language="xx")))


def test_watchlist_alone_is_not_medium(rules: Rules) -> None:
    text = ("Hashd al-Shaabi, Kata'ib Hizballah, Abu Kamal, Deir ez-Zor, Erbil, Idlib, Hezbollah and the "
            "IRGC were mentioned at a conference on reconstruction.")
    esc = rules.score(article(text))
    assert esc.severity in ("none", "low")
    assert len({m["entity"] for m in esc.matches if m["category"] == "watchlist"}) >= 5


@pytest.mark.parametrize("variant, entity", [
    ("Hachd al-Chaabi", "Popular Mobilization Forces"),
    ("Hashd al-Shaabi", "Popular Mobilization Forces"),
    ("Boukamal", "Abu Kamal"),
    ("Abu Kamal", "Abu Kamal"),
    ("Kata'ib Hizballah", "Kataib Hezbollah"),
    ("Kataeb Hezbollah", "Kataib Hezbollah"),
])
def test_watchlist_transliterations_meet(rules: Rules, variant: str, entity: str) -> None:
    esc = rules.score(article(f"Fighters of {variant} were seen on Monday."))
    assert entity in {m.get("entity") for m in esc.matches}


@pytest.mark.parametrize("text", [
    "The president suffered a heart attack on Sunday.",
    "The two firms struck a deal to merge their operations.",
    "The government vowed to fight corruption and poverty.",
    "Shares rose after the company announced a trade war truce.",
])
def test_figurative_uses_are_not_flagged(rules: Rules, text: str) -> None:
    assert not flagged(rules.score(article(text)))


def test_title_counts_more_than_body(rules: Rules) -> None:
    in_title = rules.score(article("", title="Rebels attack army post"))
    in_body = rules.score(article("Rebels attack army post"))
    assert in_title.score > in_body.score


@pytest.mark.parametrize("normed", [
    {}, {"norm": None}, {"norm": {}}, {"norm": {"title": None, "body": 5}},
    {"norm": {"language": None, "title": "", "body": "", "body_field": "content"}},
    article("killed " * 3, language="zz"),
])
def test_odd_input_never_raises(rules: Rules, normed: dict) -> None:
    esc = rules.score(normed)
    assert esc.severity in SEVERITIES


def test_huge_article_is_capped(rules: Rules) -> None:
    import time
    body = SEED.read_text("utf-8") * 1700   # about 5 MB
    started = time.perf_counter()
    esc = rules.score(article(body))
    assert time.perf_counter() - started < 1.0
    assert esc.severity in ("high", "critical")


def test_scoring_is_deterministic(rules: Rules) -> None:
    title, _, body = SEED.read_text("utf-8").partition("\n")
    assert rules.score(article(body, title)).to_dict() == rules.score(article(body, title)).to_dict()


def test_fold_keeps_length() -> None:
    for text in ("Frappé à Alep – l’armée", "İstanbul ŒUVRE ß", "plain"):
        assert len(fold(text)) == len(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.text(max_size=60), st.sampled_from(["en", "fr", "und", "de", ""]))
def test_property_never_raises_and_offsets_slice(title: str, body: str, language: str) -> None:
    rules = _shared_rules()
    body = body + " killed 3 in an attack near Boukamal"
    esc = rules.score(article(body, title, language=language))
    assert esc.severity in SEVERITIES
    for m in esc.matches:
        text = title if m["field"] == "title" else body
        assert text[m["start"]:m["end"]] == m["term"]
        assert m["start"] < m["end"]


_CACHE: dict[str, Rules] = {}


def _shared_rules() -> Rules:
    if "r" not in _CACHE:
        _CACHE["r"] = Rules.load(DEFAULT_RULES)
    return _CACHE["r"]


@pytest.mark.parametrize("text", [
    # a title before a name does not end the sentence: the condolences cover the attack
    "The king sent a condolence message to President Dr. Ashraf Ghani following the terrorist assault.",
    # a modifier inside a phrase's gap applies: the strike was called off
    "Truck drivers called off a four-day strike on Monday.",
    # the release is the event, the earlier arrest is background
    "The government freed several activists who were jailed during the protests.",
])
def test_main_event_is_not_the_conflict(rules: Rules, text: str) -> None:
    esc = rules.score(article(text))
    assert not flagged(esc), (esc.severity, esc.matches)


@pytest.mark.parametrize("text", [
    "About 1,100 employees stopped work in a strike for higher wages.",   # "stopped work" is the event
    "Gunmen killed Abdullah and four other members of his family and later freed his wife.",  # freed after
])
def test_events_stay_flagged(rules: Rules, text: str) -> None:
    assert flagged(rules.score(article(text)))


# ---- the fast paths give the answers of the plain scans they replace -------------------------------

_PIECES = ["attack", "attacks", "killed", "kill", "were shot", "was", "heart attack", "air strike",
           "air-strike", "airstrike", "strike a deal", "3", "1,200", "٣", "twenty-five", "dozens", "victims",
           "fired on protesters", "Hezbollah", "Kataeb Hezbollah", "Anti-Hezbollah", "Al-Qaida", "It", "In",
           "Abu Kamal", "Boukamal", "PMF", "Gaza", "Hachd al-Chaabi", "US", "l'attaque", "tués", "Blair"]
_GLUE = [" ", "  ", ", ", ". ", "-", "'", "’", "\n", " (", "\u00a0", "«", "_", "—", "...", "؟"]


@st.composite
def _mixed_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=25))
    glue = draw(st.lists(st.sampled_from(_GLUE), min_size=len(parts), max_size=len(parts)))
    return "".join(p + g for p, g in zip(parts, glue, strict=True))


@settings(max_examples=300, deadline=None)
@given(_mixed_text(), st.sampled_from(["en", "fr", "*"]))
def test_phrase_prefilter_finds_what_the_regex_finds(rules: Rules, text: str, language: str) -> None:
    phrases = rules._compiled[language].phrases
    folded = fold(text)
    padded = " " + folded
    expected = [(s, e, meta) for s, e, meta in phrases.find(folded, padded) if meta is not None]
    assert list(phrases.find_events(folded, padded)) == expected


def _fresh_rules(template: Rules) -> Rules:
    """`template` with empty watchlist caches (cheaper than loading the rules again)."""
    fresh = copy.copy(template)
    fresh._fold_cache, fresh._may_start, fresh._no_start, fresh._run_cache = {}, {}, set(), {}
    fresh._known_words, fresh._step_cache = _WordTable(), {}
    if template._screen is not None:  # an empty table of word verdicts too
        fresh._screen = copy.copy(template._screen)
        fresh._screen.verdicts = type(template._screen.verdicts)()
    return fresh


def _watchlist_reference(rules: Rules, fields: tuple) -> list[dict]:
    """The watchlist scan as it was: every capitalised word start visited in text order."""
    index, exact, _ = rules._watch_index
    runs = re.compile(r"[A-Z\u00C0-\u00DE\u0100-\u024F\u0391-\u03A9\u0410-\u042F](?<![\w'’].)(?=([\w'’\-]*))")
    tail = rules._name_tail
    threshold, folds, cache = rules._watch["threshold"], rules._watch["folds"], {}
    found = []
    for _field, text, _ in fields:
        covered = 0
        for run in runs.finditer(text):
            start = run.start()
            if start < covered:
                continue
            word = text[start] + run.group(1)
            ok = rules._can_start(word, index, exact, folds, cache)
            if not ok:
                continue
            if ok == 2:
                nxt = re.compile(r" [\w'’\-]+").match(text, start + len(word))
                if nxt is not None and not rules._can_start(word + nxt.group(), index, exact, folds, cache):
                    continue
            if word in exact:
                found.append({"term": word, "entity": exact[word].name, "start": start})
                covered = start + len(word)
                continue
            words = (word + tail.match(text, start + len(word)).group()).split(" ")
            best = rules._best_name(words, index, threshold, folds, cache)
            if best is not None:
                end = start + sum(len(w) + 1 for w in words[:best[1] + 1]) - 1
                found.append({"term": text[start:end], "entity": best[2].name, "start": start,
                              "similarity": round(best[0], 1)})
                covered = end
    return found


@settings(max_examples=300, deadline=None)
@given(_mixed_text(), _mixed_text())
def test_watchlist_prefilters_find_what_a_full_scan_finds(rules: Rules, title: str, body: str) -> None:
    rules = _fresh_rules(rules)
    fields = (("title", title, 1.5), ("content", body, 1.0))
    for _ in range(2):  # cold, then with the caches filled
        got = [{k: m[k] for k in ("term", "entity", "start", "similarity") if k in m} for m in rules._watchlist(fields)]
        assert got == _watchlist_reference(rules, fields)


def test_a_failing_phrase_prefilter_falls_back_to_the_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = Rules.load()
    text = "Gunmen opened fire on a bus, killing twenty-five passengers. It was not a heart attack."
    expected = fresh.score(article(text, "Air strike hits convoy")).to_dict()
    for compiled in fresh._compiled.values():
        scanner = compiled.phrases._scanner
        assert scanner is not None

        def broken(padded: str) -> list[int]:
            raise ModuleNotFoundError("stale kernel cache")

        monkeypatch.setattr(scanner, "starts", broken)
    assert fresh.score(article(text, "Air strike hits convoy")).to_dict() == expected
    assert all(c.phrases._scanner is None for c in fresh._compiled.values() if c is fresh._compiled["en"])


_ASCII_RUN_TEXT = st.text(alphabet="AaBbZz09_'- .,\n-HeUSBlair", max_size=60)
_RUN_TEXT = st.one_of(_ASCII_RUN_TEXT, st.text(alphabet="AaBé’'-× ÉĀΔДжʼ؟\u00a0x_1.", max_size=40),
                      st.text(max_size=30))


@settings(max_examples=300, deadline=None)
@given(st.one_of(_mixed_text(), _RUN_TEXT))
def test_compiled_capital_runs_are_the_regex_runs(rules: Rules, text: str) -> None:
    expected = [(m.start(), m[0]) for m in rules._name_words.finditer(text)]
    assert rules._runs(text, set()) == expected
    skip = {w for _, w in expected[::2]}
    assert rules._runs(text, skip) == [(s, w) for s, w in expected if w not in skip]


@settings(max_examples=200, deadline=None)
@given(_mixed_text(), _mixed_text())
def test_to_dict_is_asdict(rules: Rules, title: str, body: str) -> None:
    from dataclasses import asdict

    result = rules.score(article(body, title))
    assert result.to_dict() == asdict(result)
    nested = Escalation("low", 1.0, ["a"], None, [{"term": "x", "list": [1, {"k": [2]}]}])
    assert nested.to_dict() == asdict(nested)
    assert nested.to_dict()["matches"][0]["list"] is not nested.matches[0]["list"]


def _best_name_reference(rules: Rules, words: list[str]) -> tuple | None:
    """Every n-gram from words[0] compared with its whole bucket (until the bucket is known not to exist)."""
    from rapidfuzz import fuzz, process

    from streams.escalation import _name_key

    index, _, _ = rules._watch_index
    folds, threshold = rules._watch["folds"], rules._watch["threshold"]
    joined = skeleton = ""
    best = None
    for j, w in enumerate(words):
        key = _name_key(w, folds)
        joined, skeleton = joined + key[0], skeleton + key[1]
        if len(skeleton) < 2:
            continue
        bucket = index.get(skeleton[:2])
        if bucket is None:
            break
        hit = process.extractOne(joined, bucket[0], scorer=fuzz.ratio, score_cutoff=threshold)
        if hit is not None and (best is None or hit[1] > best[0]):
            best = (hit[1], j, bucket[1][hit[2]])
    return best


_NAME_WORDS = ["Abu", "Kamal", "Boukamal", "al-Bukamal", "Kataib", "Kata'ib", "Hezbollah", "Hizballah", "Hachd",
               "al-Chaabi", "Hashd", "al-Shaabi", "Ugarc", "said", "the", "on", "Monday", "US", "Al", "Qaida",
               "x", "Blair", "forces", "Popular", "Mobilization", "Mobilisation", "Units", "a", "Gaza", "Strip"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_NAME_WORDS), st.text("abcdeghiklmnoqrstuwz", min_size=1, max_size=8)),
                min_size=1, max_size=7))
def test_best_name_shortcuts_keep_the_best_match(rules: Rules, words: list[str]) -> None:
    index, _, _ = rules._watch_index
    got = rules._best_name(words, index, rules._watch["threshold"], rules._watch["folds"], {})
    assert got == _best_name_reference(rules, words)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_mixed_text(), _RUN_TEXT), st.integers(0, 3))
def test_known_word_table_leaves_out_exactly_its_words(rules: Rules, text: str, every: int) -> None:
    expected = [(m.start(), m[0]) for m in rules._name_words.finditer(text)]
    table, skip = _WordTable(slots=8, entries=3, pool=16), set()  # tiny: collisions and a full table
    for _, word in expected[::every + 1]:
        skip.add(word)
        table.add(word)
    assert rules._runs(text, skip, table) == [(s, w) for s, w in expected if w not in skip]
    table.clear()
    assert rules._runs(text, set(), table) == expected
