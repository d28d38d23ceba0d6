"""Events: which reports are one occurrence, which are not, and the one living alert per event.

Invented reports, run through the whole replay pipeline (normalize, dedupe, escalation, events), so the
evidence the event stage sees is what it sees in production.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.alerts import AlertPolicy, alert_id
from streams.escalation import Rules
from streams.events.store import EventIndex
from streams.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules.load()


def report(n: int, at: str, title: str, body: str, source: str, language: str = "en", **extra: Any) -> dict[str, Any]:
    return {"id": f"r{n}", "url": f"https://{source}/{n}", "title": title, "published_at": at, "source": source,
            "feed": source.split(".")[0], "language": language, "summary": body, **extra}


def run(rules: Rules, reports: list[dict[str, Any]], interval: float = 0
        ) -> tuple[Pipeline, dict[str, str | None], list[dict[str, Any]]]:
    pipeline = Pipeline(rules, AlertPolicy(min_interval=timedelta(seconds=interval)))
    events, alerts = {}, []
    for item in reports:
        decision, published = pipeline.process(item)
        events[item["id"]] = decision["event_id"]
        alerts.extend(published)
    return pipeline, events, alerts


MARKET = [
    report(1, "2023-03-06T09:10:00Z", "Missile strike on market in Kramatorsk kills six",
           "A Russian missile hit a crowded market in Kramatorsk on Monday morning, killing six people and "
           "wounding 21, the regional governor Pavlo Kyrylenko said.", "wire.example"),
    report(2, "2023-03-06T10:05:00Z", "Six dead as Russian rocket slams into Kramatorsk bazaar",
           "Rescuers searched the rubble of the Kramatorsk bazaar after the strike, which governor Kyrylenko said "
           "killed six civilians. Twenty-one were taken to hospital.", "daily.example"),
    report(3, "2023-03-06T21:40:00Z", "Kramatorsk market strike: death toll rises to 13",
           "The death toll from the missile strike on the Kramatorsk market rose to 13 on Monday evening, "
           "governor Pavlo Kyrylenko said, as rescuers pulled more bodies from the rubble.", "gazette.example"),
]


def test_independent_reports_and_a_revised_toll_are_one_event_with_one_alert(rules: Rules) -> None:
    _, events, alerts = run(rules, MARKET)
    assert events["r1"] and events["r1"] == events["r2"] == events["r3"]
    assert {a["alert_id"] for a in alerts} == {alert_id(events["r1"])}
    assert [a["version"] for a in alerts] == list(range(1, len(alerts) + 1))
    final = alerts[-1]
    assert final["event_id"] == events["r1"] and final["casualties"] == 13
    assert final["sources"] == ["wire.example", "daily.example", "gazette.example"] and final["copies"] == 0
    assert any(c["field"] == "casualties" and c["to"] == 13 for c in final["changes"])   # the revised toll
    assert "Kramatorsk" in final["places"] and final["languages"] == ["en"]


def test_a_rising_toll_never_lowers_the_alerts_casualties(rules: Rules) -> None:
    _, _, alerts = run(rules, MARKET)
    figures = [a["casualties"] for a in alerts]
    assert figures == sorted(figures), figures
    assert any(c["field"] == "casualties" and c["from"] < c["to"] for c in alerts[-1]["changes"])


def test_the_same_town_on_another_day_is_another_event(rules: Rules) -> None:
    next_day = report(4, "2023-03-07T22:30:00Z", "Russian missiles hit Kramatorsk again, killing three",
                      "Another missile strike hit Kramatorsk late on Tuesday, killing three people near the railway "
                      "station, the governor said.", "wire.example")
    _, events, alerts = run(rules, [*MARKET, next_day])
    assert events["r4"] and events["r4"] != events["r1"]
    assert len({a["alert_id"] for a in alerts}) == 2


def test_a_strike_in_another_town_the_same_morning_is_another_event(rules: Rules) -> None:
    elsewhere = report(5, "2023-03-06T09:40:00Z", "Missile strike on market in Kherson kills six",
                       "A Russian missile hit a market in Kherson on Monday morning, killing six people, the regional "
                       "administration said.", "daily.example")
    _, events, _ = run(rules, [MARKET[0], elsewhere])
    assert events["r5"] and events["r5"] != events["r1"]


def test_copies_of_a_story_follow_it_and_count_as_copies(rules: Rules) -> None:
    copy = {**MARKET[0], "id": "r1-copy", "url": "https://aggregator.example/1", "source": "aggregator.example",
            "published_at": "2023-03-06T09:30:00Z", "title": "Missile strike on Kramatorsk market kills six"}
    pipeline, events, alerts = run(rules, [MARKET[0], copy])
    assert events["r1-copy"] == events["r1"]
    event = EventIndex(pipeline.events.state).event(str(events["r1"]))
    assert event is not None and event["sources"] == ["wire.example"]   # one independent report ...
    assert event["copies"] == 1                                          # ... republished once
    assert len(alerts) == 1                          # a copy adds no independent outlet: no new version


def test_a_briefing_points_to_one_event_and_never_bridges_two(rules: Rules) -> None:
    other = report(6, "2023-03-06T09:20:00Z", "Gunmen kill four at a checkpoint in Maiduguri",
                   "Suspected jihadists opened fire on a military checkpoint outside Maiduguri, killing four "
                   "soldiers, the Nigerian army said.", "wire.example")
    briefing = report(7, "2023-03-06T12:00:00Z", "Monday Briefing: Missile strike on Kramatorsk market",
                      "A Russian missile killed six at a market in Kramatorsk. Plus, gunmen kill four soldiers at a "
                      "checkpoint in Maiduguri, Nigeria.", "times.example")
    pipeline, events, alerts = run(rules, [MARKET[0], other, briefing, MARKET[1]])
    assert events["r1"] != events["r6"]
    assert events["r7"] in (events["r1"], events["r6"], None) or events["r7"] not in (events["r1"], events["r6"])
    index = EventIndex(pipeline.events.state)
    market, checkpoint = index.event(events["r1"]), index.event(events["r6"])
    assert market is not None and checkpoint is not None and market["id"] != checkpoint["id"]
    assert events["r2"] == events["r1"]                  # the market story still gathers its reports
    assert "times.example" not in market["sources"] + checkpoint["sources"]   # a pointer, not a report


def test_near_empty_items_do_not_join_anything(rules: Rules) -> None:
    empty = report(8, "2023-03-06T09:50:00Z", "Watch: explosion", "", "video.example")
    _, events, _ = run(rules, [MARKET[0], empty])
    assert events["r8"] != events["r1"]


def test_below_low_articles_get_no_event(rules: Rules) -> None:
    quiet = report(9, "2023-03-06T09:50:00Z", "Kramatorsk council approves library budget",
                   "The council in Kramatorsk approved the budget of the new library on Monday.", "wire.example")
    _, events, _ = run(rules, [quiet])
    assert events["r9"] is None


def seed_texts() -> tuple[str, str]:
    english = (REPO / "seeds" / "000_aa3391fe6c98fe85.txt").read_text("utf-8")
    french = (REPO / "seeds" / "000_aa3391fe6c98fe85.fr.txt").read_text("utf-8")
    return english, french


def test_the_seed_dispatch_and_its_french_wire_version_are_one_event(rules: Rules) -> None:
    english, french = seed_texts()
    en = report(10, "2021-02-26T05:12:00Z", "US strikes pro-Iran militias in Syria, killing 17", "", "wire.example",
                content=english)
    fr = report(11, "2021-02-26T05:40:00Z", "Frappes américaines contre des milices pro-iraniennes en Syrie : 17 morts",
                "", "afp.example", language="fr", content=french)
    _, events, alerts = run(rules, [en, fr])
    assert events["r10"] and events["r10"] == events["r11"]
    final = alerts[-1]
    assert final["languages"] == ["en", "fr"] and final["sources"] == ["wire.example", "afp.example"]
    assert any(c["field"] == "languages" for c in final["changes"])


def test_a_french_report_of_another_event_stays_apart(rules: Rules) -> None:
    english, _ = seed_texts()
    en = report(12, "2021-02-26T05:12:00Z", "US strikes pro-Iran militias in Syria, killing 17", "", "wire.example",
                content=english)
    other = report(13, "2021-02-26T07:00:00Z", "Mali : une embuscade contre un convoi militaire fait 9 morts",
                   "Neuf soldats maliens ont été tués mercredi dans une embuscade tendue par des jihadistes près de "
                   "Tombouctou, a annoncé l'armée.", "afp.example", language="fr")
    _, events, _ = run(rules, [en, other])
    assert events["r13"] and events["r13"] != events["r12"]


def test_two_events_found_to_be_one_are_merged_and_the_younger_alert_closes(rules: Rules) -> None:
    # A short first report; a long one that shares only the town with it (too small a part of what it
    # says to join); then a report that matches both, after which the two events share enough to be one.
    # (Kismayo: a town the watchlist does not name, see test_a_watched_town_is_one_clue_not_two)
    first = report(20, "2023-05-02T06:00:00Z", "Car bomb kills 8 in Kismayo",
                   "A car bomb killed 8 people in Kismayo on Tuesday morning.", "wire.example")
    long = report(21, "2023-05-02T06:20:00Z", "Al-Shabaab claims hotel bombing in Kismayo",
                  "Al-Shabaab said its fighters detonated explosives beside the Sahafi hotel, a haunt of lawmakers, "
                  "diplomats and contractors near Makka al-Mukarama avenue, where police commissioner Abdi Hassan "
                  "Hijar later sealed the district. Witnesses described shattered windows, burning minibuses and "
                  "ambulances ferrying casualties to Madina hospital.", "daily.example")
    third = report(22, "2023-05-02T07:00:00Z", "Al-Shabaab bombing at Sahafi hotel in Kismayo kills 8",
                   "Al-Shabaab claimed the car bomb at the Sahafi hotel in Kismayo, which killed 8 people, "
                   "police commissioner Abdi Hassan Hijar said.", "gazette.example")
    pipeline, events, alerts = run(rules, [first, long, third])
    index = EventIndex(pipeline.events.state)
    assert events["r20"] != events["r21"], "the long report was meant to open its own event"
    survivor = index.event(str(events["r20"]))
    assert survivor is not None and index.event(str(events["r21"])) == survivor
    assert events["r22"] == survivor["id"]
    merged = [a for a in alerts if a["reason"] == "merged"]
    assert len(merged) == 1
    assert merged[0]["alert_id"] == alert_id(str(events["r21"]))
    assert merged[0]["merged_into"] == alert_id(str(events["r20"]))
    assert merged[0]["changes"] == [{"field": "merged_into", "from": None, "to": alert_id(str(events["r20"]))}]
    carried = [a for a in alerts if a["alert_id"] == alert_id(str(events["r20"]))]
    assert {"wire.example", "daily.example"} <= set(carried[-1]["sources"])


def test_a_watched_town_is_one_clue_not_two(rules: Rules) -> None:
    first = report(40, "2023-05-02T06:00:00Z", "Car bomb kills 8 in Mogadishu",
                   "A car bomb killed 8 people in Mogadishu on Tuesday morning.", "wire.example")
    long = report(41, "2023-05-02T06:20:00Z", "Al-Shabaab claims hotel bombing in Mogadishu",
                  "Al-Shabaab said its fighters detonated explosives beside the Sahafi hotel, a haunt of lawmakers, "
                  "diplomats and contractors near Makka al-Mukarama avenue, where police commissioner Abdi Hassan "
                  "Hijar later sealed the district. Witnesses described shattered windows, burning minibuses and "
                  "ambulances ferrying casualties to Madina hospital.", "daily.example")
    _, events, _ = run(rules, [first, long])
    assert events["r40"] != events["r41"]


def test_a_replayed_article_changes_nothing_and_a_plan_writes_nothing(rules: Rules) -> None:
    from streams.pipeline import dedupe_stage, event_plan, normalize_stage, score_stage

    pipeline, events, _ = run(rules, MARKET[:1])
    before = dict(pipeline.events.state)
    decision, alerts = pipeline.process(MARKET[0])
    assert decision["event_id"] == events["r1"] and alerts == [] and dict(pipeline.events.state) == before
    _, scored = score_stage(dedupe_stage(normalize_stage(MARKET[1]), pipeline.index), rules)
    plan = event_plan(scored, pipeline.events)
    assert plan.event_id == events["r1"] and plan.writes and len(plan.alerts) == 1
    assert dict(pipeline.events.state) == before           # the worker publishes first, then commits
    again = event_plan(scored, pipeline.events)
    assert (again.event_id, again.alerts, again.writes.keys()) == (plan.event_id, plan.alerts, plan.writes.keys())


def test_events_past_the_retention_are_forgotten(rules: Rules) -> None:
    pipeline, events, _ = run(rules, MARKET[:1])
    late = report(30, "2023-03-14T10:00:00Z", "Gunmen kill four at a checkpoint in Maiduguri",
                  "Suspected jihadists opened fire on a military checkpoint outside Maiduguri, killing four soldiers.",
                  "wire.example")
    pipeline.process(late)
    pipeline.process({**late, "id": "r31", "published_at": "2023-03-14T11:00:00Z"})
    keys = set(pipeline.events.state)
    assert "e:" + str(events["r1"]) not in keys and "a:r1" not in keys
    assert not any(k.startswith("k:") and any(e[0] == events["r1"] for e in pipeline.events.state[k]) for k in keys)
