"""Invalid rule files fail at load time with file, line, key and reason; valid ones load."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.errors import RuleError
from streams.escalation import DEFAULT_RULES, Rules, compile_phrase
from streams.escalation.loading import load_rules

MAIN = """\
version: "t1"
severity: {mass_casualties: 10}
categories:
  armed_attack: {tier: medium, weight: 3}
  casualties: {tier: high, weight: 3, counts: true, killed: true}
modifiers:
  negation: {factor: 0, before: 3}
language: en
numbers:
  words: {two: 2}
phrases:
  armed_attack: [attack*]
  casualties: [killed]
modifiers_lang: []
"""


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def valid(extra: str = "") -> str:
    return MAIN.replace("modifiers_lang: []\n", extra)


def test_shipped_rules_load_every_file() -> None:
    rules = Rules.load()
    assert rules.version
    assert {"en", "fr"} <= set(rules.languages)
    assert len(rules.files) >= 4
    assert Rules.load(DEFAULT_RULES).version == rules.version


def test_minimal_single_file(tmp_path: Path) -> None:
    rules = Rules.load(write(tmp_path, valid()))
    esc = rules.score({"norm": {"language": "en", "title": "", "body": "Rebels attacked, two were killed.",
                                "body_field": "content"}})
    assert esc.casualties == 2
    assert esc.severity == "high"


def _body(text: str, url: str | None = None) -> dict:
    article: dict = {"norm": {"language": "en", "title": "", "body": text, "body_field": "content"}}
    if url:
        article["url"] = url
    return article


def test_ambiguous_phrases_count_only_with_the_armed_context_a_file_declares(tmp_path: Path) -> None:
    rules = Rules.load(write(tmp_path, valid("ambiguous:\n  armed_attack: [raid*]\narmed: [rebels]\n")))
    assert rules.score(_body("Police raided a warehouse.")).severity == "none"      # a raid: no armed context
    esc = rules.score(_body("Rebels raided a village."))
    assert esc.severity == "medium" and [m["term"] for m in esc.matches] == ["raided"]
    assert rules.score(_body("The rebels met in the village.")).severity == "none"  # armed context is no event


def test_contexts_a_file_declares_cap_severity_and_silence_ambiguous_phrases(tmp_path: Path) -> None:
    rules = Rules.load(write(tmp_path, valid(
        "ambiguous:\n  armed_attack: [raid*]\narmed: [rebels]\n"
        "context:\n  games: {cap: none, sections: [games]}\n  sport: {ambiguous: false, sections: [sport]}\n"
        "  opinion: {cap: low, labels: [opinion]}\n")))
    text = "Rebels raided the town. Rebels attacked, two were killed."
    assert rules.score(_body(text)).severity == "high"
    assert rules.score(_body(text, "https://news.example/games/guide")).severity == "none"
    sport = rules.score(_body(text, "https://news.example/sport/report"))
    assert sport.severity == "high" and "raided" not in [m["term"] for m in sport.matches]
    for label, severity in (("Opinion: ", "low"), ("", "high")):   # the headline reports the attack itself
        titled = {"norm": {"language": "en", "title": f"{label}Rebels attacked a post", "body": text,
                           "body_field": "content"}}
        assert rules.score(titled).severity == severity, label


def test_a_context_declared_in_two_files_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "context:\n  games: {cap: none}\n", "context.yaml")
    with pytest.raises(RuleError, match="context 'games' is declared twice") as caught:
        Rules.load(write(tmp_path, valid("include: [context.yaml]\ncontext:\n  games: {cap: low}\n")))
    # the main file is read first: the second declaration is the included file's
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "context.yaml"), 2)


def test_watchlist_weights_order_alerts_and_never_raise_a_severity(tmp_path: Path) -> None:
    # (the old model checked that the watchlist cap stayed below the medium threshold; now names are
    # context: however heavy, they add to the score and never make a severity)
    rules = Rules.load(write(tmp_path, valid(
        "watchlist:\n  weight: 10\n  cap: 100\n  actors:\n    Kataib Hezbollah: [Kataeb Hezbollah]\n")))
    assert rules.score(_body("Kataib Hezbollah held a rally.")).severity == "none"
    plain = rules.score(_body("Rebels attacked a post."))
    named = rules.score(_body("Kataib Hezbollah rebels attacked a post."))
    assert plain.severity == named.severity == "medium"
    assert named.score > plain.score
    assert "Kataib Hezbollah" in {m.get("entity") for m in named.matches}


@pytest.mark.parametrize("text, line, key, reason", [
    (valid().replace('version: "t1"\n', ""), 1, None, "missing required key 'version'"),
    (valid("bogus: 1\n"), 14, "bogus", "unknown key 'bogus'"),
    # rules of the old scoring model (additive weights against thresholds) are refused, not misread
    (valid().replace("severity: {mass_casualties: 10}", "thresholds: {low: 1, medium: 3, high: 6, critical: 10}"),
     2, "thresholds", "unknown key 'thresholds'"),
    (valid().replace("severity: {mass_casualties: 10}", "severity: {mass_casualties: 0}"), 2,
     "severity.mass_casualties", "outside [1, "),
    (valid().replace("severity: {mass_casualties: 10}", "severity: {mass_casualties: 10, critical: 20}"), 2,
     "severity.critical", "unknown key 'critical'"),
    (valid().replace("{tier: medium, weight: 3}", "{tier: medium, weight: heavy}"), 4,
     "categories.armed_attack.weight", "expected a number"),
    (valid().replace("{tier: medium, weight: 3}", "{tier: medium, weight: 3, colour: red}"), 4,
     "categories.armed_attack.colour", "unknown key 'colour'"),
    # a category says which severity its events reach: a tier of the one scale, and it must say it
    (valid().replace("{tier: medium, weight: 3}", "{tier: severe, weight: 3}"), 4,
     "categories.armed_attack.tier", "'severe' is not a severity"),
    (valid().replace("{tier: medium, weight: 3}", "{weight: 3}"), 4,
     "categories.armed_attack", "missing required key 'tier'"),
    (valid().replace("{tier: medium, weight: 3}", "{tier: medium, weight: 3, needs: weapons}"), 4,
     "categories.armed_attack.needs", "the only requirement is `armed`"),
    (valid().replace("killed: true", "killed: perhaps"), 5, "categories.casualties.killed", "expected true or false"),
    (valid().replace("[attack*]", "[attack*, \"re:(unclosed\"]"), 12, "phrases.armed_attack[1]", "bad phrase"),
    (valid().replace("[attack*]", "[\"at*tack\"]"), 12, "phrases.armed_attack[0]", "* only at the end"),
    (valid().replace("[attack*]", "[\"~2 attack\"]"), 12, "phrases.armed_attack[0]", "cannot start or end"),
    (valid().replace("casualties: [killed]", "riots: [riot]"), 13, "phrases.riots", "unknown category 'riots'"),
    (valid("ambiguous:\n  riots: [riot]\n"), 15, "ambiguous.riots", "unknown category 'riots'"),
    (valid("ambiguous:\n  armed_attack: [raid, \"at*tack\"]\n"), 15, "ambiguous.armed_attack[1]",
     "* only at the end"),
    (valid("armed: [rebels, \"gunm{an,en\"]\n"), 14, "armed[1]", "bad phrase"),
    (valid("headline: [\"war ~2\"]\n"), 14, "headline[0]", "cannot start or end"),
    (valid().replace("negation: {factor: 0, before: 3}", "negation: {factor: 2, before: 3}"), 7,
     "modifiers.negation.factor", "outside"),
    (valid().replace("negation: {factor: 0, before: 3}", "negation: {factor: 0}"), 7,
     "modifiers.negation", "needs `before`"),
    # a modifier drops a phrase (factor) or caps what it reaches (cap): one of them at least
    (valid().replace("negation: {factor: 0, before: 3}", "negation: {before: 3}"), 7,
     "modifiers.negation", "needs a `factor` (0 drops the phrase) and/or a `cap`"),
    (valid().replace("negation: {factor: 0, before: 3}", "negation: {cap: mild, before: 3}"), 7,
     "modifiers.negation.cap", "'mild' is not a severity"),
    (valid().replace("negation: {factor: 0, before: 3}", "negation: {cap: low, applies_to: some, before: 3}"), 7,
     "modifiers.negation.applies_to", "`all` phrases or `ambiguous` ones only"),
    (valid().replace("language: en", "language: english"), 8, "language", "ISO 639-1"),
    (valid("include: [missing.yaml]\n"), 14, "include", "not found"),
    # names never raise a severity (test_watchlist_weights_order_alerts_and_never_raise_a_severity);
    # their weight and cap are still numbers in range
    (valid("watchlist: {cap: 500}\n"), 14, "watchlist.cap", "outside [0, 100]"),
    (valid("context:\n  games: {cap: zero}\n"), 15, "context.games.cap", "'zero' is not a severity"),
    (valid("context:\n  games: {cap: none, sections: [/games/]}\n"), 15, "context.games.sections",
     "not a URL path segment"),
    (valid("context:\n  games: {cap: none, colour: red}\n"), 15, "context.games.colour", "unknown key 'colour'"),
    (valid("context:\n  Games: {cap: none}\n"), 15, "context.Games", "lowercase snake_case"),
    (valid().replace("categories:\n  armed_attack: {tier: medium, weight: 3}\n"
                     "  casualties: {tier: high, weight: 3, counts: true, killed: true}\n",
                     "categories: [1, 2]\n"), 3, "categories", "expected a mapping"),
])
def test_invalid_rules_name_file_line_key_reason(tmp_path: Path, text: str, line: int, key: str | None,
                                                 reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RuleError) as caught:
        Rules.load(path)
    err = caught.value
    assert err.file == str(path)
    assert err.line == line, str(err)
    assert err.key == key, str(err)
    assert reason in err.reason, str(err)
    assert f"{path}:{line}" in str(err)


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'version: "t1"\nseverity: {mass_casualties: 10\ncategories: {}\n')
    with pytest.raises(RuleError) as caught:
        Rules.load(path)
    assert caught.value.line == 3
    assert "YAML" in caught.value.reason


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read"):
        Rules.load(tmp_path / "nope.yaml")
    with pytest.raises(RuleError, match="empty rule file"):
        Rules.load(write(tmp_path, ""))


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "language: fr\nphrases:\n  armed_attack:\n    - attaque\n    - frappe{s\n", "fr.yaml")
    main = write(tmp_path, valid("include: [fr.yaml]\n"))
    with pytest.raises(RuleError) as caught:
        Rules.load(main)
    assert caught.value.file == str(tmp_path / "fr.yaml")
    assert caught.value.line == 5
    assert "unclosed brace" in caught.value.reason


def test_unknown_modifier_in_language_file(tmp_path: Path) -> None:
    write(tmp_path, "language: en\nmodifiers:\n  negation: [no]\n  hedging: [would]\n", "en2.yaml")
    with pytest.raises(RuleError, match="unknown modifier 'hedging'") as caught:
        Rules.load(write(tmp_path, valid("include: [en2.yaml]\n")))
    assert (caught.value.file, caught.value.line) == (str(tmp_path / "en2.yaml"), 4)


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    text = valid().replace("  casualties: {tier: high, weight: 3, counts: true, killed: true}\n",
                           "  casualties: {tier: high, weight: 3, counts: true, killed: true}\n"
                           "  armed_attack: {tier: low, weight: 1}\n")
    with pytest.raises(RuleError, match="duplicate key 'armed_attack'") as caught:
        Rules.load(write(tmp_path, text))
    assert caught.value.line == 6


@pytest.mark.parametrize("phrase, hits, misses", [
    ("kill*", ["kill", "killed", "killings"], ["skill"]),
    ("strik{e,es,ing}|struck", ["strike", "striking", "struck"], ["striked"]),
    ("air_strike", ["airstrike", "air strike", "air-strike"], ["air  x strike"]),
    ("fire|fired on|at ~2 troops", ["fired on troops", "fire at the army troops"], ["fired on the army's own troops"]),
    ("# ~2 dead", ["17 dead", "two people dead", "1,200 were dead"], ["many dead"]),
])
def test_phrase_syntax(phrase: str, hits: list[str], misses: list[str]) -> None:
    import re
    regex = re.compile(r"(?<![\w'])" + compile_phrase(phrase, {"two": 2}) + r"(?!\w)")
    for text in hits:
        assert regex.fullmatch(text), (phrase, text)
    for text in misses:
        assert not regex.fullmatch(text), (phrase, text)


# ---- reloading at run time ------------------------------------------------------------------------


def _bump(path: Path, text: str, tick: list[int]) -> None:
    """Rewrite `path` with a strictly newer mtime (file systems with coarse timestamps)."""
    import os

    path.write_text(text, "utf-8")
    tick[0] += 1
    os.utime(path, ns=(10**18 + tick[0] * 10**9, 10**18 + tick[0] * 10**9))


def test_reloader_swaps_valid_rules_and_checks_once_per_interval(tmp_path: Path) -> None:
    from streams.escalation import RuleReloader

    path, tick = write(tmp_path, valid()), [0]
    loads: list[Path] = []

    def loader(p: Path) -> Rules:
        loads.append(p)
        return Rules.load(p)

    reloader = RuleReloader(path, interval=10, loader=loader)
    assert reloader.version == "t1" and len(loads) == 1
    assert reloader.maybe_reload(100.0) is False          # nothing changed
    _bump(path, valid().replace('"t1"', '"t2"'), tick)
    assert reloader.maybe_reload(105.0) is False          # within the interval: not even a stat
    assert reloader.version == "t1"
    assert reloader.maybe_reload(110.0) is True
    assert reloader.version == "t2" and reloader.rules.version == "t2" and reloader.reloads == 1
    esc = reloader.score({"norm": {"language": "en", "title": "", "body": "two were killed",
                                   "body_field": "content"}})
    assert esc.casualties == 2
    _bump(path, valid().replace('"t1"', '"t2"'), tick)    # touched, same content: no load
    assert reloader.maybe_reload(200.0) is False
    assert len(loads) == 2


def test_reloader_keeps_old_rules_on_a_broken_file_and_logs_file_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from streams.escalation import RuleReloader

    path, tick = write(tmp_path, valid()), [0]
    reloader = RuleReloader(path, interval=0)
    _bump(path, valid().replace("[attack*]", "[\"at*tack\"]").replace('"t1"', '"t3"'), tick)
    with caplog.at_level("ERROR", logger="streams.escalation"):
        assert reloader.maybe_reload(1.0) is False
    assert reloader.version == "t1"                       # the old rules stay in force
    assert reloader.last_error is not None and reloader.failures == 1
    assert f"{path}:12" in caplog.text and "* only at the end" in caplog.text
    caplog.clear()
    _bump(path, valid().replace("[attack*]", "[\"at*tack\"]").replace('"t1"', '"t3"'), tick)
    with caplog.at_level("ERROR", logger="streams.escalation"):
        assert reloader.maybe_reload(2.0) is False        # same broken content: reported once
    assert caplog.text == "" and reloader.failures == 1
    _bump(path, valid().replace('"t1"', '"t4"'), tick)    # fixed
    assert reloader.maybe_reload(3.0) is True
    assert reloader.version == "t4" and reloader.last_error is None


def test_reloader_watches_included_files_and_survives_a_deleted_file(tmp_path: Path) -> None:
    from streams.escalation import RuleReloader

    tick = [0]
    sub = write(tmp_path, "language: fr\nphrases:\n  armed_attack: [attaque]\n", "fr.yaml")
    path = write(tmp_path, valid("include: [fr.yaml]\n"))
    reloader = RuleReloader(path, interval=0)
    old = reloader.rules
    _bump(sub, "language: fr\nphrases:\n  armed_attack: [attaque, frappe]\n", tick)
    assert reloader.maybe_reload(1.0) is True and reloader.rules is not old
    esc = reloader.score({"norm": {"language": "fr", "title": "", "body": "une frappe", "body_field": "content"}})
    assert "armed_attack" in esc.categories
    sub.unlink()
    assert reloader.maybe_reload(2.0) is False            # include missing: keep the rules in force
    assert reloader.last_error is not None and "fr.yaml" in str(reloader.last_error)
    assert "armed_attack" in reloader.score(
        {"norm": {"language": "fr", "title": "", "body": "une frappe", "body_field": "content"}}).categories


# ---- remembering loaded rules between processes ---------------------------------------------------


def test_loaded_rules_are_remembered_until_a_file_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.escalation.rules as rules_module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loads: list[Path] = []

    def counted(path: Path) -> dict:
        loads.append(path)
        return load_rules(path)

    monkeypatch.setattr(rules_module, "load_rules", counted)
    sub = write(tmp_path, "language: fr\nphrases:\n  armed_attack: [attaque]\n", "fr.yaml")
    path = write(tmp_path, valid("include: [fr.yaml]\n"))
    first = Rules.load(path)
    again = Rules.load(path)
    assert len(loads) == 1 and again.language_rules == first.language_rules and again.files == first.files
    article = {"norm": {"language": "fr", "title": "", "body": "une frappe", "body_field": "content"}}
    assert again.score(article).categories == []
    sub.write_text("language: fr\nphrases:\n  armed_attack: [attaque, frappe]\n", "utf-8")  # an include changed
    assert "armed_attack" in Rules.load(path).score(article).categories and len(loads) == 2
    broken = write(tmp_path, valid().replace("[attack*]", "[\"at*tack\"]"), "broken.yaml")
    for _ in range(2):  # an error is never remembered
        with pytest.raises(RuleError, match=r"\* only at the end"):
            Rules.load(broken)
    assert len(loads) == 4


def test_an_unusable_cache_folder_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a folder", "utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "file"))
    assert Rules.load(write(tmp_path, valid())).version == "t1"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = write(tmp_path, valid())
    Rules.load(path)
    for entry in (tmp_path / "cache" / "wirewatch" / "rules").glob("*.pickle"):
        entry.write_bytes(b"cut sh")  # a torn or foreign entry: loaded from the files again
    assert Rules.load(path).version == "t1"


def test_loaded_rules_are_frozen() -> None:
    import dataclasses

    rules = Rules.load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.version = "edited"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rules.scoring["title_factor"] = 9.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.language_rules["en"].count_window = 9  # type: ignore[misc]
