"""The event stage in a real worker on the real broker: two outlets' reports of one occurrence become
one event with one alert in two versions, as `wirewatch replay` says."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from helpers.procs import read_until, settings_env, wirewatch

from connectors.article import encode
from connectors.settings import Settings
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.topics import ensure_topics

REPORTS = [
    {"id": "ev-wire-1", "url": "https://wire.example/1", "feed": "wire", "source": "wire.example", "language": "en",
     "published_at": "2023-03-06T09:10:00Z", "tags": ["world", "ukraine"],
     "title": "Missile strike on market in Kramatorsk kills six",
     "summary": "A Russian missile hit a crowded market in Kramatorsk on Monday morning, killing six people and "
                "wounding 21, the regional governor Pavlo Kyrylenko said."},
    {"id": "ev-daily-1", "url": "https://daily.example/1", "feed": "daily", "source": "daily.example", "language": "en",
     "published_at": "2023-03-06T10:05:00Z", "tags": ["europe"],
     "title": "Six dead as Russian rocket slams into Kramatorsk bazaar",
     "summary": "Rescuers searched the rubble of the Kramatorsk bazaar after the strike, which governor Kyrylenko "
                "said killed six civilians. Twenty-one were taken to hospital."},
]


def test_two_outlets_reports_make_one_event_and_one_alert_in_two_versions(settings: Settings, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    ensure_topics(settings)
    producer = KafkaProducer(acks="all", **settings.kafka_options())
    for report in REPORTS:
        producer.send(settings.topics.articles, key=report["id"].encode(), value=encode(report))
    producer.flush()
    producer.close()
    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0"}
    with wirewatch(["worker"], env, tmp_path / "worker.log") as worker:
        alerts = read_until(settings, settings.topics.alerts, lambda r: any(a["version"] == 2 for a in r),
                            timeout=120, alive=(worker,))
        scored = read_until(settings, settings.topics.scored, lambda r: len(r) >= 2, timeout=30,
                            decode=lambda m: (m.partition, json.loads(m.value)))
    assert {partition for partition, _ in scored} == {0}       # every report meets the same event state
    assert {record["id"] for _, record in scored} == {r["id"] for r in REPORTS}
    assert len({a["alert_id"] for a in alerts}) == 1
    assert [a["version"] for a in alerts] == [1, 2] and alerts[0]["reason"] == "new"
    # The worker says what replay says over the reports in the order the event stage saw them (two
    # partitions upstream: either report may come first, and the first one names the event).
    order = {record["id"]: n for n, (_, record) in enumerate(scored)}
    expected = []
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    for _, _, published, _ in pipeline.run(json.dumps(r) for r in sorted(REPORTS, key=lambda r: order[r["id"]])):
        expected.extend(published)
    assert alerts == expected
    final = alerts[-1]
    assert set(final["sources"]) == {"wire.example", "daily.example"} and set(final["feeds"]) == {"wire", "daily"}
    assert set(final["tags"]) == {"world", "ukraine", "europe"}
    assert {"field": "sources", "from": 1, "to": 2} in final["changes"]
