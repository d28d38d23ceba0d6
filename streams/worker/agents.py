"""The worker's four agents (normalize, dedupe, score, events): each reads one topic, runs one stage of
`streams.pipeline` per record and sends what it produces on. They hold no logic of their own beyond
Kafka: the partition a record came from, the dead-letter topic, acknowledgements and metrics.

A record that cannot be processed goes to `<topic>.dlq` with the error and its topic/partition/offset
in headers; it never stops an agent. Errors of Kafka, Faust or the machine are re-raised instead: no
record caused them, so the worker crashes, restarts and reprocesses (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from connectors.article import parse_time
from connectors.settings import Settings
from streams.dedupe import DedupeIndex
from streams.diskstore import dumps
from streams.escalation import Rules, RulesHolder
from streams.events.tracker import EventTracker, Plan
from streams.metrics import StreamMetrics
from streams.pipeline import commit_events, dedupe_stage, event_plan, needs_event, normalize_stage, score_stage
from streams.worker.replayguard import published_versions
from streams.worker.tables import JsonView

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[Any]]


@dataclass
class Agents:
    """What the agents share: the stages' state (tables behind MutableMappings), the producers and
    the topic names. `create_app` builds one per worker and registers its four methods as agents."""

    settings: Settings
    rules: Rules | RulesHolder
    tracker: EventTracker                      # event state: a JsonView of the event table
    dedupe_table: Any                          # the Faust table the dedupe indexes live in
    metrics: StreamMetrics
    send: Send                                 # batched produce; returns the ack's future
    send_alert: Callable[[str, bytes, bytes], Awaitable[None]]   # produce and wait for the ack
    send_dlq: Callable[..., Awaitable[Any]]
    key_partition: Callable[[str, bytes], int | None]  # the partition a key goes to on a topic
    by_lang_topic: str
    stories_topic: str
    scored_topic: str
    alerts_topic: str
    indexes: dict[int, DedupeIndex] = field(default_factory=dict)   # one per by-lang partition
    published: dict[str, set[tuple[str, int]]] = field(default_factory=dict)  # replay guard, per assignment

    def forget_partitions(self) -> None:
        """After a rebalance: indexes are rebuilt from the (recovered) table on each partition's next
        record, and the alert topic's tail is read again (the previous owner may have crashed mid-alert)."""
        self.indexes.clear()
        self.published.clear()

    async def normalize(self, stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                normed = normalize_stage(event.value)
            except Exception as exc:  # a bad record never crashes the agent
                await self.to_dlq(event, exc)
                continue
            await self.send(self.by_lang_topic, normed["norm"]["language"].encode(), dumps(normed))
            self.metrics.record("normalize", time.perf_counter() - started)

    async def dedupe(self, stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            started = time.perf_counter()
            try:
                index = self.indexes.get(partition)
                if index is None:
                    index = self.indexes[partition] = DedupeIndex(JsonView(self.dedupe_table, partition))
                story_article = dedupe_stage(orjson.loads(event.value), index)
            except Exception as exc:
                await self.to_dlq(event, exc)
                continue
            if story_article["copy_of"]:
                self.metrics.copies.labels(story_article["norm"]["language"]).inc()
            elif story_article["story_id"] == "s-" + story_article["id"]:   # the article opened a story
                self.metrics.stories.labels(story_article["norm"]["language"]).inc()
            await self.send(self.stories_topic, story_article["story_id"].encode(), dumps(story_article))
            self.metrics.record("dedupe", time.perf_counter() - started)

    async def score(self, stream: Any) -> None:
        """Score each story article; those at `low` or above go on to the event stage (news.scored,
        one partition: see docs/architecture-events.md). Stateless: a redelivered record is scored
        again and the event stage drops the second copy by article id."""
        async for event in stream.events():
            started = time.perf_counter()
            try:
                story_article = orjson.loads(event.value)
                _, scored = score_stage(story_article, self.rules)
            except Exception as exc:
                await self.to_dlq(event, exc)
                continue
            if needs_event(scored):
                await self.send(self.scored_topic, scored["story_id"].encode(), dumps(scored))
            self.metrics.record("score", time.perf_counter() - started)

    async def events(self, stream: Any) -> None:
        """Assign events and publish their alerts: the plan, then its alerts (each acknowledged), then
        the state. A crash in between replays the record from the same state and plans the same alert
        versions, which `publish` finds already on the topic and does not send again."""
        async for event in stream.events():
            started = time.perf_counter()
            try:
                scored = orjson.loads(event.value)
                plan = event_plan(scored, self.tracker)
            except Exception as exc:
                await self.to_dlq(event, exc)
                continue
            for alert in plan.alerts:
                await self.publish(alert, scored)
            # after the alerts' acks: a crash in between re-sends them (deduplicated), never loses them
            gone = commit_events(self.tracker, plan)
            if gone:
                log.info("%d events silent for over %g h (event time) forgotten", gone,
                         self.tracker.sweeper.retention.total_seconds() / 3600)
            observe_events(self.metrics, plan)
            self.metrics.record("events", time.perf_counter() - started)

    async def publish(self, alert: dict[str, Any], scored: dict[str, Any]) -> None:
        if "versions" not in self.published:
            self.published["versions"] = await asyncio.to_thread(published_versions, self.settings)
        if (alert["alert_id"], alert["version"]) in self.published["versions"]:
            log.info("alert %s v%s is already published (replay after a crash): not re-sent",
                     alert["alert_id"], alert["version"])
            return
        await self.send_alert(self.alerts_topic, alert["event_id"].encode(), dumps(alert))
        observe_alert(self.metrics, alert, scored)

    async def to_dlq(self, event: Any, error: BaseException) -> None:
        if infrastructure(error):
            raise error  # not the record's fault: crash, restart, reprocess (at-least-once)
        message = event.message
        log.warning("record to DLQ: %s", error, extra={"topic": message.topic, "partition": message.partition,
                                                       "offset": message.offset})
        self.metrics.failed.labels(message.topic).inc()
        await self.send_dlq(
            f"{message.topic}.dlq", message.key, message.value, partition=None, timestamp=None,
            headers=[("error", str(error).encode()[:2000]), ("error.class", type(error).__name__.encode()),
                     ("source.topic", message.topic.encode()),
                     ("source.partition", str(message.partition).encode()),
                     ("source.offset", str(message.offset).encode())])


def observe_events(metrics: StreamMetrics, plan: Plan) -> None:
    if plan.event_id is None or not plan.writes:
        return  # below `low`, or an article the stage had already assigned
    metrics.events.labels("opened" if plan.opened else "joined").inc()
    for _ in plan.merged:
        metrics.events.labels("merged").inc()


def observe_alert(metrics: StreamMetrics, alert: dict[str, Any], story_article: dict[str, Any]) -> None:
    metrics.alerts.labels(alert["severity"], alert["reason"]).inc()
    for category in alert["categories"]:
        metrics.alert_categories.labels(category).inc()
        metrics.alert_versions.labels(alert["severity"], category).inc()
    for name, histogram in (("fetched_at", metrics.latency), ("published_at", metrics.event_age)):
        if story_article.get(name):
            with contextlib.suppress(ValueError):  # an unreadable time is no reason to lose the alert
                histogram.observe(max(0.0, time.time() - parse_time(story_article[name]).timestamp()))


def infrastructure(error: BaseException) -> bool:
    """Errors of Kafka, Faust or the machine, which no record causes and a DLQ would only hide."""
    from aiokafka.errors import KafkaError
    from faust.exceptions import FaustError

    return isinstance(error, FaustError | KafkaError | OSError | asyncio.TimeoutError | MemoryError)
