"""Event time that no single record can move far (streams/eventtime.py), through every stage.

One article dated 9999 used to move the clocks of dedupe and of the event stage to 9999: the whole
dedupe window and every event expired at once, the next copies of known stories opened new alerts
instead of updating theirs, and the stored time kept dedupe blind after a restart. Each case below runs
a stream through the pipeline (what the worker's agents and `wirewatch replay` run), with the hostile
record in the middle and a restart (state re-read from the stores) right after it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers.stream_data import story_articles

import streams
from connectors.article import parse_time, rfc3339
from streams import eventtime
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline

T0 = datetime(2021, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
HOSTILE_AT = T0 + timedelta(hours=60)         # when the hostile record is processed (the processing clock)
COPIES_AT = T0 + timedelta(hours=62)          # copies of day-0 stories: still in the 72 h dedupe window


def at(moment: datetime) -> str:
    return rfc3339(moment)


def test_the_rule() -> None:
    now = HOSTILE_AT.timestamp()
    fetched = at(HOSTILE_AT)
    rule = eventtime.event_time
    ok = rule("2021-03-03T11:00:00.5Z", fetched, now)
    assert (ok.flag, ok.text, ok.arrival_text) == (None, "2021-03-03T11:00:00.5Z", fetched)
    ahead = rule("9999-12-31T23:59:59Z", fetched, now)               # a feed's date after its own fetch
    assert ahead.flag == "ahead" and ahead.at == now + eventtime.SKEW_S and ahead.moves_clocks
    assert rule(at(HOSTILE_AT + timedelta(minutes=10)), fetched, now).flag is None     # within the skew
    forged = rule("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", now)  # fetched_at ahead of our clock
    assert forged.flag == "clock" and forged.at == now + eventtime.SKEW_S and not forged.moves_clocks
    assert rule("9999-12-31T23:59:59Z", None, now).flag == "clock"
    fast = rule(at(HOSTILE_AT + DAY), at(HOSTILE_AT + DAY), now)        # a producer clock a day fast
    assert fast.flag == "clock" and not fast.moves_clocks
    old = rule("0001-01-01T00:00:00Z", fetched, now)                 # no date at all: the fetch time
    assert old.flag == "floor" and old.text == fetched and old.moves_clocks
    assert rule("0001-01-01T00:00:00Z", None, now).text == "1990-01-01T00:00:00Z"
    archive = rule("2015-06-01T08:00:00Z", fetched, now)               # old, but a real date: kept
    assert archive.flag is None and archive.text == "2015-06-01T08:00:00Z"
    # without a processing clock (a record normalised before stamps existed) only fetched_at bounds it
    assert rule("9999-12-31T23:59:59Z", fetched, None).flag == "ahead"


def violent_stream(n_stories: int = 24) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(originals on day 0, their copies 62 h later): the violent stories alert and their copies (some with a
    higher toll) update those alerts."""
    originals, copies = [], []
    for article in story_articles(n_stories, seed=5):
        if article["id"].endswith("c0"):
            originals.append(article)
        else:
            moved = parse_time(article["published_at"]) - T0 + COPIES_AT
            copies.append({**article, "published_at": at(moved), "fetched_at": at(moved + timedelta(minutes=2))})
    return originals, copies


HOSTILE = {"id": "hostile", "url": "https://hostile.example/1", "feed": "hostile", "source": "hostile.example",
           "language": "en", "title": "Rocket attack on Glenrock kills two",
           "content": "Rockets struck Glenrock, a town far from the others, killing 2 people, officials said."}
CASES = {
    "year 9999, fetched_at sane": {"published_at": "9999-12-31T23:59:59Z", "fetched_at": at(HOSTILE_AT)},
    "year 9999, no fetched_at": {"published_at": "9999-12-31T23:59:59Z"},
    "year 9999, fetched_at 9999": {"published_at": "9999-12-31T23:59:59Z", "fetched_at": "9999-12-31T23:59:59Z"},
    "year 0001, fetched_at sane": {"published_at": "0001-01-01T00:00:00Z", "fetched_at": at(HOSTILE_AT)},
    "year 0001, no fetched_at": {"published_at": "0001-01-01T00:00:00Z"},
    "producer clock a day fast": {"published_at": at(HOSTILE_AT + DAY), "fetched_at": at(HOSTILE_AT + DAY)},
}


class Clock:
    """The processing clock of a live worker: a minute after the newest record it was given."""

    def __init__(self) -> None:
        self.now = T0.timestamp()

    def __call__(self) -> float:
        return self.now

    def follow(self, article: dict[str, Any]) -> None:
        self.now = max(self.now, parse_time(article["published_at"]).timestamp() + 60)


def alert_validator() -> Any:
    schema = json.loads((Path(streams.__file__).parent / "schemas" / "alert.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted after it"])
def test_one_hostile_time_expires_nothing(case: str, restart: bool) -> None:
    originals, copies = violent_stream()
    rules, policy = Rules.load(), AlertPolicy(min_interval=timedelta(0))
    dedupe_store: dict[str, Any] = {}
    event_state: dict[str, Any] = {}
    clock = Clock()
    pipeline = Pipeline(rules, policy, dedupe_store=dedupe_store, event_state=event_state, clock=clock)
    first_alert: dict[str, str] = {}
    for article in originals:
        clock.follow(article)
        decision, alerts = pipeline.process(article)
        for alert in alerts:
            first_alert[article["id"]] = alert["alert_id"]
    window = pipeline.index.parts["en"]
    clock.now = HOSTILE_AT.timestamp()
    decision, hostile_alerts = pipeline.process({**HOSTILE, **CASES[case]})
    # the record is kept (decided, scored, its own event), never lost
    assert decision["id"] == "hostile" and decision["escalation"]["severity"] != "none"
    latest_good = max(parse_time(a["published_at"]).timestamp() for a in originals)
    assert window.max_ts <= max(latest_good, HOSTILE_AT.timestamp() + eventtime.SKEW_S)
    assert len(window.live) == len(originals) + 1 or len(window.live) == len(originals)   # nothing expired
    validator = alert_validator()
    for alert in hostile_alerts:
        assert not list(validator.iter_errors(alert)), alert
        for name in ("first_seen", "updated_at"):
            assert eventtime.FLOOR <= parse_time(alert[name]).timestamp() <= HOSTILE_AT.timestamp() + 900
    if restart:  # a new process: the dedupe window rebuilt from its records, the event state re-read
        pipeline = Pipeline(rules, policy, dedupe_store=dedupe_store, event_state=event_state, clock=clock)
        assert pipeline.index.parts["en"].max_ts <= HOSTILE_AT.timestamp() + eventtime.SKEW_S
    updated: set[str] = set()
    for article in copies:
        clock.follow(article)
        decision, alerts = pipeline.process(article)
        original = article["id"][:-1] + "0"
        assert decision["copy_of"] == original, (article["id"], decision)
        for alert in alerts:          # a copy updates its original's alert, never opens one of its own
            assert alert["alert_id"] == first_alert[original] and alert["reason"] != "new", alert
            assert not list(validator.iter_errors(alert)), alert
            updated.add(alert["alert_id"])
    assert len(updated) >= 5          # (the stream's higher tolls: every violent story with a revised copy)


def test_the_stamp_travels_with_the_record_and_replay_reads_it() -> None:
    """The normalize stage stamps `norm.time` once; dedupe and the event stage read the stamp, not the
    record's own published_at (a stage never applies the rule again, with another clock)."""
    from streams.dedupe import DedupeIndex
    from streams.pipeline import dedupe_stage, normalize_stage, score_stage

    originals, _ = violent_stream(4)
    normed = normalize_stage({**originals[0], "published_at": "9999-12-31T23:59:59Z"}, now=HOSTILE_AT.timestamp())
    stamp = normed["norm"]["time"]
    assert stamp == {"event": at(HOSTILE_AT + timedelta(minutes=15)), "arrival": stamp["event"], "flag": "clock"}
    story = dedupe_stage(normed, DedupeIndex())
    assert story["norm"]["time"] == stamp and story["published_at"] == "9999-12-31T23:59:59Z"  # the claim kept
    _, scored = score_stage(story, Rules.load())
    assert scored["published_at"] == stamp["event"] and scored["norm"]["time"] == stamp
