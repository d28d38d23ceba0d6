"""Story state is bounded by event time: stories silent for longer than the retention are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.alerts import STORY_RETENTION, AlertPolicy, StoryTracker
from streams.escalation import Rules
from streams.pipeline import commit_story, score_stage

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def article(n: int, story: str, hours: float) -> dict:
    at = (T0 + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"a{n}", "story_id": story, "copy_of": None, "similarity": None, "published_at": at,
            "fetched_at": at, "source": f"s{n}", "title": "t", "url": f"https://x.test/{n}",
            "escalation": {"severity": "none", "score": 0.0, "categories": [], "casualties": None, "matches": []}}


def test_stories_past_the_retention_are_forgotten_and_live_ones_kept() -> None:
    tracker = StoryTracker(policy=AlertPolicy())
    assert timedelta(hours=2 * 72) <= STORY_RETENTION            # never before dedupe forgets the articles
    tracker.update(article(1, "old", 0), "r1")
    tracker.update(article(2, "busy", 0), "r1")
    for hour in range(1, 200, 12):                                # "busy" keeps getting articles
        tracker.update(article(100 + hour, "busy", hour), "r1")
        commit_story(tracker, None)
    assert "old" not in tracker.state and "busy" in tracker.state
    tracker.update(article(999, "late", 199), "r1")
    assert commit_story(tracker, None) == []                      # a sweep at most every retention/4
    assert set(tracker.state) == {"busy", "late"}


def test_sweeps_are_per_part_and_only_take_what_belongs_to_it() -> None:
    tracker = StoryTracker()
    for n, story in enumerate(("p0-a", "p1-a")):
        tracker.update(article(n, story, 0), "r1")
    tracker.update(article(5, "p0-b", 300), "r1")
    assert tracker.sweep_due(0) is False                          # first sight of a part starts its clock
    assert tracker.expired(0, lambda sid: sid.startswith("p0")) == ["p0-a"]
    tracker.update(article(6, "p0-c", 300 + STORY_RETENTION.total_seconds() / 3600 / 4), "r1")
    assert tracker.sweep_due(0) is True and tracker.sweep_due(1) is False


def test_replay_with_expiry_gives_the_same_alerts_while_nothing_expires() -> None:
    rules = Rules.load()
    texts = [("Rocket fire kills 12 in Ardmore", 0), ("Rocket fire kills 14 in Ardmore", 30)]
    trackers = [StoryTracker(), StoryTracker(retention=timedelta(days=10_000))]
    outputs = []
    for tracker in trackers:
        out = []
        for n, (title, hours) in enumerate(texts):
            a = article(n, "s1", hours) | {"title": title, "norm": {"title": title, "body": title, "language": "en"}}
            out.append(score_stage(a, rules, tracker)[1])
        outputs.append(out)
    assert outputs[0] == outputs[1] and outputs[0][0] is not None
