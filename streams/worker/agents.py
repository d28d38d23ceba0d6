"""The worker's four agents (normalize, dedupe, score, events): each reads one topic, runs one stage of
`streams.pipeline` per record and sends what it produces on. They hold no logic of their own beyond
Kafka: the partition a record came from, the dead-letter topic, acknowledgements and metrics.

Nothing is lost silently (docs/reliability.md, "Bad records and lost records"):

- a record that cannot be processed goes to `<topic>.dlq` with the error and its topic/partition/offset
  in headers (a copy too large for Kafka keeps a bounded prefix: `streams.records.dlq_copy`); it never
  stops an agent. Every value an agent produces is first cut to `streams.records.MAX_VALUE_BYTES`;
- an input record is acknowledged only once what it produced was acknowledged by the broker, in offset
  order (`streams.worker.acks`): Faust commits no offset past a record that went nowhere;
- errors of Kafka, Faust or the machine, which no record causes, are retried for a while (the same
  record again: every stage is idempotent); if they persist the worker exits (`fatal`) without
  acknowledging the record, so that its supervisor restarts it and it processes the record again.
  (Raising would only restart the agent, and Faust would acknowledge the record on the way out.)

Dedupe and the event stage take their input in the order the articles were produced to
`news.articles`, restored within a bounded buffer (`streams.order`), whatever the partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import orjson

from connectors import article as contract
from connectors.article import parse_time
from connectors.settings import Settings
from streams.dedupe import DedupeIndex
from streams.escalation import Rules, RulesHolder
from streams.events.tracker import EventTracker, Plan
from streams.metrics import StreamMetrics
from streams.order import UNKNOWN, Reorder, key_of, source_offset, source_partition
from streams.pipeline import commit_events, dedupe_stage, event_plan, needs_event, normalize_stage, score_stage
from streams.records import RecordTooLarge, dlq_copy, fit
from streams.worker.acks import Acks
from streams.worker.patches import as_current
from streams.worker.replayguard import published_versions
from streams.worker.tables import JsonView

log = logging.getLogger(__name__)

Send = Callable[[str, bytes, bytes], Awaitable[Any]]
# The fields of an article record no cut drops: the contract's, and those the stages add.
KEEP = frozenset(contract.schema()["properties"]) | {"norm", "copy_of", "story_id", "similarity", "escalation",
                                                     "rule_version"}
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)     # an infrastructure error: ~30 s, then the worker exits
EXIT_INFRASTRUCTURE = 75                           # EX_TEMPFAIL: restart me


@dataclass
class Item:
    """An input record and, for the stages that reorder, its decoded value."""

    event: Any
    value: Any = None


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
    buffers: dict[str, Reorder[Item]] = field(default_factory=dict)           # stage -> its order buffer
    clock: Callable[[], float] = time.time     # the processing clock of event time (streams.eventtime)
    exit: Callable[[int], Any] = os._exit      # how `fatal` ends the process (tests replace it)

    def forget_partitions(self) -> None:
        """After a rebalance: indexes are rebuilt from the (recovered) table on each partition's next
        record, and the alert topic's tail is read again (the previous owner may have crashed mid-alert).
        (The order buffers are empty by now: Faust waited for every record taken to be acknowledged.)"""
        self.indexes.clear()
        self.published.clear()

    # ---- the stages ------------------------------------------------------------------------------

    async def normalize(self, stream: Any) -> None:
        await self._run(stream, "normalize", self._normalize)

    async def dedupe(self, stream: Any) -> None:
        await self._run(stream, "dedupe", self._dedupe, ordered=True)

    async def score(self, stream: Any) -> None:
        """Score each story article; those at `low` or above go on to the event stage (news.scored,
        one partition: see docs/architecture-events.md). Stateless: a redelivered record is scored
        again and the event stage drops the second copy by article id."""
        await self._run(stream, "score", self._score)

    async def events(self, stream: Any) -> None:
        """Assign events and publish their alerts: the plan, then its alerts (each acknowledged), then
        the state. A crash in between replays the record from the same state and plans the same alert
        versions, which `publish` finds already on the topic and does not send again."""
        await self._run(stream, "events", self._events, ordered=True)

    async def _normalize(self, item: Item) -> list[Any]:
        message = item.event.message
        normed = normalize_stage(item.event.value, self.clock())
        # where the article was produced: the order dedupe and the event stage restore (streams.order)
        normed["norm"]["produced"] = [int(round((message.timestamp or 0) * 1000)), message.partition, message.offset]
        flag = normed["norm"]["time"]["flag"]
        if flag:
            self.metrics.event_times.labels(flag).inc()
        return [await self._send(self.by_lang_topic, normed["norm"]["language"].encode(), normed)]

    async def _dedupe(self, item: Item) -> list[Any]:
        partition = item.event.message.partition
        index = self.indexes.get(partition)
        if index is None:
            index = self.indexes[partition] = DedupeIndex(JsonView(self.dedupe_table, partition))
        story_article = dedupe_stage(item.value if item.value is not None else orjson.loads(item.event.value), index)
        future = await self._send(self.stories_topic, story_article["story_id"].encode(), story_article)
        if story_article["copy_of"]:
            self.metrics.copies.labels(story_article["norm"]["language"]).inc()
        elif story_article["story_id"] == "s-" + story_article["id"]:   # the article opened a story
            self.metrics.stories.labels(story_article["norm"]["language"]).inc()
        return [future]

    async def _score(self, item: Item) -> list[Any]:
        story_article = orjson.loads(item.event.value)
        _, scored = score_stage(story_article, self.rules)
        if "produced" in (story_article.get("norm") or {}):
            scored["norm"]["produced"] = story_article["norm"]["produced"]
        if not needs_event(scored):
            return []
        return [await self._send(self.scored_topic, scored["story_id"].encode(), scored)]

    async def _events(self, item: Item) -> list[Any]:
        scored = item.value if item.value is not None else orjson.loads(item.event.value)
        plan = event_plan(scored, self.tracker)
        for alert in plan.alerts:
            await self.publish(alert, scored)
        # after the alerts' acks: a crash in between re-sends them (deduplicated), never loses them
        gone = commit_events(self.tracker, plan)
        if gone:
            log.info("%d events silent for over %g h (event time) forgotten", gone,
                     self.tracker.sweeper.retention.total_seconds() / 3600)
        observe_events(self.metrics, plan)
        return []

    async def _send(self, topic: str, key: bytes, record: dict[str, Any]) -> Any:
        """Produce an article record, cut to the size bound first (streams.records.fit)."""
        value, cut = fit(record, KEEP)
        if cut:
            self.metrics.truncated.labels(topic).inc()
            log.info("record cut to %d bytes: %s", len(value), ", ".join(cut), extra={"topic": topic})
        return await self.send(topic, key, value)

    async def publish(self, alert: dict[str, Any], scored: dict[str, Any]) -> None:
        if "versions" not in self.published:
            self.published["versions"] = await asyncio.to_thread(published_versions, self.settings)
        version = (alert["alert_id"], alert["version"])
        if version in self.published["versions"]:
            log.info("alert %s v%s is already published (replay after a crash): not re-sent",
                     alert["alert_id"], alert["version"])
            return
        await self.send_alert(self.alerts_topic, alert["event_id"].encode(), fit(alert, alert.keys())[0])
        # a retry of this record (an error after this send) must not publish the version again
        self.published["versions"].add(version)
        observe_alert(self.metrics, alert, scored)

    # ---- running a stage ---------------------------------------------------------------------------

    async def _run(self, stream: Any, stage: str, handle: Callable[[Item], Awaitable[Sequence[Any]]],
                   ordered: bool = False) -> None:
        stream = stream.noack()      # acknowledged by `acks`, once the outputs are (streams.worker.acks)

        async def failed_output(event: Any, error: BaseException) -> None:
            await self._failed(acks, event, error)

        acks = Acks(stream, failed_output)
        size = self.settings.order_buffer if ordered else 0
        if size <= 0:
            async for event in stream.events():
                acks.take(event)
                await self._process(stage, handle, acks, Item(event))
            return
        buffer = self.buffers[stage] = Reorder[Item](size, self.settings.order_hold_s)
        lock = asyncio.Lock()

        async def release(items: list[Item]) -> None:
            for item in items:
                await self._process(stage, handle, acks, item)

        async def flush_forever() -> None:
            # a quiet stream still releases what it holds within the hold time (and Faust, before it
            # gives partitions up or stops, waits for every record taken to be acknowledged)
            while True:
                await asyncio.sleep(self.settings.order_hold_s / 2)
                if len(buffer):
                    async with lock:
                        await release(buffer.ready(time.monotonic(), time.time()))

        flusher = asyncio.get_running_loop().create_task(flush_forever())
        try:
            async for event in stream.events():
                acks.take(event)
                item = Item(event)
                key, sequence = UNKNOWN, None
                lane: Hashable | None = None
                with contextlib.suppress(Exception):    # (not JSON: released first, and to its DLQ)
                    item.value = orjson.loads(event.value)
                    key = key_of(item.value)
                    source = source_partition(item.value)
                    if stage == "dedupe" and source is not None:   # a source partition through one by-lang
                        lane = (event.message.partition, source)   # partition arrives in its order
                    elif source is not None:
                        # through the story partitions a source partition's records arrive out of order:
                        # its offsets give it back (by key alone, records a producer sent within one
                        # millisecond would go by event time, not as dedupe and replay took them)
                        lane, sequence = source, source_offset(item.value)
                async with lock:
                    buffer.add(key, item, time.monotonic(), len(event.value or b""), lane, sequence)
                    await release(buffer.ready(time.monotonic(), time.time()))
        finally:
            flusher.cancel()

    async def _process(self, stage: str, handle: Callable[[Item], Awaitable[Sequence[Any]]], acks: Acks,
                       item: Item) -> None:
        """One record: its outputs handed to the producer (acknowledged when they are), or the record in
        its DLQ; an infrastructure error is retried, then ends the worker."""
        started = time.perf_counter()
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                with as_current(item.event):     # table writes go to this record's partition
                    futures = await handle(item)
            except Exception as exc:  # noqa: BLE001 (sorted below: the record's fault, or the infrastructure's)
                if not infrastructure(exc):
                    await self.to_dlq(item.event, exc)
                    acks.done(item.event)
                    return
                self._retry_or_exit(item.event, exc, attempt)
                await asyncio.sleep(RETRY_DELAYS[attempt])
                continue
            acks.after(item.event, futures)
            self.metrics.record(stage, time.perf_counter() - started)
            return

    async def _failed(self, acks: Acks, event: Any, error: BaseException) -> None:
        """An output the broker did not acknowledge (after the producer's own retries)."""
        if infrastructure(error):
            self.fatal(event, error)
            return
        await self.to_dlq(event, error)
        acks.done(event)

    def _retry_or_exit(self, event: Any, error: BaseException, attempt: int) -> None:
        """Log the retry of an infrastructure error; after the last one, `fatal`."""
        if attempt >= len(RETRY_DELAYS):
            self.fatal(event, error)
        message = event.message
        log.warning("infrastructure error, retrying the record in %g s: %s: %s", RETRY_DELAYS[attempt],
                    type(error).__name__, error,
                    extra={"topic": message.topic, "partition": message.partition, "offset": message.offset})

    def fatal(self, event: Any, error: BaseException) -> NoReturn:
        """Exit at once, the record unacknowledged: nothing past it is committed, the restarted worker
        processes it again. (Not an exception: Faust would restart the agent and acknowledge the record.)"""
        message = event.message
        log.critical("exiting: an infrastructure error persists; %s [%s] offset %s will be processed again "
                     "after a restart: %s: %s", message.topic, message.partition, message.offset,
                     type(error).__name__, error,
                     extra={"topic": message.topic, "partition": message.partition, "offset": message.offset})
        logging.shutdown()
        sys.stderr.flush()
        self.exit(EXIT_INFRASTRUCTURE)
        raise SystemExit(EXIT_INFRASTRUCTURE)     # (only when `exit` returned: a test's)

    async def to_dlq(self, event: Any, error: BaseException) -> None:
        """The record, its error and where it came from, to `<topic>.dlq` (a bounded copy when the whole
        would be too large for Kafka); an infrastructure error sending it is retried, then ends the worker."""
        message = event.message
        log.warning("record to DLQ: %s", error, extra={"topic": message.topic, "partition": message.partition,
                                                       "offset": message.offset})
        self.metrics.failed.labels(message.topic).inc()
        headers = [("error", str(error).encode()[:2000]), ("error.class", type(error).__name__.encode()),
                   ("source.topic", message.topic.encode()),
                   ("source.partition", str(message.partition).encode()),
                   ("source.offset", str(message.offset).encode())]
        key, value, headers = dlq_copy(message.key, message.value, headers)
        for attempt in range(len(RETRY_DELAYS) + 1):
            try:
                await self.send_dlq(f"{message.topic}.dlq", key, value, partition=None, timestamp=None,
                                    headers=headers)
                return
            except Exception as exc:  # noqa: BLE001 (sorted: a DLQ copy refused as such, or the infrastructure)
                if not infrastructure(exc):
                    # the copy itself refused (a broker with a lower size limit): the error and the
                    # headers alone still say what was lost and where it is
                    key, value = None, None
                    headers = [*headers, ("dlq.error", f"{type(exc).__name__}: {exc}".encode()[:2000])]
                    continue
                self._retry_or_exit(event, exc, attempt)
                await asyncio.sleep(RETRY_DELAYS[attempt])
        self.fatal(event, RuntimeError("the DLQ copy could not be sent"))


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
    """Errors of Kafka, Faust or the machine, which no record causes and a DLQ would only hide. Not the
    broker or producer refusing a record for its size or form: that is the record's (its DLQ)."""
    from aiokafka import errors as kafka
    from faust.exceptions import FaustError, ProducerSendError

    if isinstance(error, ProducerSendError) and error.__cause__ is not None:
        error = error.__cause__                     # Faust's wrapper of the producer's own error
    if isinstance(error, RecordTooLarge | kafka.MessageSizeTooLargeError | kafka.RecordTooLargeError
                  | kafka.RecordListTooLargeError
                  | kafka.CorruptRecordException | kafka.InvalidTimestampError
                  | kafka.UnsupportedForMessageFormatError):
        return False
    return isinstance(error, FaustError | kafka.KafkaError | OSError | asyncio.TimeoutError | MemoryError)
