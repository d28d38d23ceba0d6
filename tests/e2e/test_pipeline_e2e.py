"""HTTP feed -> connector -> Kafka -> worker -> alert read back from news.alerts, on the real broker."""

from __future__ import annotations

import json
from pathlib import Path

from helpers.procs import REPO, read_until, settings_env, wirewatch

from connectors.article import encode
from connectors.settings import Settings
from streams.alerts import RANK
from streams.shell.seedserver import StaticFeedServer
from streams.shell.topics import ensure_topics


def _feed_list(tmp_path: Path) -> Path:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text((REPO / "seeds" / "feeds.yaml").read_text("utf-8"), "utf-8")
    return feeds


def test_seed_article_reaches_the_alert_topic(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    env = settings_env(settings)
    with StaticFeedServer(REPO / "seeds" / "feeds") as server:
        env["WIREWATCH_SEED_SERVER"] = server.url
        with wirewatch(["worker"], env, tmp_path / "worker.log") as worker:
            with wirewatch(["connect", "--feeds", str(_feed_list(tmp_path)), "--once"], env,
                           tmp_path / "connect.log") as connector:
                assert connector.wait(timeout=120) == 0, (tmp_path / "connect.log").read_text()
            articles = read_until(settings, settings.topics.articles, lambda r: len(r) >= 7, timeout=30)
            alerts = read_until(settings, settings.topics.alerts,
                                lambda r: any("armed_attack" in a["categories"] for a in r), timeout=120,
                                alive=(worker,))
            story = next(a["story_id"] for a in alerts if "armed_attack" in a["categories"])
            # the wire dispatch and both republished copies reached the event stage
            scored = read_until(settings, settings.topics.scored,
                                lambda r: len({s["id"] for s in r if s["story_id"] == story}) >= 3, timeout=120,
                                alive=(worker,))
            alerts = read_until(settings, settings.topics.alerts, lambda r: len(r) >= len(alerts), timeout=30)
    assert len({a["id"] for a in articles}) == 7  # three feeds, seven distinct items
    seed = [a for a in alerts if "armed_attack" in a["categories"]]
    assert seed, alerts
    # One event for the wire dispatch and its two republished copies: one alert id, rising versions.
    assert len({a["alert_id"] for a in seed}) == 1
    assert [a["version"] for a in seed] == list(range(1, len(seed) + 1))
    final = seed[-1]
    assert RANK[final["severity"]] >= RANK["high"]
    # one independent report, republished twice: a copy adds no independent outlet, so no new version
    assert len(final["sources"]) == 1 and final["sources"][0] in ("wire.example", "daily.example",
                                                                  "aggregator.example")
    assert "Syria" in final["places"] and final["event_id"]
    assert len({s["id"] for s in scored if s["story_id"] == final["story_id"]}) == 3
    # Nothing unrelated raised an alert (the festival, timetable, cycle lanes and library items).
    assert all(a["event_id"] == final["event_id"] for a in alerts)


def test_bad_records_go_to_the_dlq_and_processing_continues(settings: Settings, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    ensure_topics(settings)
    good = {"id": "good-1", "url": "https://wire.example/good-1", "title": "Rocket fire kills 12 in border town",
            "published_at": "2021-03-01T10:00:00Z", "source": "wire.example", "feed": "test",
            "language": "en", "content": "At least 12 people were killed when rockets struck the town "
                                         "of Ardmore overnight, officials said."}
    producer = KafkaProducer(**settings.kafka_options())
    producer.send(settings.topics.articles, key=b"junk", value=b"\xff not json")
    producer.send(settings.topics.articles, key=b"half", value=json.dumps({"id": "x"}).encode())
    producer.send(settings.topics.articles, key=b"good-1", value=encode(good))
    producer.flush()
    producer.close()
    env = {**settings_env(settings), "WIREWATCH_LOG_FORMAT": "json"}
    with wirewatch(["worker"], env, tmp_path / "worker.log") as worker:
        dlq = read_until(settings, f"{settings.topics.articles}.dlq", lambda r: len(r) >= 2, timeout=120,
                         decode=lambda m: (m.key, dict(m.headers)), alive=(worker,))
        stories = read_until(settings, settings.topics.stories, lambda r: len(r) >= 1, timeout=60)
    assert {key for key, _ in dlq} == {b"junk", b"half"}
    for _, headers in dlq:
        assert headers["source.topic"] == settings.topics.articles.encode()
        assert headers["error"]
        assert int(headers["source.offset"]) in (0, 1)
    assert [s["id"] for s in stories] == ["good-1"]
    # the worker's log is JSON, one object per line, and each DLQ warning names the record
    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text("utf-8").splitlines() if line.strip()]
    warned = [r for r in lines if r["message"].startswith("record to DLQ")]
    assert {(r["topic"], r["partition"], r["offset"]) for r in warned} == {
        (h["source.topic"].decode(), int(h["source.partition"]), int(h["source.offset"])) for _, h in dlq}, warned
