"""Table recovery and rebalances where faust-streaming has open bugs, on the real broker.

- faust-streaming/faust#597 (recovery from an empty or fully compacted changelog partition) and #651
  (changelog segments deleted under the worker): a worker restarted after its dedupe window expired
  entirely, once the broker's cleanup left the changelog partitions empty (log start offset = end
  offset > 0), must recover and go on deciding.
- faust-streaming/faust#629 (partitions not fetched after a rebalance): a second worker joins the group
  and leaves it again while records flow; every article must still be decided exactly once, as the
  pure pipeline decides it, and every alert version published once.

Articles go to `news.articles` straight from a producer (the connector has its own fault tests). One
partition per topic, so the worker's order is the file order and its outputs equal the replay's. Each
test takes about a minute; every wait has a deadline.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers.procs import read_all, read_until, settings_env, wirewatch
from helpers.stream_data import story_articles

from connectors.article import encode, parse_time, rfc3339
from connectors.settings import Settings
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.topics import ensure_topics

SESSION_TIMEOUT_S = 6


def _batch(name: str, n_stories: int, seed: int, days_later: float) -> list[dict[str, Any]]:
    """Articles of `story_articles`, with ids and URLs of their own, dated `days_later` after them."""
    out = []
    for article in story_articles(n_stories, seed):
        moved = parse_time(article["published_at"]) + timedelta(days=days_later)
        out.append({**article, "id": f"{name}-{article['id']}", "url": f"{article['url']}/{name}",
                    "published_at": rfc3339(moved)})
    return out


def _publish(settings: Settings, articles: list[dict[str, Any]], every_s: float = 0.0,
             stop: threading.Event | None = None) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(acks="all", **settings.kafka_options())
    try:
        for article in articles:
            producer.send(settings.topics.articles, key=article["id"].encode(), value=encode(article))
            if every_s and stop is not None and stop.wait(every_s):
                return
    finally:
        producer.flush()
        producer.close()


def _replay(articles: list[dict[str, Any]]) -> tuple[dict[str, tuple[Any, Any]], set[tuple[str, int]]]:
    """Decisions (copy_of, story_id) and alert versions of the pure pipeline, from a fresh state."""
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    decisions, versions = {}, set()
    for _, decision, published, error in pipeline.run(json.dumps(a) for a in articles):
        assert error is None and decision is not None, error
        decisions[decision["id"]] = (decision["copy_of"], decision["story_id"])
        versions.update((alert["alert_id"], alert["version"]) for alert in published)
    return decisions, versions


def _decided(settings: Settings, ids: set[str], timeout: float, alive: tuple[subprocess.Popen[bytes], ...]
             ) -> list[dict[str, Any]]:
    return read_until(settings, settings.topics.stories, lambda r: {s["id"] for s in r} >= ids, timeout=timeout,
                      alive=alive)


def _changelogs(settings: Settings) -> list[str]:
    """Every table's changelog topic (`<app id>-<table>-changelog`), as the broker lists them."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        topics = admin.list_topics()
    finally:
        admin.close()
    return sorted(t for t in topics if t.startswith(f"{settings.app_id}-") and t.endswith("-changelog"))


def _empty_the_changelogs(settings: Settings) -> dict[str, tuple[int, int]]:
    """What the broker's cleanup leaves once every record of a changelog partition has expired and been
    compacted away, or its segments deleted by a retention policy (`compact,delete`, which operators
    set on changelogs to bound them): no record, the offsets where they were (low = high > 0).
    (Kafka refuses DeleteRecords on a topic that is `compact` only: the policy is set first.)"""
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType

    changelogs = _changelogs(settings)
    assert len(changelogs) >= 2, changelogs            # (the dedupe window and the story/event state)
    consumer = KafkaConsumer(**settings.kafka_options())
    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        policy = {"cleanup.policy": "compact,delete"}
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs=policy)
                             for topic in changelogs], raise_on_unknown=False)
        tps = [TopicPartition(topic, p) for topic in changelogs
               for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = consumer.end_offsets(tps)
        admin.delete_records({tp: end for tp, end in ends.items() if end > 0})
        starts = consumer.beginning_offsets(tps)
        return {f"{tp.topic}[{tp.partition}]": (starts[tp], ends[tp]) for tp in tps}
    finally:
        admin.close()
        consumer.close()


def _alert_versions(settings: Settings) -> Counter[tuple[str, int]]:
    return Counter((a["alert_id"], a["version"]) for a in read_all(settings, settings.topics.alerts))


def _stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM and wait: a clean shutdown (offsets committed, tables flushed, the group left)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=timeout) == 0, f"exit {proc.returncode}"


def test_a_worker_restarted_on_emptied_changelog_partitions_recovers_and_decides(settings: Settings,
                                                                                  tmp_path: Path) -> None:
    settings = replace(settings, partitions=1)
    ensure_topics(settings)
    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0",
           "WIREWATCH_SESSION_TIMEOUT": str(SESSION_TIMEOUT_S)}
    first = _batch("a", 12, seed=11, days_later=0)
    later = _batch("b", 12, seed=12, days_later=4)   # 4 days on: every article of `first` leaves the window
    after = _batch("c", 12, seed=13, days_later=8)   # after the restart

    _publish(settings, first + later)
    _, before = _replay(first + later)
    with wirewatch(["worker"], env, tmp_path / "worker-1.log") as worker:
        _decided(settings, {a["id"] for a in first + later}, timeout=120, alive=(worker,))
        read_until(settings, settings.topics.alerts, lambda r: {(a["alert_id"], a["version"]) for a in r} >= before,
                   timeout=60, alive=(worker,))               # the event stage's table written too
        _stop(worker)
    offsets = _empty_the_changelogs(settings)
    assert all(low == high > 0 for low, high in offsets.values()), offsets
    shutil.rmtree(settings.data_dir)   # a new pod: no local tables, only the (empty) changelogs

    expected, versions = _replay(after)
    started = time.monotonic()
    _publish(settings, after)
    with wirewatch(["worker"], env, tmp_path / "worker-2.log") as worker:
        stories = _decided(settings, set(expected), timeout=90, alive=(worker,))
        recovered_s = time.monotonic() - started
        read_until(settings, settings.topics.alerts, lambda r: {(a["alert_id"], a["version"]) for a in r} >= versions,
                   timeout=60, alive=(worker,))
        _stop(worker)
    decided = {s["id"]: (s["copy_of"], s["story_id"]) for s in stories if s["id"] in expected}
    assert decided == expected, "after recovering from empty changelogs the worker decides as a fresh replay"
    published = _alert_versions(settings)
    assert versions <= set(published), "an alert of the replay is missing"
    assert all(n == 1 for n in published.values()), f"alert versions published twice: {published}"
    print(f"changelog offsets (low, high) after the cleanup: {offsets}; decided {len(decided)} new articles "
          f"{recovered_s:.0f}s after the restart")


class _Flow(threading.Thread):
    """Publishes the articles in order, a few a second, up to what the test allows so far (so that the
    rebalances happen while records arrive)."""

    def __init__(self, settings: Settings, articles: list[dict[str, Any]], rate: float) -> None:
        super().__init__(name="flow", daemon=True)
        self.settings, self.articles, self.interval = settings, articles, 1.0 / rate
        self.allowed, self.sent, self.stopped = 0, 0, threading.Event()

    def allow(self, n: int) -> None:
        self.allowed = max(self.allowed, min(n, len(self.articles)))

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(acks="all", linger_ms=0, **self.settings.kafka_options())
        try:
            while self.sent < len(self.articles) and not self.stopped.is_set():
                if self.sent < self.allowed:
                    article = self.articles[self.sent]
                    producer.send(self.settings.topics.articles, key=article["id"].encode(), value=encode(article))
                    self.sent += 1
                self.stopped.wait(self.interval)
        finally:
            producer.flush()
            producer.close()


def _group(settings: Settings) -> tuple[str, int]:
    """The consumer group's state and member count, as the broker sees them."""
    import logging

    from kafka import KafkaAdminClient

    logging.getLogger("kafka.admin").setLevel(logging.ERROR)  # (it cannot decode Faust's assignor metadata)
    admin = KafkaAdminClient(**settings.kafka_options())
    try:
        group = admin.describe_groups([settings.app_id])[settings.app_id]
    finally:
        admin.close()
    return str(group.get("group_state") or group.get("state")), len(group.get("members") or ())


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.5)


def test_a_worker_joining_and_leaving_while_records_flow_loses_and_repeats_nothing(settings: Settings,
                                                                                    tmp_path: Path) -> None:
    settings = replace(settings, partitions=1)
    ensure_topics(settings)
    env = {**settings_env(settings), "WIREWATCH_ALERT_MIN_INTERVAL": "0",
           "WIREWATCH_SESSION_TIMEOUT": str(SESSION_TIMEOUT_S)}
    articles = _batch("r", 60, seed=21, days_later=0)
    expected, versions = _replay(articles)
    order = [a["id"] for a in articles]
    flow = _Flow(settings, articles, rate=8.0)
    timeline: list[str] = []

    def decided(n: int, alive: tuple[subprocess.Popen[bytes], ...], what: str) -> None:
        """Wait until the first n articles are decided; note how many are published then."""
        want = set(order[:n])
        read_until(settings, settings.topics.stories, lambda r: {s["id"] for s in r} >= want, timeout=90,
                   alive=alive)
        timeline.append(f"{what}: first {n} decided ({flow.sent} published)")

    with wirewatch(["worker"], env, tmp_path / "worker-1.log") as one, contextlib.ExitStack() as stack:
        stack.callback(flow.stopped.set)
        flow.allow(40)
        flow.start()
        decided(30, (one,), "one worker")
        flow.allow(90)                                          # records arrive while the second one joins
        with wirewatch(["worker"], {**env, "WIREWATCH_DATA_DIR": str(tmp_path / "worker-2")},
                       tmp_path / "worker-2.log") as two:
            _until(lambda: _group(settings) == ("Stable", 2), 90, "the second worker to join the group")
            flow.allow(110)
            decided(100, (one, two), "after the join")         # faust#629: every partition fetched again
            flow.allow(130)                                     # ... and while it leaves
            _stop(two)
        _until(lambda: _group(settings) == ("Stable", 1), 90, "the group to settle on one worker again")
        flow.allow(len(articles))
        stories = read_until(settings, settings.topics.stories, lambda r: {s["id"] for s in r} >= set(order),
                             timeout=90, alive=(one,))
        timeline.append(f"after the leave: all {len(order)} decided")
        alerts = read_until(settings, settings.topics.alerts,
                            lambda r: {(a["alert_id"], a["version"]) for a in r} >= versions, timeout=60,
                            alive=(one,))
    decisions: dict[str, set[tuple[Any, Any]]] = {}
    for record in stories:
        decisions.setdefault(record["id"], set()).add((record["copy_of"], record["story_id"]))
    assert not {i: d for i, d in decisions.items() if len(d) > 1}, "an article got two different decisions"
    assert {i: next(iter(d)) for i, d in decisions.items()} == expected, "decisions differ from the replay"
    published = Counter((a["alert_id"], a["version"]) for a in alerts)
    assert set(published) == versions, "alert versions differ from the replay"
    assert all(n == 1 for n in published.values()), f"alert versions published twice: {published}"
    print("rebalance timeline:\n  " + "\n  ".join(timeline) +
          f"\n{len(decisions)} articles decided, {len(stories) - len(decisions)} decisions redelivered")
