"""Behaviour of the shipped escalation rules and of the scorer (pure, no Kafka), under each
implementation of its compiled steps (helpers/escalation_impls.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.escalation_impls import implementation, implementations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.escalation import SEVERITIES, Escalation, Rules, fold
from streams.escalation.memo import Memo
from streams.escalation.phrases import WORD_START
from streams.escalation.watchlist import NameFinder, best_name, best_name_plainly, find_names_plainly

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_aa3391fe6c98fe85.txt"
MEDIUM = SEVERITIES.index("medium")
_LOADED: dict[str, Rules] = {}
# the `rules` fixture swaps the implementation for each test; hypothesis runs its examples inside it
FIXTURE = [HealthCheck.function_scoped_fixture]


@pytest.fixture(params=implementations())
def rules(request: pytest.FixtureRequest) -> Iterator[Rules]:
    with implementation(request.param):
        if request.param not in _LOADED:
            _LOADED[request.param] = Rules.load()
        yield _LOADED[request.param]


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
    "The militia said it might attack the embassy if its demands were not met.",
    "Officials warned that the militia could attack again.",
])
def test_negated_hedged_and_drills_are_not_medium(rules: Rules, text: str) -> None:
    esc = rules.score(article(text))
    assert not flagged(esc), (esc.severity, esc.matches)


@pytest.mark.parametrize(("text", "severity"), [
    # the policy: an explicit threat of military action by a state or armed group is medium (until the
    # 2026.12.1 rules every threat was a hedge, "not medium"); a threat of anything else is low
    ("The militia threatened to attack the embassy if its demands were not met.", "medium"),
    ("The president threatened military strikes if the blockade was not lifted.", "medium"),
    ("The minister threatened to sue the newspaper.", "low"),
    ("The union threatened to strike over pay.", "low"),
])
def test_threats_of_military_action_are_medium_and_other_threats_low(rules: Rules, text: str,
                                                                     severity: str) -> None:
    esc = rules.score(article(text))
    assert esc.severity == severity, (esc.severity, esc.matches)


@pytest.mark.parametrize("text, count", [
    ("An air strike killed 17 people in the town.", 17),
    ("At least 17 fighters perished in the raid.", 17),
    ("Two people were killed when rockets hit the base.", 2),
    ("Gunmen opened fire on a bus, killing twenty-five passengers.", 25),
    ("Gunmen opened fire on a crowd, wounding 40.", 40),
    ("The death toll from the bombing rose to 1,200 on Monday.", 1200),
    ("Un bombardement a fait 17 morts dans la ville.", 17),
    ("Les frappes ont touché un convoi, tuant 12 personnes.", 12),
])
def test_casualty_counts(rules: Rules, text: str, count: int) -> None:
    language = "fr" if " la " in text or " un " in text.lower() else "en"
    esc = rules.score(article(text, language=language))
    assert esc.casualties == count
    assert flagged(esc)


def test_counts_ignore_dates_and_ages(rules: Rules) -> None:
    esc = rules.score(article("On March 17 a bomb killed a soldier in 2019."))
    assert esc.severity == "high" and esc.casualties is None
    esc = rules.score(article("A 15-year-old boy was killed by a stray bullet."))
    assert esc.severity == "high" and esc.casualties is None
    # beside a date and a year, the wounded are the count (17 and 2019 are not)
    esc = rules.score(article("On March 17 a bomb killed a soldier and wounded 40 others in 2019."))
    assert esc.casualties == 40


def test_the_count_is_the_toll_the_killed_or_else_the_wounded(rules: Rules) -> None:
    # `casualties` is the toll an alert follows: the people killed, or the wounded where nobody was
    # reported killed (a toll revised from six to thirteen dead must not read 27 -> 13 because the
    # first report also gave the wounded). Only the killed decide mass-casualty violence.
    esc = rules.score(article("Gunmen opened fire on a bus, killing twenty-five passengers and wounding 40."))
    assert esc.casualties == 25 and esc.severity == "critical"
    esc = rules.score(article("Gunmen opened fire on a crowd, killing two and wounding 40."))
    assert esc.casualties == 2 and esc.severity == "high"
    esc = rules.score(article("A roadside bomb wounded 14 soldiers on the highway."))
    assert esc.casualties == 14 and esc.severity == "high"


def test_french_phrases_with_accents_and_elisions(rules: Rules) -> None:
    esc = rules.score(article("Des frappes aériennes ont visé l'armée ; l'attaque a été revendiquée.", language="fr"))
    assert "armed_attack" in esc.categories
    assert flagged(esc)


@pytest.mark.parametrize(("text", "term", "category"), [
    ("L'explosion a tué deux soldats.", "explosion", "explosion"),
    ("Kinshasa a ordonné l’expulsion de trois diplomates.", "expulsion de trois diplomates", "sanctions"),
    # ("attaque" alone is ambiguous: it counts with armed context, here the soldiers)
    ("Le président dénonce l'attaque contre les soldats.", "attaque", "armed_attack"),
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


@pytest.mark.parametrize("text", ["They don't attack.", "It's rock'n'roll.", "Ain't no sunshine."])
def test_an_english_apostrophe_starts_no_word(rules: Rules, text: str) -> None:
    # "don't" holds no word "t", "rock'n'roll" no word "n": only an elision letter at a word start elides.
    # (An apostrophe after a space opens a quote since the 2026.12.1 rules, so "rock 'n' roll" now holds
    # a word "n"; no phrase is a single letter.)
    assert re.findall(WORD_START + r"(t|n)\b", " " + fold(text)) == []


def test_an_opening_quote_starts_a_word(rules: Rules) -> None:
    # words in quotes count when the quote reports the event (DESIGN.md)
    assert re.findall(WORD_START + r"(killed)\b", " " + fold("Gunmen 'killed 9 people'")) == ["killed"]
    esc = rules.score(article("Survivors said gunmen 'killed 9 people in their beds'."))
    assert esc.casualties == 9 and flagged(esc)


def test_a_number_with_thousands_separators_is_one_word_of_a_gap(rules: Rules) -> None:
    esc = rules.score(article("Venezuela deployed around 4,000 soldiers to its eastern frontier."))
    assert [m["term"] for m in esc.matches] == ["deployed around 4,000 soldiers"]
    assert flagged(esc)


def test_unknown_language_falls_back_to_all_rules(rules: Rules) -> None:
    assert flagged(rules.score(article("Rebels attacked a checkpoint, killing three soldiers.", language="und")))
    assert flagged(rules.score(article("L'attaque a fait trois morts.", language="xx")))


def test_watchlist_alone_is_no_severity(rules: Rules) -> None:
    # names are context, never an event: however many, an article of names alone is none (the old
    # model let them add up to just below medium) and reports no matches
    text = ("Hashd al-Shaabi, Kata'ib Hizballah, Abu Kamal, Deir ez-Zor, Erbil, Idlib, Hezbollah and the "
            "IRGC were mentioned at a conference on reconstruction.")
    esc = rules.score(article(text))
    assert esc.severity == "none" and esc.score == 0 and esc.matches == []
    found = rules.names.find((("title", "", rules.scoring["title_factor"]), ("content", text, 1.0)))
    assert len({m["entity"] for m in found}) >= 5    # ... though the watchlist finds them


def test_watchlist_names_add_to_the_score_not_to_the_severity(rules: Rules) -> None:
    plain = rules.score(article("Rebels attacked a checkpoint, killing three soldiers."))
    named = rules.score(article("Rebels of Kataib Hezbollah attacked a checkpoint near Abu Kamal, killing three "
                                "soldiers."))
    assert plain.severity == named.severity == "high"
    assert named.score > plain.score
    assert {"Kataib Hezbollah", "Abu Kamal"} <= {m.get("entity") for m in named.matches}


@pytest.mark.parametrize("variant, entity", [
    ("Hachd al-Chaabi", "Popular Mobilization Forces"),
    ("Hashd al-Shaabi", "Popular Mobilization Forces"),
    ("Boukamal", "Abu Kamal"),
    ("Abu Kamal", "Abu Kamal"),
    ("Kata'ib Hizballah", "Kataib Hezbollah"),
    ("Kataeb Hezbollah", "Kataib Hezbollah"),
])
def test_watchlist_transliterations_meet(rules: Rules, variant: str, entity: str) -> None:
    # A name is reported with an event it gives context to: "raid" is ambiguous (a police raid, a
    # raid on the fridge) and counts here only because a watched name shares its sentence.
    assert rules.score(article("Residents said the raid near the river lasted an hour.")).severity == "none"
    esc = rules.score(article(f"Residents said the raid near {variant} lasted an hour."))
    assert esc.severity == "medium", (variant, esc.matches)
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


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE)
@given(st.text(max_size=400), st.text(max_size=60), st.sampled_from(["en", "fr", "und", "de", ""]))
def test_property_never_raises_and_offsets_slice(rules: Rules, title: str, body: str, language: str) -> None:
    body = body + " killed 3 in an attack near Boukamal"
    esc = rules.score(article(body, title, language=language))
    assert esc.severity in SEVERITIES
    for m in esc.matches:
        text = title if m["field"] == "title" else body
        assert text[m["start"]:m["end"]] == m["term"]
        assert m["start"] < m["end"]


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


@pytest.mark.parametrize(("text", "least"), [
    # "stopped work" is the event, not its end; a labour strike is conflict without violence: low
    ("About 1,100 employees stopped work in a strike for higher wages.", "low"),
    ("Gunmen killed Abdullah and four other members of his family and later freed his wife.", "medium"),  # freed after
])
def test_events_stay_found(rules: Rules, text: str, least: str) -> None:
    esc = rules.score(article(text))
    assert SEVERITIES.index(esc.severity) >= SEVERITIES.index(least), (esc.severity, esc.matches)


def test_gunmen_killing_people_is_high_with_the_count(rules: Rules) -> None:
    esc = rules.score(article("Gunmen killed five villagers."))
    assert esc.severity == "high" and esc.casualties == 5


@pytest.mark.parametrize(("title", "severity"), [
    ("", "high"),                                       # no headline: nothing says the body is background
    ("Fighting in the north", "high"),                  # a headline about armed conflict
    ("Rebels attack checkpoint", "high"),              # a headline reporting the event
    ("Council approves new library budget", "low"),   # a headline about something else: background
])
def test_a_headline_that_names_no_conflict_makes_the_body_background(rules: Rules, title: str,
                                                                      severity: str) -> None:
    esc = rules.score(article("Rebels attacked a checkpoint, killing three soldiers.", title))
    assert esc.severity == severity, (esc.severity, esc.matches)


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


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(_mixed_text(), st.sampled_from(["en", "fr", "*"]))
def test_phrase_prefilter_finds_what_the_regex_finds(rules: Rules, text: str, language: str) -> None:
    phrases = rules.matcher(language).phrases
    folded = fold(text)
    padded = " " + folded
    expected = [(s, e, meta) for s, e, meta in phrases.find(folded, padded) if meta is not None]
    assert list(phrases.find_events(folded, padded)) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(_mixed_text(), _mixed_text())
def test_watchlist_finds_what_the_plain_scan_finds(rules: Rules, title: str, body: str) -> None:
    finder = NameFinder(rules.watchlist)  # empty memos
    fields = (("title", title, 1.5), ("content", body, 1.0))
    expected = find_names_plainly(finder.index, fields)
    for _ in range(2):  # cold, then with the memos filled
        assert finder.find(fields) == expected


def test_phrase_sets_without_literal_anchors_scan_with_the_regex(tmp_path: Path) -> None:
    # a raw `re:` phrase has no literal to anchor on: the whole text is scanned with the regex
    main = tmp_path / "rules.yaml"
    main.write_text('version: "t"\n'
                    "categories:\n  unrest: {tier: medium, weight: 3}\nlanguage: en\n"
                    "phrases:\n  unrest: [\"re:riot(?:s|ing)?\", picket*]\n", "utf-8")
    raw = Rules.load(main)
    assert raw.matcher("en").phrases.field_starts([" a", " b"]) is None
    esc = raw.score(article("Rioting and pickets spread.", "Riots"))
    assert [m["term"] for m in esc.matches] == ["Riots", "Rioting", "pickets"]


@settings(max_examples=200, deadline=None, suppress_health_check=FIXTURE)
@given(_mixed_text(), _mixed_text())
def test_to_dict_is_asdict(rules: Rules, title: str, body: str) -> None:
    from dataclasses import asdict

    result = rules.score(article(body, title))
    assert result.to_dict() == asdict(result)
    nested = Escalation("low", 1.0, ["a"], None, [{"term": "x", "list": [1, {"k": [2]}]}])
    assert nested.to_dict() == asdict(nested)
    assert nested.to_dict()["matches"][0]["list"] is not nested.matches[0]["list"]


_NAME_WORDS = ["Abu", "Kamal", "Boukamal", "al-Bukamal", "Kataib", "Kata'ib", "Hezbollah", "Hizballah", "Hachd",
               "al-Chaabi", "Hashd", "al-Shaabi", "Ugarc", "said", "the", "on", "Monday", "US", "Al", "Qaida",
               "x", "Blair", "forces", "Popular", "Mobilization", "Mobilisation", "Units", "a", "Gaza", "Strip"]


@settings(max_examples=500, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(st.one_of(st.sampled_from(_NAME_WORDS), st.text("abcdeghiklmnoqrstuwz", min_size=1, max_size=8)),
                min_size=1, max_size=7))
def test_best_name_shortcuts_keep_the_best_match(rules: Rules, words: list[str]) -> None:
    index = NameFinder(rules.watchlist).index
    assert best_name(words, index, Memo(), Memo()) == best_name_plainly(words, index)


_SENTENCE_GLUE = [" ", " ", " ", ". ", "! ", "? ", "; ", "\n", ", ", ".\u201d ", " - ", "Gen. ", "U.S. "]


@settings(max_examples=300, deadline=None, suppress_health_check=FIXTURE)
@given(st.lists(st.tuples(st.sampled_from(_NAME_WORDS), st.sampled_from(_SENTENCE_GLUE)), min_size=1, max_size=40))
def test_the_names_of_a_sentence_are_those_found_in_its_text_alone(rules: Rules, parts: list[tuple[str, str]]) -> None:
    # the scorer looks for watchlist names one sentence at a time where a decision needs no more
    # (rules._Watched.named_in): a name never reaches over a sentence's end
    from streams.escalation.sentences import Sentences

    text = "".join(word + glue for word, glue in parts)
    whole = rules.names.find((("content", text, 1.0),))
    sentences = Sentences(text, fold(text), " " + fold(text), rules.matcher("en"))
    bounds = [*sentences.starts, len(text)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        alone = rules.names.find((("content", text[start:end], 1.0),))
        assert [(m["start"] + start, m["end"] + start, m["entity"]) for m in alone] == \
            [(m["start"], m["end"], m["entity"]) for m in whole if start <= m["start"] < end]
