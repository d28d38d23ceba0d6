"""The shared stages: replay order, bad lines, and processing the same record twice."""

from __future__ import annotations

import json
from typing import Any

from streams.escalation import Rules
from streams.pipeline import Pipeline


def article(i: int, text: str, title: str | None = None, **extra: Any) -> dict[str, Any]:
    # A feed item's headline says what it is about: under a placeholder headline that names no conflict
    # ("Headline 1") the body's violence would be background (low), so reports carry a real one.
    return {"id": f"a{i}", "url": f"https://example.org/{i}", "title": title or f"Headline {i}",
            "published_at": f"2021-03-01T10:{i:02d}:00Z", "source": f"outlet{i}.example", "feed": "f",
            "language": "en", "content": text, **extra}


STRIKE_TITLE = "Rocket strike on Ardmore market"
STRIKE = ("Rockets struck a market in the border town of Ardmore on Monday, killing 14 people and wounding "
          "dozens more, local officials said. The army said it had launched retaliatory strikes.")


def test_replay_yields_one_decision_per_valid_line_and_reports_bad_ones() -> None:
    lines = [json.dumps(article(1, STRIKE, STRIKE_TITLE)), "{not json", "", json.dumps({"id": "x"}),
             json.dumps(article(2, "The council approved the budget for the new library."))]
    results = list(Pipeline(Rules.load()).run(lines))
    assert [r[0] for r in results] == [1, 2, 4, 5]
    assert [r[1]["id"] for r in results if r[1]] == ["a1", "a2"]
    assert [type(r[3]).__name__ for r in results if r[3]] == ["InvalidRecord", "InvalidRecord"]


def test_same_record_twice_gives_the_same_decision_and_no_second_alert() -> None:
    pipeline = Pipeline(Rules.load())
    first_decision, first_alerts = pipeline.process(article(1, STRIKE, STRIKE_TITLE))
    again_decision, again_alerts = pipeline.process(article(1, STRIKE, STRIKE_TITLE))
    assert again_decision == first_decision and first_decision["event_id"]
    assert len(first_alerts) == 1 and again_alerts == []


def test_decision_follows_the_contract() -> None:
    decision, _ = Pipeline(Rules.load()).process(article(1, STRIKE, STRIKE_TITLE))
    assert set(decision) == {"id", "copy_of", "story_id", "similarity", "event_id", "escalation"}
    assert set(decision["escalation"]) >= {"severity", "score", "categories", "casualties", "matches"}
    for match in decision["escalation"]["matches"]:
        assert {"term", "category", "field", "start", "end"} <= set(match)


def test_odd_articles_get_a_defined_outcome() -> None:
    pipeline = Pipeline(Rules.load())
    empty, _ = pipeline.process(article(1, ""))
    assert empty["escalation"]["severity"] == "none" and empty["copy_of"] is None
    assert empty["event_id"] is None                      # below `low`: no event
    huge_text = ("Rockets struck the town, killing 9 people. " + "Filler words about the weather. " * 170_000)
    assert len(huge_text) > 5_000_000
    huge, _ = pipeline.process(article(2, huge_text, "Rockets hit the town"))   # the count is the body's
    assert huge["escalation"]["casualties"] == 9
    unknown = article(3, "Xq zzv prrt kkl mmn oopq rrst uuvw.", language=None)
    decision, _ = pipeline.process(unknown)
    assert decision["id"] == "a3"


def test_a_report_under_a_headline_about_something_else_is_background_and_alerts_nobody() -> None:
    # the same body under a headline that names no conflict: its violence is background, at most low,
    # and alerts start at medium
    decision, alerts = Pipeline(Rules.load()).process(article(1, STRIKE, "Council approves new library budget"))
    assert decision["escalation"]["severity"] == "low" and alerts == []
    decision, alerts = Pipeline(Rules.load()).process(article(1, STRIKE, STRIKE_TITLE))
    assert decision["escalation"]["severity"] in ("high", "critical") and len(alerts) == 1
