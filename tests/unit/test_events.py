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


def test_a_worker_killed_while_writing_leaves_the_article_unassigned(rules: Rules) -> None:
    """The table's changelog may keep any prefix of an article's writes: the assignment (`a:`) comes last,
    so no prefix assigns the article to an event whose state was not written, and it is planned again."""
    from streams.events.store import apply
    from streams.pipeline import dedupe_stage, event_plan, normalize_stage, score_stage

    class Killed(Exception):
        pass

    class DiesAfter(dict[str, Any]):
        def __init__(self, state: dict[str, Any], writes: int) -> None:
            super().__init__(state)
            self.left = writes

        def __setitem__(self, key: str, value: Any) -> None:
            if self.left == 0:
                raise Killed(key)
            self.left -= 1
            super().__setitem__(key, value)

    pipeline, events, _ = run(rules, MARKET[:1])
    _, scored = score_stage(dedupe_stage(normalize_stage(MARKET[1]), pipeline.index), rules)
    plan = event_plan(scored, pipeline.events)
    keys = list(plan.writes)
    assert "a:r2" in keys and len(keys) > 2 and keys[-1] != "a:r2"   # the plan itself does not write it last
    for written in range(len(keys)):
        state = DiesAfter(dict(pipeline.events.state), written)
        with pytest.raises(Killed):
            apply(state, plan.writes)
        assert "a:r2" not in state, f"assigned after {written} of {len(keys)} writes"
    state = DiesAfter(dict(pipeline.events.state), len(keys))
    apply(state, plan.writes)
    assert state["a:r2"][0] == plan.event_id == events["r1"]


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


# --- what the event stage reads: places, governments, kinds (invented reports) ---------------------

def test_one_war_reported_with_either_country_name_is_one_event(rules: Rules) -> None:
    # an offensive between two states: one report names only the attacker's country, the next only
    # the defender's, both name the region where it happens
    first = report(50, "2023-09-19T10:30:00Z", "Azerbaijan launches military operation in Nagorno-Karabakh",
                   "Azerbaijan's defence ministry said its forces had launched an operation in Nagorno-Karabakh "
                   "and were shelling positions.", "wire.example")
    second = report(51, "2023-09-19T12:10:00Z", "Armenian forces under fire in Nagorno-Karabakh",
                    "Ethnic Armenian forces in Nagorno-Karabakh said they were under heavy artillery fire and that "
                    "civilians had been wounded.", "daily.example")
    _, events, alerts = run(rules, [first, second])
    assert events["r50"] and events["r50"] == events["r51"]
    assert len({a["alert_id"] for a in alerts}) == 1


def test_an_offensive_still_reported_the_next_day_is_one_event(rules: Rules) -> None:
    day_one = [
        report(52, "2023-09-19T10:30:00Z", "Azerbaijan launches offensive in Nagorno-Karabakh",
               "Azerbaijan said its troops had begun an offensive in Nagorno-Karabakh, shelling Armenian positions.",
               "wire.example"),
        report(53, "2023-09-19T18:00:00Z", "Fighting rages in Nagorno-Karabakh as offensive goes on",
               "Heavy fighting continued in Nagorno-Karabakh through the afternoon, local officials said.",
               "daily.example"),
        report(54, "2023-09-20T02:30:00Z", "Nagorno-Karabakh offensive: shelling continues overnight",
               "Artillery fire continued overnight across Nagorno-Karabakh, residents said.", "gazette.example"),
    ]
    next_day = report(55, "2023-09-20T09:00:00Z", "Azerbaijan pounds Nagorno-Karabakh for a second day",
                      "Azerbaijani forces kept up their offensive in Nagorno-Karabakh on Wednesday, shelling "
                      "positions for a second day.", "times.example")
    _, events, _ = run(rules, [*day_one, next_day])
    assert events["r52"] and len({events[f"r{n}"] for n in range(52, 56)}) == 1


def test_a_strike_on_the_same_city_the_next_day_is_another_event_without_saying_so(rules: Rules) -> None:
    # no "again", no "another": another day, another toll, another site
    next_day = report(56, "2023-03-07T20:00:00Z", "Russian missile hits school in Kramatorsk, two dead",
                      "A Russian missile struck a school building in Kramatorsk on Tuesday evening, killing two "
                      "people, the regional governor said.", "wire.example")
    _, events, alerts = run(rules, [*MARKET, next_day])
    assert events["r56"] and events["r56"] != events["r1"]
    assert len({a["alert_id"] for a in alerts}) == 2


def test_one_shooting_reported_with_little_in_common_is_one_event(rules: Rules) -> None:
    # the town, the kind of violence and the hour are all that two early reports share
    first = report(57, "2023-09-28T15:05:00Z", "Gunman opens fire at hospital in Rotterdam",
                   "A man in combat clothing opened fire at a hospital in Rotterdam on Thursday afternoon, "
                   "witnesses said.", "wire.example")
    second = report(58, "2023-09-28T15:50:00Z", "Several people killed in Rotterdam shootings",
                    "Several people were killed in two shootings in Rotterdam, Dutch police said.", "daily.example")
    _, events, alerts = run(rules, [first, second])
    assert events["r57"] and events["r57"] == events["r58"]
    assert len({a["alert_id"] for a in alerts}) == 1


def test_another_kind_of_violence_in_the_same_town_the_same_day_is_another_event(rules: Rules) -> None:
    shooting = report(59, "2023-09-28T15:05:00Z", "Gunman opens fire at hospital in Rotterdam",
                      "A man in combat clothing opened fire at a hospital in Rotterdam, witnesses said.",
                      "wire.example")
    bombing = report(60, "2023-09-28T19:40:00Z", "Car bomb explodes outside Rotterdam police station",
                     "A car bomb exploded outside a police station in Rotterdam on Thursday evening, wounding two "
                     "officers.", "daily.example")
    _, events, _ = run(rules, [shooting, bombing])
    assert events["r60"] and events["r60"] != events["r59"]


def test_a_headline_saying_another_blast_is_another_event(rules: Rules) -> None:
    first = report(61, "2023-09-29T06:00:00Z", "Suicide bombing at religious rally in Pakistan kills 52",
                   "A suicide bomber struck a procession near a mosque in Mastung, in Balochistan province, "
                   "killing 52 people, officials said.", "wire.example")
    second = report(62, "2023-09-29T10:45:00Z", "Another blast hits a mosque in Pakistan, killing five",
                    "A second explosion struck a mosque inside a police compound in Hangu, in Khyber Pakhtunkhwa "
                    "province, killing five people.", "daily.example")
    _, events, _ = run(rules, [first, second])
    assert events["r62"] and events["r62"] != events["r61"]


def test_a_capital_speaking_for_its_government_does_not_place_a_report(rules: Rules) -> None:
    # "Kyiv says" is Ukraine's government: the report is about Sevastopol, and does not join a strike on Kyiv
    kyiv = report(63, "2023-09-25T06:00:00Z", "Russian drones hit Kyiv overnight, three wounded",
                  "Russian drones struck Kyiv overnight, wounding three people, the city's mayor said.",
                  "wire.example")
    claim = report(64, "2023-09-25T12:50:00Z", "Kyiv says it killed Black Sea Fleet commander in Sevastopol strike",
                   "Kyiv says its missile strike on the Black Sea Fleet headquarters in Sevastopol killed the "
                   "fleet's commander and 33 officers.", "daily.example")
    _, events, _ = run(rules, [kyiv, claim])
    assert events["r64"] and events["r64"] != events["r63"]


def test_a_live_blog_naming_two_events_bridges_neither(rules: Rules) -> None:
    odesa = report(65, "2023-09-25T04:00:00Z", "Russian missiles hit Odesa port, grain silos on fire",
                   "Russian missiles struck the port of Odesa overnight, setting grain silos on fire, the regional "
                   "governor said.", "wire.example")
    fleet = report(66, "2023-09-25T12:50:00Z", "Ukraine says Black Sea Fleet commander killed in Sevastopol strike",
                   "Ukraine's special forces said the missile strike on the Black Sea Fleet headquarters in "
                   "Sevastopol killed the fleet's commander.", "daily.example")
    live = report(67, "2023-09-25T14:00:00Z",
                  "Russia-Ukraine war live: Odesa port hit by missiles; Black Sea Fleet commander killed",
                  "Russian missiles hit the port of Odesa overnight. Ukraine says its strike on Sevastopol killed "
                  "the Black Sea Fleet commander.", "times.example")
    later = report(68, "2023-09-25T15:00:00Z", "Grain silos burn after Russian missile strike on Odesa port",
                   "Fires were still burning at grain silos in the port of Odesa after the overnight missile strike.",
                   "gazette.example")
    pipeline, events, _ = run(rules, [odesa, fleet, live, later])
    index = EventIndex(pipeline.events.state)
    port, commander = index.event(str(events["r65"])), index.event(str(events["r66"]))
    assert port is not None and commander is not None and port["id"] != commander["id"]
    assert index.event(str(events["r68"])) == port
    assert "times.example" not in port["sources"] + commander["sources"]


def test_a_revised_toll_within_a_quarter_joins_without_a_town(rules: Rules) -> None:
    first = report(69, "2023-09-29T06:00:00Z", "At least 52 killed in suicide bombing in Pakistan",
                   "At least 52 people were killed when a suicide bomber struck a religious procession in Pakistan.",
                   "wire.example")
    revised = report(70, "2023-09-29T11:00:00Z", "Pakistan bombing toll rises to 57",
                     "The death toll from the suicide bombing at a religious procession in Pakistan rose to 57.",
                     "daily.example")
    _, events, _ = run(rules, [first, revised])
    assert events["r69"] and events["r69"] == events["r70"]


AID_WORKERS = [
    report(81, "2024-05-11T08:20:00Z", "Russian shelling kills two foreign aid workers near front line",
           "Two volunteers from Ireland and Chile died when shells hit their minibus as they delivered water near "
           "the front line, their organisation said.", "wire.example"),
    report(82, "2024-05-11T12:05:00Z", "Foreign aid workers die as shells hit their van near front line",
           "Two staff members of a relief group were killed on Saturday when their vehicle came under fire, the "
           "group said.", "daily.example"),
]


def test_independent_reports_with_the_same_headline_phrase_are_one_event(rules: Rules) -> None:
    # no town, toll or name in common: the same words in both headlines ("foreign aid workers") name it
    _, events, alerts = run(rules, AID_WORKERS)
    assert events["r81"] and events["r81"] == events["r82"]
    assert len({a["alert_id"] for a in alerts}) == 1


def test_the_same_headline_phrase_in_two_towns_far_apart_is_two_events(rules: Rules) -> None:
    _, events, _ = run(rules, [
        report(83, "2024-06-02T09:00:00Z", "Sheriff's deputy shot dead in ambush in Sacramento",
               "A sheriff's deputy was shot dead on Sunday while sitting in a patrol car in Sacramento, officials "
               "said. The gunman fled.", "wire.example"),
        report(84, "2024-06-02T11:30:00Z", "Sheriff's deputy shot dead in ambush in Houston",
               "A sheriff's deputy was shot dead in an ambush outside a petrol station in Houston on Sunday, "
               "police said.", "daily.example"),
    ])
    assert events["r83"] and events["r84"] and events["r83"] != events["r84"]


QUIET_COUNTRY = [
    report(91, "2024-07-08T06:30:00Z", "Drone attack kills two Bahraini soldiers on Yemen border",
           "Two soldiers serving with the coalition were killed when a drone struck their patrol post, the army "
           "said.", "wire.example"),
    report(92, "2024-07-08T09:45:00Z", "Bahrain mourns troops lost to drone strike from Yemen",
           "The kingdom declared three days of mourning for the servicemen, whose funerals are to be held on "
           "Tuesday.", "daily.example"),
]


def test_the_same_kind_of_violence_in_a_quiet_country_the_same_morning_is_one_event(rules: Rules) -> None:
    # no town, toll or name in common; countries no other recent event named, and the same kind in words
    _, events, _ = run(rules, QUIET_COUNTRY)
    assert events["r91"] and events["r91"] == events["r92"]


def test_another_kind_of_violence_in_a_quiet_country_stays_apart(rules: Rules) -> None:
    _, events, _ = run(rules, [
        QUIET_COUNTRY[0],
        report(93, "2024-07-08T09:45:00Z", "Gunman opens fire at market in Bahrain, wounding four",
               "Police said a man shot at shoppers before he was arrested; four people were taken to hospital.",
               "daily.example"),
    ])
    assert events["r91"] and events["r93"] and events["r91"] != events["r93"]


CAPITAL = [
    report(101, "2024-08-14T03:40:00Z", "Air defences shoot down drones over Kyiv overnight",
           "Debris fell on two districts of Kyiv, the city military administration said; nobody was hurt.",
           "wire.example"),
    report(102, "2024-08-14T07:15:00Z", "Dozens of drones launched at the Ukrainian capital",
           "Most were destroyed before they reached the city, officials said on Wednesday morning.", "daily.example"),
]


def test_the_capital_named_by_its_country_is_the_town(rules: Rules) -> None:
    # "the Ukrainian capital" is Kyiv: the same kind of violence in the same town the same morning
    _, events, _ = run(rules, CAPITAL)
    assert events["r101"] and events["r101"] == events["r102"]


def test_the_capital_of_another_country_is_another_town(rules: Rules) -> None:
    _, events, _ = run(rules, [
        CAPITAL[0],
        report(103, "2024-08-14T07:15:00Z", "Dozens of drones launched at the Russian capital",
               "Most were destroyed before they reached the city, officials said on Wednesday morning.",
               "daily.example"),
    ])
    assert events["r101"] and events["r103"] and events["r101"] != events["r103"]


REACTION = [
    report(110, "2024-09-01T10:00:00Z", "Drone hits power station in Sumy",
           "A drone damaged a power station in Sumy overnight, cutting electricity to several districts.",
           "wire.example"),
    report(111, "2024-09-02T10:00:00Z", "Artillery shells damage hospital in Sumy",
           "Shells landed near a hospital in Sumy on Monday, the governor said; patients were moved to basements.",
           "wire.example"),
    report(112, "2024-09-03T20:00:00Z", "Missile strike on Sumy apartment block kills four",
           "Four residents were killed when a missile hit a nine-storey block in Sumy on Tuesday evening.",
           "wire.example"),
    report(113, "2024-09-04T07:00:00Z", "Sumy attacks are war crimes, says foreign minister",
           "The minister accused Moscow of terror against civilians and called for more air defence.",
           "daily.example"),
    report(114, "2024-09-04T09:30:00Z", "Video shows aftermath of Sumy missile strikes",
           "Russian forces attacked a university in Sumy on Wednesday morning, officials said.",
           "gazette.example"),
]


def test_a_strike_does_not_join_an_event_opened_by_a_reaction_on_the_town_alone(rules: Rules) -> None:
    # the reaction names no kind of violence in words: a new strike on the busy town hours later shares
    # only the town with it, which is not "one strike on one place and day"
    _, events, _ = run(rules, REACTION)
    assert events["r113"] and events["r114"] and events["r114"] != events["r113"]


def test_british_and_american_spellings_meet_in_a_headline_phrase(rules: Rules) -> None:
    _, events, _ = run(rules, [
        report(121, "2024-10-02T05:10:00Z", "Ukraine says missiles destroyed an air defence system",
               "The general staff said the launchers were hit overnight.", "wire.example"),
        report(122, "2024-10-02T08:40:00Z", "Ukrainian Missile Strike Hits Russian Air-Defense System",
               "Officials in Kyiv released a video of the launchers burning.", "daily.example"),
    ])
    assert events["r121"] and events["r121"] == events["r122"]


def test_headline_phrases_alone_do_not_carry_a_report_to_the_next_day(rules: Rules) -> None:
    # the same words in the headlines tell reports of one news cycle; the next day, with no place in
    # common, "long range air defence radar system" may be another strike on another one
    _, events, _ = run(rules, [
        report(123, "2024-10-02T05:10:00Z", "Missiles destroy long range air defence radar system",
               "Ukraine said the launchers were hit overnight.", "wire.example"),
        report(124, "2024-10-03T03:40:00Z", "Drone swarm wrecks long range air defence radar system in the south",
               "Kyiv said the unit was struck before dawn by its domestically built drones.", "daily.example"),
    ])
    assert events["r123"] and events["r124"] and events["r123"] != events["r124"]
