"""At-least-once without loss or duplicate alerts: kill -9 the worker mid-stream and restart it."""

from __future__ import annotations

import json
import os
import signal
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers.procs import read_until, settings_env, wirewatch
from helpers.stream_data import story_articles

from connectors.article import encode
from connectors.settings import Settings
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.topics import ensure_topics


def _final_alerts(alerts: list[dict[str, Any]]) -> dict[frozenset[str], tuple[Any, ...]]:
    latest: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        if alert["alert_id"] not in latest or alert["version"] > latest[alert["alert_id"]]["version"]:
            latest[alert["alert_id"]] = alert
    return {frozenset(a["articles"]): (a["severity"], a["casualties"], sorted(a["sources"]), a["copies"])
            for a in latest.values()}


def test_worker_killed_mid_stream_loses_nothing_and_duplicates_no_alert(settings: Settings,
                                                                        tmp_path: Path) -> None:
    from kafka import KafkaProducer

    # One partition: the worker sees the file order, so its stories must equal replay's exactly.
    settings = replace(settings, partitions=1)

    articles = story_articles(60)
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    expected = _final_alerts([a for _, _, published, _ in pipeline.run(json.dumps(x) for x in articles)
                              for a in published])
    assert len(expected) >= 20  # the data really exercises alerts

    ensure_topics(settings)
    producer = KafkaProducer(acks="all", **settings.kafka_options())
    for article in articles:
        producer.send(settings.topics.articles, key=article["id"].encode(), value=encode(article))
    producer.flush()
    producer.close()

    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0", "WIREWATCH_SESSION_TIMEOUT": "6"}
    with wirewatch(["worker"], env, tmp_path / "worker-1.log") as first:
        read_until(settings, settings.topics.stories, lambda r: len(r) >= len(articles) // 3, timeout=120,
                   alive=(first,))
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    with wirewatch(["worker"], env, tmp_path / "worker-2.log") as second:
        stories = read_until(settings, settings.topics.stories,
                             lambda r: {s["id"] for s in r} >= {a["id"] for a in articles}, timeout=180,
                             alive=(second,))
        try:
            alerts = read_until(settings, settings.topics.alerts, lambda r: _final_alerts(r) == expected,
                                timeout=120, alive=(second,))
        except AssertionError:
            got = _final_alerts(read_until(settings, settings.topics.alerts, lambda r: True, timeout=10))
            missing = {k: v for k, v in expected.items() if got.get(k) != v}
            extra = {k: v for k, v in got.items() if expected.get(k) != v}
            raise AssertionError(f"final alerts differ from replay: expected {missing}, got {extra}") from None

    decisions: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for record in stories:
        decisions[record["id"]].add((record["copy_of"], record["story_id"]))
    assert set(decisions) == {a["id"] for a in articles}
    assert all(len(d) == 1 for d in decisions.values()), "a replayed article got a different decision"
    versions = [(a["alert_id"], a["version"]) for a in alerts]
    assert len(versions) == len(set(versions)), "an alert version was published twice"
    by_id: dict[str, list[int]] = defaultdict(list)
    for alert_id, version in versions:
        by_id[alert_id].append(version)
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in by_id.values()), "an alert version is missing"
