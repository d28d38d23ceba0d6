"""Fault injection: a growing stream of news while the worker, the connector and the broker fail.

Four feeds on 127.0.0.1 (an original and up to three republished copies per story, some with a higher
toll) grow by a few items a second. `wirewatch connect` polls them and `wirewatch worker` processes
what it publishes, on a private broker. While the stream flows the test

  (a) kill -9s the worker and starts a new one,
  (b) kill -9s the connector and starts a new one,
  (c) kill -9s the broker and starts it again on the same data,
  (d) stops the broker (SIGSTOP) for longer than the worker's session timeout, then continues it.

Afterwards the topics are compared with the pure pipeline (streams.pipeline.Pipeline) run over the
articles in the order the connector published them (one partition, so the worker sees that order
too): every feed item published exactly once (as a read_committed consumer sees the topic), every
article exactly one decision, every article at `low` or above on news.scored (the event stage's
input), every alert version of the replay (the event stage's output) published exactly once, none
missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from helpers.growing_feeds import GrowingFeeds
from helpers.procs import read_until, settings_env, wirewatch

from connectors.settings import Settings, Topics
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline
from streams.shell.localkafka import LocalKafka
from streams.shell.topics import ensure_topics

N_STORIES = 125              # 293 articles over four feeds
RELEASE_PER_S = 5.0          # new feed items per second, all feeds together
SESSION_TIMEOUT_S = 6.0      # the worker's consumer group session (the minimum Settings allow)
STOP_BROKER_S = SESSION_TIMEOUT_S + 4
FLOW = 40                    # items released around each fault


class Releaser(threading.Thread):
    """The stream's clock: makes the next feed item visible every 1/rate seconds, up to what the test
    allows so far (so that every fault happens while items are still appearing)."""

    def __init__(self, feeds: GrowingFeeds, rate: float) -> None:
        super().__init__(name="feed-releaser", daemon=True)
        self.feeds, self.interval, self.stopped = feeds, 1.0 / rate, threading.Event()
        self.allowed = 0

    def allow(self, n: int) -> None:
        self.allowed = max(self.allowed, n)

    def run(self) -> None:
        while self.feeds.released < len(self.feeds.articles):
            if self.feeds.released < self.allowed:
                self.feeds.release(self.feeds.released + 1)
            if self.stopped.wait(self.interval):
                return


class Fleet:
    """The connector and worker child processes, restartable; all stopped when the scenario ends."""

    def __init__(self, stack: contextlib.ExitStack, env: dict[str, str], feed_list: Path, logs: Path) -> None:
        self.stack, self.logs, self.runs = stack, logs, Counter[str]()
        self.env = {"worker": {**env, "WIREWATCH_ALERT_MIN_INTERVAL": "0",
                               "WIREWATCH_SESSION_TIMEOUT": f"{SESSION_TIMEOUT_S:g}",
                               "WIREWATCH_RULES_RELOAD": "0"},
                    "connect": {**env, "WIREWATCH_CONNECTOR_MIN_INTERVAL": "0.2",
                                "WIREWATCH_CONNECTOR_HOST_SPACING": "0", "WIREWATCH_CONNECTOR_HOST_CONCURRENCY": "8",
                                "WIREWATCH_CONNECTOR_TIMEOUT": "5", "WIREWATCH_CONNECTOR_BACKOFF_BASE": "0.5",
                                "WIREWATCH_CONNECTOR_BACKOFF_CAP": "2", "WIREWATCH_CONNECTOR_TXN_STALL": "10"}}
        self.args = {"worker": ["-v", "worker"], "connect": ["-v", "connect", "--feeds", str(feed_list)]}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str) -> subprocess.Popen[bytes]:
        self.runs[role] += 1
        log = self.logs / f"{role}-{self.runs[role]}.log"
        self.procs[role] = self.stack.enter_context(wirewatch(self.args[role], self.env[role], log))
        return self.procs[role]

    def kill9(self, role: str) -> None:
        proc = self.procs[role]
        assert proc.poll() is None, f"{role} exited on its own with {proc.returncode}; see {self.logs}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    @property
    def alive(self) -> tuple[subprocess.Popen[bytes], ...]:
        return tuple(self.procs.values())


def _ids(records: list[dict[str, Any]]) -> set[str]:
    return {r["id"] for r in records}


def _wait_count(settings: Settings, topic: str, n: int, fleet: Fleet, timeout: float) -> int:
    """Wait until `topic` holds records of at least n distinct ids; return how many it holds then.

    (helpers.procs.read_until drains the topic before it checks, which never ends while the stream flows.)
    """
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                             isolation_level="read_committed", **settings.kafka_options())
    ids: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(ids) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic} holds {len(ids)} ids after {timeout}s, expected {n}")
            for role, proc in fleet.procs.items():
                assert proc.poll() is None, f"{role} exited with {proc.returncode}; logs in {fleet.logs}"
            for records in consumer.poll(timeout_ms=200).values():
                ids.update(json.loads(r.value)["id"] for r in records)
    finally:
        consumer.close()
    return len(ids)


def _count(settings: Settings, topic: str) -> int:
    return len(_ids(read_until(settings, topic, lambda r: True, timeout=30)))


def _kill_broker(broker: LocalKafka) -> None:
    pid = broker.pid()
    assert pid is not None, "the broker is not running"
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # our child (LocalKafka started it): reap it
        os.waitpid(pid, 0)
    _poll(lambda: broker.pid() is None, 30, "the killed broker to disappear")


def _poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@contextlib.contextmanager
def _stopped(broker: LocalKafka) -> Iterator[None]:
    pid = broker.pid()
    assert pid is not None, "the broker is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _final_alerts(alerts: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    latest: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        if alert["alert_id"] not in latest or alert["version"] > latest[alert["alert_id"]]["version"]:
            latest[alert["alert_id"]] = alert
    return {a["alert_id"]: (a["version"], a["severity"], a["casualties"], tuple(sorted(a["sources"])), a["copies"],
                            tuple(sorted(a["articles"]))) for a in latest.values()}


def _expected(published: list[dict[str, Any]]) -> tuple[dict[str, tuple[Any, ...]], set[tuple[str, int]],
                                                       dict[str, tuple[Any, Any, Any]]]:
    """The pure pipeline over the articles in the order they were first published."""
    pipeline = Pipeline(Rules.load(), AlertPolicy(min_interval=timedelta(0)))
    first: dict[str, dict[str, Any]] = {}
    for article in published:
        first.setdefault(article["id"], article)
    alerts, decisions = [], {}
    for _, decision, published, error in pipeline.run(json.dumps(a) for a in first.values()):
        assert error is None, error
        assert decision is not None
        decisions[decision["id"]] = (decision["copy_of"], decision["story_id"], decision["event_id"])
        alerts.extend(published)
    return _final_alerts(alerts), {(a["alert_id"], a["version"]) for a in alerts}, decisions


def test_no_loss_no_duplicates_while_worker_connector_and_broker_fail(broker: LocalKafka, tmp_path: Path) -> None:
    settings = Settings(bootstrap_servers=broker.bootstrap, topics=Topics(), partitions=1, client_id="faults",
                        app_id="wirewatch-faults", data_dir=str(tmp_path / "worker"))
    ensure_topics(settings)
    topics = settings.topics
    faults: list[str] = []
    started = time.monotonic()

    def note(what: str) -> None:
        faults.append(f"{time.monotonic() - started:6.1f}s  {what}")

    with GrowingFeeds(N_STORIES) as feeds, contextlib.ExitStack() as stack:
        total = len(feeds.articles)
        fleet = Fleet(stack, settings_env(settings), feeds.feed_list(tmp_path / "feeds.yaml", interval=0.3),
                      tmp_path)
        releaser = Releaser(feeds, RELEASE_PER_S)
        stack.callback(releaser.stopped.set)
        stack.callback(lambda: print("\nfault injection timeline:\n  " + "\n  ".join(faults)))
        releaser.allow(60)
        fleet.start("worker")
        fleet.start("connect")
        releaser.start()

        def flowing() -> int:
            """Let FLOW more items appear and return once the connector is publishing them."""
            now = _count(settings, topics.articles)
            releaser.allow(feeds.released + FLOW)
            return _wait_count(settings, topics.articles, now + FLOW // 4, fleet, timeout=120)

        # (a) the worker, once it decided on a few dozen articles
        done = _wait_count(settings, topics.stories, 30, fleet, timeout=120)
        releaser.allow(feeds.released + FLOW)
        fleet.kill9("worker")
        done = _count(settings, topics.stories)  # what the killed worker got out, counted after the kill
        note(f"kill -9 worker after {done} decisions ({feeds.released} items released)")
        fleet.start("worker")
        # The new worker works (a decision the first one never made), before the broker fails under it:
        # a worker whose broker vanishes while it starts exits, as a connector does.
        done = _wait_count(settings, topics.stories, done + 1, fleet, timeout=120)
        note(f"worker 2 deciding ({done} decisions, {feeds.released} released)")

        # (b) the connector
        done = flowing()
        fleet.kill9("connect")
        note(f"kill -9 connector after {done} articles published ({feeds.released} released)")
        fleet.start("connect")
        # A connector whose broker vanishes while it starts exits (see docs/reliability.md): let this one
        # get going before the broker fails.
        done = _wait_count(settings, topics.articles, done + 1, fleet, timeout=120)
        note(f"connector 2 publishing ({done} articles published, {feeds.released} released)")

        # (c) the broker; started again on the same data
        done = flowing()
        _kill_broker(broker)
        note(f"kill -9 broker after {done} articles published ({feeds.released} released)")
        broker.up(timeout=120)
        note(f"broker up again ({feeds.released} released)")
        done = _wait_count(settings, topics.articles, done + 1, fleet, timeout=120)
        note(f"connector publishing again ({done} articles published, {feeds.released} released)")

        # (d) the broker stopped for longer than the worker's session timeout
        done = flowing()
        with _stopped(broker):
            note(f"SIGSTOP broker for {STOP_BROKER_S:g}s after {done} articles published "
                 f"({feeds.released} released)")
            time.sleep(STOP_BROKER_S)  # the fault itself, not synchronisation
        note(f"SIGCONT broker ({feeds.released} released)")
        releaser.allow(total)
        note("all items allowed")

        # Everything published, decided and alerted, with every process still running.
        published = read_until(settings, topics.articles, lambda r: len(_ids(r)) >= total, timeout=120,
                               alive=fleet.alive)
        expected_final, expected_versions, expected_decisions = _expected(published)
        assert len(expected_final) >= 20, "the stream no longer exercises alerts"
        stories = read_until(settings, topics.stories, lambda r: _ids(r) >= set(expected_decisions), timeout=120,
                             alive=fleet.alive)
        with_event = {i for i, d in expected_decisions.items() if d[2]}
        scored = read_until(settings, topics.scored, lambda r: _ids(r) >= with_event, timeout=120, alive=fleet.alive)
        try:
            alerts = read_until(settings, topics.alerts, lambda r: _final_alerts(r) == expected_final,
                                timeout=90, alive=fleet.alive)
        except AssertionError:
            got = _final_alerts(read_until(settings, topics.alerts, lambda r: True, timeout=10))
            missing = {k: v for k, v in expected_final.items() if got.get(k) != v}
            extra = {k: v for k, v in got.items() if expected_final.get(k) != v}
            raise AssertionError(f"final alerts differ from the replay: expected {missing}, got {extra}; "
                                 f"logs in {tmp_path}") from None
        assert all(p.poll() is None for p in fleet.alive), f"a process exited; logs in {tmp_path}"
        # Anything a late redelivery would add is on the topics by now: read them once more, complete.
        # Also read what a read_uncommitted consumer would see: records of connector transactions that
        # a kill aborted (their items were published again, once, by the next transaction).
        raw = read_until(settings, topics.articles, lambda r: len(r) >= len(published), timeout=30,
                         isolation_level="read_uncommitted")
        published = read_until(settings, topics.articles, lambda r: len(r) >= len(published), timeout=30)
        stories = read_until(settings, topics.stories, lambda r: len(r) >= len(stories), timeout=30)
        scored = read_until(settings, topics.scored, lambda r: len(r) >= len(scored), timeout=30)
        alerts = read_until(settings, topics.alerts, lambda r: len(r) >= len(alerts), timeout=30)

    # The connector: every feed item on news.articles exactly once, though it was killed mid-stream and
    # the broker failed under it (articles and feed state go in one transaction; connectors/runner.py).
    per_article = Counter(a["id"] for a in published)
    assert set(per_article) == set(feeds.ids), "a feed item was never published (or an unknown one was)"
    republished = {feeds.ids[i]: n for i, n in per_article.items() if n > 1}
    assert not republished, f"feed items published more than once: {republished}"

    # The worker: one decision per article (redelivered copies of the same decision are allowed).
    decisions: dict[str, set[tuple[Any, Any]]] = defaultdict(set)
    for record in stories:
        decisions[record["id"]].add((record["copy_of"], record["story_id"]))
    assert set(decisions) == set(per_article), "an article has no decision"
    conflicting = {i: d for i, d in decisions.items() if len(d) > 1}
    assert not conflicting, f"articles with more than one decision: {conflicting}"
    assert {i: next(iter(d)) for i, d in decisions.items()} == {i: d[:2] for i, d in expected_decisions.items()}, \
        "decisions differ from replay"

    # The event stage: every article at `low` or above reached it (redelivered copies allowed: it drops
    # an article it has already assigned), and none below.
    assert _ids(scored) == with_event, "news.scored does not hold exactly the articles that have an event"

    # The alerts: exactly the replay's versions, each once, contiguous per alert.
    versions = Counter((a["alert_id"], a["version"]) for a in alerts)
    assert not {v: n for v, n in versions.items() if n > 1}, "an alert version was published twice"
    assert set(versions) == expected_versions, "alert versions differ from the replay"
    by_id: dict[str, list[int]] = defaultdict(list)
    for alert_id, version in versions:
        by_id[alert_id].append(version)
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in by_id.values()), "an alert version is missing"

    counts = {"feed items": total, "articles published": len(published), "articles distinct": len(per_article),
              "decision records": len(stories), "articles decided": len(decisions),
              "decisions redelivered": len(stories) - len(decisions), "scored records": len(scored),
              "scored redelivered": len(scored) - len(with_event), "alerts": len(by_id),
              "alert versions": len(alerts), "feed items published twice": len(republished),
              "aborted article records (invisible to read_committed)": len(raw) - len(published),
              "lost": 0, "alert versions duplicated": 0}
    print("fault injection counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"took {time.monotonic() - started:.0f}s")
