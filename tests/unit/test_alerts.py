"""One living alert per event: versions, reasons, changes, storm bounds, the merged last version."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from streams.alerts import AlertPolicy, alert_id, earlier, later, merged_alert, plan_alert


def event(**facts: Any) -> dict[str, Any]:
    base = {"id": "ev-1", "severity": "high", "score": 7.0, "categories": ["armed_attack"], "casualties": 6,
            "title": "t", "url": "https://x/1", "source": "wire.example", "sources": ["wire.example"], "copies": 0,
            "first_seen": "2021-02-26T05:00:00Z", "updated_at": "2021-02-26T05:00:00Z",
            "clock": "2021-02-26T05:00:00Z", "rule_version": "r1", "matches": [], "articles": ["a"],
            "languages": ["en"], "places": ["Erbil"], "tags": [], "feeds": ["wire"], "story_id": "s-a",
            "emitted": None, "merged_into": None}
    return {**base, **facts}


def test_first_version_is_new_with_a_deterministic_id_and_no_changes() -> None:
    e = event()
    alert = plan_alert(e, AlertPolicy())
    assert alert is not None
    assert (alert["version"], alert["reason"], alert["changes"], alert["merged_into"]) == (1, "new", [], None)
    assert alert["alert_id"] == alert_id("ev-1") and alert["event_id"] == "ev-1"
    assert plan_alert(e, AlertPolicy()) is None              # nothing changed since: nothing to say


def test_a_revised_toll_goes_out_at_once_and_says_what_changed() -> None:
    e = event()
    plan_alert(e, AlertPolicy(min_interval=timedelta(hours=1)))
    e.update(casualties=13, clock="2021-02-26T05:01:00Z")
    update = plan_alert(e, AlertPolicy(min_interval=timedelta(hours=1)))
    assert update is not None and (update["version"], update["reason"]) == (2, "escalated")
    assert update["changes"] == [{"field": "casualties", "from": 6, "to": 13}]
    e.update(casualties=11, clock="2021-02-26T05:02:00Z")    # revised down: the alert follows it
    down = plan_alert(e, AlertPolicy(min_interval=timedelta(hours=1)))
    assert down is not None and down["changes"] == [{"field": "casualties", "from": 13, "to": 11}]


def test_spread_milestones_and_new_languages_go_out_at_once_growth_in_between_waits() -> None:
    policy = AlertPolicy(min_interval=timedelta(minutes=10))
    e = event()
    plan_alert(e, policy)
    e.update(sources=["wire.example", "b"], clock="2021-02-26T05:01:00Z")
    second = plan_alert(e, policy)
    assert second is not None and second["reason"] == "spread"
    assert second["changes"] == [{"field": "sources", "from": 1, "to": 2}]
    e.update(sources=["wire.example", "b", "c", "d"], clock="2021-02-26T05:02:00Z")
    assert plan_alert(e, policy) is not None                 # 3 is a milestone (reached by 4)
    e.update(sources=["wire.example", "b", "c", "d", "e"][:4] + ["e"], clock="2021-02-26T05:03:00Z")
    assert plan_alert(e, policy) is not None                 # 5 is a milestone
    e.update(sources=[*e["sources"], "f"], clock="2021-02-26T05:04:00Z")
    assert plan_alert(e, policy) is None                     # 6 is not: it waits for the interval
    e.update(languages=["en", "fr"], clock="2021-02-26T05:05:00Z")
    french = plan_alert(e, policy)
    assert french is not None and french["reason"] == "spread"
    assert {"field": "languages", "from": ["en"], "to": ["en", "fr"]} in french["changes"]
    assert {"field": "sources", "from": 5, "to": 6} in french["changes"]


def test_severity_rise_bypasses_the_interval_and_is_a_change() -> None:
    policy = AlertPolicy(min_interval=timedelta(hours=1))
    e = event(severity="medium")
    plan_alert(e, policy)
    e.update(severity="critical", clock="2021-02-26T05:01:00Z")
    rise = plan_alert(e, policy)
    assert rise is not None and rise["reason"] == "escalated"
    assert {"field": "severity", "from": "medium", "to": "critical"} in rise["changes"]


def test_events_below_the_minimum_are_tracked_not_alerted() -> None:
    e = event(severity="low")
    assert plan_alert(e, AlertPolicy(min_severity="medium")) is None and e["emitted"] is None
    e.update(severity="high")
    assert plan_alert(e, AlertPolicy(min_severity="medium"))["version"] == 1  # type: ignore[index]


def test_a_merged_event_closes_its_alert_with_the_surviving_alert_id() -> None:
    young = event(id="ev-2")
    assert merged_alert(young, "ev-1") is None                # never alerted: nothing to close
    plan_alert(young, AlertPolicy())
    closing = merged_alert(young, "ev-1")
    assert closing is not None
    assert (closing["version"], closing["reason"], closing["merged_into"]) == (2, "merged", alert_id("ev-1"))
    assert closing["changes"] == [{"field": "merged_into", "from": None, "to": alert_id("ev-1")}]
    young["merged_into"] = "ev-1"
    young.update(casualties=99)
    assert plan_alert(young, AlertPolicy()) is None           # a merged event says nothing more


def test_policy_rejects_unknown_severity() -> None:
    with pytest.raises(ValueError, match="min_severity"):
        AlertPolicy(min_severity="severe")


def test_cached_time_order_is_max_min_by_parse_time() -> None:
    from connectors.article import parse_time

    times = ["2024-05-01T10:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00+00:00",
             "2024-05-01T09:59:59Z", "2024-05-01T10:00:01z", "2024-05-01T10:00:00"]
    for a in times:
        for b in times:
            assert later(a, b) == max(a, b, key=parse_time)
            assert earlier(a, b) == min(a, b, key=parse_time)
    with pytest.raises(ValueError):
        later("not a time", "not a time")
