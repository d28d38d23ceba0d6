"""No offset is committed past a record that went nowhere, while a worker is killed in a backlog.

A backlog on `news.articles` with four partitions: stories with copies and revised tolls (real headlines,
so they alert), among them a 945 kB article (its normalised form is over the producer's limit), a
1.02 MB record that is not JSON (its DLQ copy is over the limit), and records the contract refuses. A
worker is started on it and `kill -9`ed twice while it works through the backlog (with its order buffers
full), then a third one finishes. After each kill, with nothing running, the consumer group's committed
offsets are checked against the topics:

- news.articles: every record below a committed offset is on news.articles.by-lang (its `norm.produced`
  says where it came from) or in news.articles.dlq (its headers say the same);
- news.articles.by-lang: every record below a committed offset has its decision on news.stories, or is
  in the by-lang DLQ;
- news.stories: every record below a committed offset that replay scores `low` or above is on
  news.scored.

On this backlog dedupe releases its input after the order buffer's catch-up hold and acknowledges it in
one go: at both kills nothing of news.articles.by-lang is committed although decisions are out (a record
acknowledged when taken into the buffer could have been committed, and lost with the buffer); the
normalize stage has committed the whole of news.articles, past the 945 kB and 1.02 MB records, and the
score stage part of news.stories (the message printed with -s gives the committed offsets per topic).

At the end every article is decided exactly as replay decides it (over the articles in the order they
were produced, a file sorted by time: the four partitions make no difference), the big ones are where
they belong, and every alert version of the replay is on news.alerts exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.procs import read_all, read_until, settings_env, wirewatch
from helpers.stream_data import story_articles

from connectors.settings import Settings
from streams.alerts import RANK, AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.topics import ensure_topics

SESSION_TIMEOUT_S = 6


def backlog() -> tuple[list[tuple[bytes, bytes]], set[bytes]]:
    """((key, value) in production order, keys of the records the contract refuses)."""
    articles = story_articles(60, seed=23)
    # The backlog is produced within a few milliseconds: records of one millisecond on different partitions
    # are put back in production order by event time (streams/order.py), as a file sorted by time has them.
    # So the big article's time is that of its place in the backlog (30 s after the article before it): a
    # record out of time order within a millisecond is a documented limit of the order, not of delivery.
    at = len(articles) // 3
    before = datetime.fromisoformat(articles[at - 1]["published_at"].replace("Z", "+00:00"))
    big = {"id": "big-945k", "url": "https://wire.example/big", "feed": "wire", "source": "wire.example",
           "language": "en", "published_at": (before + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "title": "Rocket attack on Corrin port kills 4",
           "content": ("<p>Rockets struck the port of Corrin, killing 4 people, officials said.</p>\n" * 13_000)}
    records = [(a["id"].encode(), json.dumps(a).encode()) for a in articles]
    bad = [(b"huge", b'{"id": "huge", "x": "' + b"x" * 1_020_000),
           (b"feb30", json.dumps({**articles[0], "id": "feb30", "published_at": "2021-02-30T00:00:00Z"}).encode()),
           (b"deep", b'{"id": "deep", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}")]
    records.insert(at, (big["id"].encode(), json.dumps(big).encode()))
    for n, record in enumerate(bad):
        records.insert(len(records) * (n + 1) // 4, record)
    return records, {key for key, _ in bad}


def _committed(settings: Settings) -> dict[tuple[str, int], int]:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        offsets = admin.list_group_offsets(settings.app_id).get(settings.app_id, {})
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


def _with_offsets(settings: Settings, topic: str) -> list[tuple[int, int, Any, dict[str, bytes]]]:
    """(partition, offset, value or None, headers) of every record of a topic."""
    def decode(m: Any) -> tuple[int, int, Any, dict[str, bytes]]:
        try:
            value = json.loads(m.value)
        except (ValueError, TypeError, RecursionError):
            value = None
        return m.partition, m.offset, value, dict(m.headers or ())
    return read_all(settings, topic, decode=decode)


def went_nowhere(settings: Settings, low_or_above: set[str]) -> list[str]:
    """Records below a committed offset whose output is on no topic (the module docstring's three checks)."""
    topics = settings.topics
    committed = _committed(settings)
    lost: list[str] = []

    def dlq_sources(topic: str) -> set[tuple[int, int]]:
        return {(int(h["source.partition"]), int(h["source.offset"])) for _, _, _, h in
                _with_offsets(settings, f"{topic}.dlq")}

    # normalize
    by_lang = _with_offsets(settings, topics.by_lang)
    normalized = {tuple(v["norm"]["produced"][1:]) for _, _, v, _ in by_lang} | dlq_sources(topics.articles)
    for partition, offset, _, _ in _with_offsets(settings, topics.articles):
        if offset < committed.get((topics.articles, partition), 0) and (partition, offset) not in normalized:
            lost.append(f"{topics.articles}[{partition}]@{offset}")
    # dedupe
    decided = {v["id"] for _, _, v, _ in _with_offsets(settings, topics.stories)}
    refused = dlq_sources(topics.by_lang)
    for partition, offset, value, _ in by_lang:
        if offset < committed.get((topics.by_lang, partition), 0) and value["id"] not in decided \
                and (partition, offset) not in refused:
            lost.append(f"{topics.by_lang}[{partition}]@{offset} ({value['id']})")
    # score
    scored = {v["id"] for _, _, v, _ in _with_offsets(settings, topics.scored)}
    refused = dlq_sources(topics.stories)
    for partition, offset, value, _ in _with_offsets(settings, topics.stories):
        if offset < committed.get((topics.stories, partition), 0) and value["id"] in low_or_above \
                and value["id"] not in scored and (partition, offset) not in refused:
            lost.append(f"{topics.stories}[{partition}]@{offset} ({value['id']})")
    return lost


def test_no_offset_is_committed_past_a_record_that_went_nowhere(settings: Settings, tmp_path: Path) -> None:
    from kafka import KafkaProducer

    settings = replace(settings, partitions=4)
    ensure_topics(settings)
    records, bad = backlog()
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    expected: dict[str, tuple[Any, Any]] = {}
    versions: set[tuple[str, int]] = set()
    low_or_above: set[str] = set()
    for _, decision, published, error in pipeline.run(value for _, value in records):
        if error is None:
            expected[decision["id"]] = (decision["copy_of"], decision["story_id"])
            versions.update((a["alert_id"], a["version"]) for a in published)
            if RANK[decision["escalation"]["severity"]] >= RANK["low"]:
                low_or_above.add(decision["id"])
    assert len(expected) == len(records) - len(bad) and versions
    producer = KafkaProducer(acks="all", max_request_size=2_000_000, **settings.kafka_options())
    for key, value in records:
        producer.send(settings.topics.articles, key=key, value=value)
    producer.flush()
    producer.close()

    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0", "WIREWATCH_RULES_RELOAD": "0",
           "WIREWATCH_SESSION_TIMEOUT": str(SESSION_TIMEOUT_S)}
    kills = []
    for run, decided_before_kill in enumerate((20, 60, None), 1):
        with wirewatch(["worker"], env, tmp_path / f"worker-{run}.log") as worker:
            if decided_before_kill is None:
                stories = read_until(settings, settings.topics.stories, lambda r: {s["id"] for s in r} >= set(expected),
                                     timeout=180, alive=(worker,))
                alerts = read_until(settings, settings.topics.alerts,
                                    lambda r: {(a["alert_id"], a["version"]) for a in r} >= versions, timeout=120,
                                    alive=(worker,))
                dlq = read_until(settings, f"{settings.topics.articles}.dlq", lambda r: len(r) >= len(bad),
                                 timeout=60, alive=(worker,), decode=lambda m: (m.key, dict(m.headers)))
                break
            read_until(settings, settings.topics.stories,
                       lambda r, n=decided_before_kill: len({s["id"] for s in r}) >= n, timeout=180, alive=(worker,))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        time.sleep(1)   # (nothing to wait for: the broker has whatever the killed worker committed)
        lost = went_nowhere(settings, low_or_above)
        by_topic: Counter[str] = Counter()
        for (topic, _), offset in _committed(settings).items():
            by_topic[topic.split(".", 1)[1]] += offset
        kills.append(f"kill -9 #{run}: committed {dict(by_topic)}, lost {len(lost)}")
        assert not lost, f"committed past records that went nowhere: {lost}"

    decisions: dict[str, set[tuple[Any, Any]]] = defaultdict(set)
    for story in stories:
        decisions[story["id"]].add((story["copy_of"], story["story_id"]))
    assert not {i: d for i, d in decisions.items() if len(d) > 1}, "an article decided twice, differently"
    assert {i: next(iter(d)) for i, d in decisions.items()} == expected, "decisions differ from replay"
    big = next(s for s in stories if s["id"] == "big-945k")
    assert big["truncated"] == ["content"]
    assert {key for key, _ in dlq} == bad and dict(dlq)[b"huge"]["value.truncated"] == b"1"
    published = Counter((a["alert_id"], a["version"]) for a in alerts)
    extra = [a for a in alerts if (a["alert_id"], a["version"]) not in versions]
    missing = versions - set(published)
    assert set(published) == versions and all(n == 1 for n in published.values()), (
        [(a["alert_id"], a["version"], a["event_id"], a["articles"], a["reason"]) for a in extra], missing)
    print("; ".join(kills) + f"; then {len(decisions)} articles decided as replay, {len(published)} alert versions")
