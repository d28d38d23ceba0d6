"""Hostile and careless records through a real worker on the real broker: nothing lost, nothing poisoned.

One `news.articles` backlog (two partitions) holds the hostile corpus (tests/helpers/hostile.py: XSS
vectors, control characters, bidi overrides, overlong strings in titles, summaries, sources, feeds, tags
and URLs), a report dated 9999, a 945 kB article, and records the contract refuses (a 1.02 MB one that
is not JSON, deeply nested JSON, an impossible date, a leap second, `fetched_at: "yesterday"`, an id
with markup, a lone surrogate). Then, each checked against `wirewatch replay` over the same lines:

- every record is somewhere: decided on news.stories, or in news.articles.dlq with its error and
  where it came from (the 1.02 MB one as a bounded copy); replay reports exactly those as bad;
- the 945 kB article is decided, its content cut and flagged;
- the alerts are replay's alerts, and every field of every alert is text (`assert_alert_is_text`).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers.hostile import alert_validator, assert_alert_is_text, hostile_articles
from helpers.procs import read_until, settings_env, wirewatch

from connectors.settings import Settings
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.topics import ensure_topics


def _big(content_bytes: int) -> dict[str, Any]:
    paragraph = "<p>Rockets struck the port of Sirte on Monday, killing 12 people, officials said.</p>\n"
    return {"id": "big-945k", "url": "https://wire.example/big", "title": "Rocket attack on Sirte port kills 12",
            "published_at": "2024-03-01T10:00:00Z", "source": "wire.example", "feed": "wire", "language": "en",
            "content": (paragraph * (content_bytes // len(paragraph) + 1))[:content_bytes]}


def corpus() -> tuple[list[tuple[bytes, bytes]], dict[bytes, str]]:
    """((key, line) as produced, in order; the key of each bad line -> what its error names)."""
    good = hostile_articles("w")
    good.append({"id": "w-9999", "url": "https://wire.example/9999", "feed": "wire", "source": "wire.example",
                 "language": "en", "title": "Rocket attack on Zliten kills 6",
                 "summary": "Rockets struck Zliten, killing 6 people, officials said.",
                 "published_at": "9999-12-31T23:59:59Z", "fetched_at": "2024-02-01T00:00:00Z"})
    good.append(_big(945_000))
    base = {"url": "https://wire.example/bad", "title": "Bad record", "source": "wire.example", "feed": "wire",
            "published_at": "2024-03-02T10:00:00Z"}
    bad: list[tuple[bytes, bytes, str]] = [
        (b"huge", b'{"id": "huge", "x": "' + b"x" * 1_020_000, "not JSON"),
        (b"deep", b'{"id": "deep", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested deeper"),
        (b"feb30", json.dumps({**base, "id": "feb30", "published_at": "2023-02-30T10:00:00Z"}).encode(),
         "published_at"),
        (b"leap", json.dumps({**base, "id": "leap", "published_at": "2016-12-31T23:59:60Z"}).encode(), "published_at"),
        (b"yesterday", json.dumps({**base, "id": "yesterday", "fetched_at": "yesterday"}).encode(), "fetched_at"),
        (b"markup-id", json.dumps({**base, "id": "<img src=x onerror=alert(1)>"}).encode(), "field id"),
        (b"surrogate", (json.dumps({**base, "id": "surrogate"})[:-1] + ', "title2": "\\ud800"}').encode(),
         "surrogate"),
    ]
    records = [(a["id"].encode(), json.dumps(a).encode()) for a in good]
    records[10:10] = [(key, line) for key, line, _ in bad]
    return records, {key: reason for key, _, reason in bad}


def test_hostile_records_are_decided_or_in_the_dlq_and_alerts_are_text(settings: Settings, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    records, bad = corpus()
    # what replay says about the same lines: the bad ones, the decisions, the alerts
    replay = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    decided, expected_alerts, refused = set(), [], set()
    for number, decision, published, error in replay.run(line for _, line in records):
        if error is not None:
            refused.add(number)
        else:
            decided.add(decision["id"])
            expected_alerts.extend(published)
    assert refused == {n + 1 for n, (key, _) in enumerate(records) if key in bad}
    ensure_topics(settings)
    producer = KafkaProducer(acks="all", max_request_size=2_000_000, **settings.kafka_options())
    for key, line in records:
        producer.send(settings.topics.articles, key=key, value=line)
    producer.flush()
    producer.close()
    final = {(a["alert_id"], a["version"]) for a in expected_alerts}
    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0"}
    with wirewatch(["worker"], env, tmp_path / "worker.log") as worker:
        stories = read_until(settings, settings.topics.stories, lambda r: {s["id"] for s in r} >= decided,
                             timeout=180, alive=(worker,))
        dlq = read_until(settings, f"{settings.topics.articles}.dlq", lambda r: len(r) >= len(bad), timeout=60,
                         alive=(worker,), decode=lambda m: (m.key, m.value, dict(m.headers)))
        alerts = read_until(settings, settings.topics.alerts,
                            lambda r: {(a["alert_id"], a["version"]) for a in r} >= final, timeout=120,
                            alive=(worker,))
    # every record somewhere: decided, or in the DLQ with its error and where it came from
    assert {s["id"] for s in stories} == decided
    by_key = {key: (value, headers) for key, value, headers in dlq}
    assert set(by_key) == set(bad), set(by_key)
    for key, reason in bad.items():
        value, headers = by_key[key]
        assert reason.encode() in headers["error"], (key, headers["error"])
        assert headers["source.topic"] == settings.topics.articles.encode() and int(headers["source.offset"]) >= 0
    huge_value, huge_headers = by_key[b"huge"]
    assert huge_headers["value.truncated"] == b"1" and int(huge_headers["value.bytes"]) > 1_020_000
    assert len(huge_value) <= 65_536
    # the 945 kB article: decided, its raw content cut to fit, its decision inputs whole
    big = next(s for s in stories if s["id"] == "big-945k")
    assert big["truncated"] == ["content"] and len(big["content"]) < 945_000 and big["norm"]["body"]
    # the year-9999 report: decided at a bounded time, flagged
    assert next(s for s in stories if s["id"] == "w-9999")["norm"]["time"]["flag"] == "ahead"
    # alerts: replay's, every field text
    assert {(a["alert_id"], a["version"]) for a in alerts} == final
    validator = alert_validator()
    for alert in alerts:
        assert_alert_is_text(alert, validator)
    assert len(alerts) >= 20
