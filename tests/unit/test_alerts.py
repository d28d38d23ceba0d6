"""One living alert per story: versions, reasons, storm bound, idempotence under replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from streams.alerts import AlertPolicy, StoryTracker, alert_id


def scored(article_id: str, *, at: str, severity: str = "high", casualties: int | None = None,
           categories: tuple[str, ...] = ("armed_attack",), source: str = "wire.example",
           story: str = "s-1", score: float = 7.0) -> dict[str, Any]:
    return {"id": article_id, "story_id": story, "title": f"title {article_id}", "url": f"https://x/{article_id}",
            "source": source, "published_at": at,
            "escalation": {"severity": severity, "score": score, "categories": list(categories),
                           "casualties": casualties, "matches": []}}


def test_first_alert_is_version_one_with_deterministic_id() -> None:
    tracker = StoryTracker()
    alert = tracker.update(scored("a", at="2021-02-26T05:00:00Z", casualties=17), "r1")
    assert alert is not None
    assert (alert["version"], alert["reason"], alert["casualties"]) == (1, "new", 17)
    assert alert["alert_id"] == alert_id("s-1") == StoryTracker().update(
        scored("a", at="2021-02-26T05:00:00Z"), "r1")["alert_id"]


def test_a_copy_with_a_higher_toll_updates_the_alert_at_once() -> None:
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(hours=1)))
    tracker.update(scored("a", at="2021-02-26T05:00:00Z", casualties=17), "r1")
    update = tracker.update(scored("b", at="2021-02-26T05:01:00Z", casualties=22), "r1")
    assert update is not None
    assert (update["version"], update["reason"], update["casualties"]) == (2, "escalated", 22)


def test_spread_milestones_go_out_at_once_growth_in_between_waits_for_the_interval() -> None:
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(minutes=10)))
    tracker.update(scored("a", at="2021-02-26T05:00:00Z"), "r1")
    second = tracker.update(scored("b", at="2021-02-26T05:01:00Z", source="s2"), "r1")
    third = tracker.update(scored("c", at="2021-02-26T05:02:00Z", source="s3"), "r1")
    assert second is not None and third is not None
    assert [second["reason"], len(second["sources"]), third["version"]] == ["spread", 2, 3]
    # A fourth outlet is not a milestone (1, 2, 3, 5, 10, ...): it waits for the interval.
    assert tracker.update(scored("d", at="2021-02-26T05:03:00Z", source="s4"), "r1") is None
    released = tracker.update(scored("e", at="2021-02-26T05:20:00Z", source="s4"), "r1")
    assert released is not None
    assert (released["version"], released["reason"], len(released["sources"]), released["copies"]) == (
        4, "spread", 4, 5)


def test_copies_arriving_with_older_publication_times_still_update_the_alert() -> None:
    """Throttling runs on arrival (fetch) time: late-arriving older copies must not freeze the story."""
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(minutes=10)))
    first = scored("agg", at="2021-02-26T07:05:00Z", source="aggregator")
    first["fetched_at"] = "2021-02-26T08:00:00Z"
    assert tracker.update(first, "r1") is not None
    late = scored("wire", at="2021-02-26T05:12:00Z", source="wire", casualties=17)
    late["fetched_at"] = "2021-02-26T08:00:01Z"
    update = tracker.update(late, "r1")
    assert update is not None and update["casualties"] == 17 and len(update["sources"]) == 2
    assert update["updated_at"] == "2021-02-26T07:05:00Z" and update["first_seen"] == "2021-02-26T05:12:00Z"


def test_severity_rise_bypasses_the_interval() -> None:
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(hours=1)))
    tracker.update(scored("a", at="2021-02-26T05:00:00Z", severity="medium"), "r1")
    rise = tracker.update(scored("b", at="2021-02-26T05:01:00Z", severity="critical", score=12), "r1")
    assert rise is not None and rise["severity"] == "critical" and rise["reason"] == "escalated"


def test_copy_adding_nothing_new_emits_nothing() -> None:
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(0)))
    tracker.update(scored("a", at="2021-02-26T05:00:00Z", casualties=17), "r1")
    assert tracker.update(scored("b", at="2021-02-26T06:00:00Z", casualties=17, severity="medium"), "r1") is None


def test_replayed_article_changes_nothing() -> None:
    state: dict[str, Any] = {}
    tracker = StoryTracker(state)
    tracker.update(scored("a", at="2021-02-26T05:00:00Z"), "r1")
    before = {k: dict(v) for k, v in state.items()}
    assert tracker.update(scored("a", at="2021-02-26T05:00:00Z", casualties=99), "r1") is None
    assert state == before


def test_plan_does_not_write_state() -> None:
    state: dict[str, Any] = {}
    alert, story = StoryTracker(state).plan(scored("a", at="2021-02-26T05:00:00Z"), "r1")
    assert alert is not None and story is not None and state == {}


def test_low_stories_are_tracked_not_alerted() -> None:
    state: dict[str, Any] = {}
    tracker = StoryTracker(state, AlertPolicy(min_severity="medium"))
    assert tracker.update(scored("a", at="2021-02-26T05:00:00Z", severity="low"), "r1") is None
    assert state["s-1"]["copies"] == 1
    first = tracker.update(scored("b", at="2021-02-26T05:30:00Z", severity="high"), "r1")
    assert first is not None and (first["version"], first["reason"]) == (1, "new")


def test_article_list_is_bounded_newest_last() -> None:
    tracker = StoryTracker(policy=AlertPolicy(min_interval=timedelta(0)))
    alert = None
    for i in range(30):
        alert = tracker.update(scored(f"a{i}", at=f"2021-02-26T05:{i:02d}:00Z", source=f"s{i}"), "r1") or alert
    assert alert is not None
    assert len(alert["articles"]) == 20 and alert["articles"][-1] == "a29"


def test_policy_rejects_unknown_severity() -> None:
    with pytest.raises(ValueError, match="min_severity"):
        AlertPolicy(min_severity="severe")


def test_cached_time_order_is_max_min_by_parse_time() -> None:
    from connectors.article import parse_time
    from streams.alerts import _earlier, _later

    times = ["2024-05-01T10:00:00Z", "2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00+00:00",
             "2024-05-01T09:59:59Z", "2024-05-01T10:00:01z", "2024-05-01T10:00:00"]
    for a in times:
        for b in times:
            assert _later(a, b) == max(a, b, key=parse_time)
            assert _earlier(a, b) == min(a, b, key=parse_time)
    with pytest.raises(ValueError):
        _later("not a time", "not a time")
