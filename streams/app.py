"""The Faust application: topics, tables and agents wired from Settings.

The processing itself lives in streams.pipeline (pure); this module only moves records between
Kafka and those functions, sends what cannot be processed to `<topic>.dlq`, and keeps state in
tables with changelogs so a restarted worker neither forgets nor re-emits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator, MutableMapping
from datetime import timedelta
from typing import Any

import faust

from connectors.article import parse_time
from connectors.settings import Settings
from streams.alerts import AlertPolicy, StoryTracker
from streams.dedupe import DedupeIndex
from streams.escalation import DEFAULT_RULES, RuleReloader, Rules, RulesHolder
from streams.metrics import StreamMetrics, setup_faust_sensors
from streams.pipeline import dedupe_stage, normalize_stage, score_plan
from streams.replayguard import published_versions

log = logging.getLogger(__name__)


class PartitionView(MutableMapping[str, Any]):
    """The slice of a table that belongs to one source partition: one dedupe index per partition."""

    def __init__(self, table: Any, partition: int) -> None:
        self.table, self.prefix = table, f"{partition}/"

    def __getitem__(self, key: str) -> Any:
        value = self.table.get(self.prefix + key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[self.prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        return (key[n:] for key in list(self.table.keys()) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


FETCH_MAX_WAIT_MS = 100


def _tune_consumer() -> None:
    """Two settings Faust does not expose, set on the consumer it creates, before it starts:

    - fetch_max_wait_ms: Faust fixes it at 1500; a fetch that excludes partitions still buffered
      locally may idle that long, which stalls the agents downstream and puts 1.5 s into the p99
      latency. Lowered to FETCH_MAX_WAIT_MS.
    - isolation_level: read_committed, so articles of a connector transaction that was aborted (the
      connector crashed mid-poll and its successor fenced it) are never processed; their feed items
      are published again, once, in the successor's transaction."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "_wirewatch", False):
        return
    create = thread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # an aiokafka upgrade moved it: say so loudly
            raise RuntimeError("aiokafka consumer has no _fetch_max_wait_ms; revisit streams.app._tune_consumer")
        if not hasattr(consumer, "_isolation_level"):
            raise RuntimeError("aiokafka consumer has no _isolation_level; revisit streams.app._tune_consumer")
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        consumer._isolation_level = "read_committed"
        return consumer

    _create_worker_consumer._wirewatch = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def create_app(settings: Settings, rules: Rules | RulesHolder | None = None,
               metrics: StreamMetrics | None = None) -> faust.App:
    if rules is None:  # a broken rule file fails here, at start, with file, line and reason
        rules = RuleReloader(settings.rules_path or DEFAULT_RULES, settings.rules_reload_s)
    metrics = metrics or StreamMetrics()
    topics = settings.topics
    _tune_consumer()
    app = faust.App(
        settings.app_id, broker=[f"kafka://{s}" for s in (settings.bootstrap_servers or "").split(",")],
        store="rocksdb://",
        datadir=settings.data_dir, topic_partitions=settings.partitions, web_enabled=False,
        topic_replication_factor=settings.replication,  # Faust's changelog and repartition topics
        consumer_auto_offset_reset="earliest", producer_acks=-1,
        broker_credentials=_credentials(settings), table_cleanup_interval=60.0,
        # Faust's consumer waits up to 1.5 s in a fetch that excludes partitions still buffered
        # locally, so each partition gets one fetch of at most this many bytes per cycle: at the
        # 1 MB default and ~10 kB records a worker stalls near 150 articles/s.
        consumer_max_fetch_size=16 * 1024 * 1024,
        producer_linger=0.005,  # batch sends a few ms: one produce request per message costs more CPU
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
    )
    articles = app.topic(topics.articles, key_type=bytes, value_type=bytes, value_serializer="raw")
    by_lang = app.topic(topics.by_lang, key_type=bytes, value_type=bytes, value_serializer="raw")
    stories = app.topic(topics.stories, key_type=bytes, value_type=bytes, value_serializer="raw")
    alerts = app.topic(topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    # No value_type: Faust decodes a typed changelog value with `value_type.from_data`, which `dict` lacks,
    # so recovering a table from its changelog (after a crash) failed on every record and never ended.
    json_schema = faust.Schema(key_type=str, key_serializer="json", value_serializer="json")
    dedupe_table = app.Table("dedupe-index", default=None, schema=json_schema)
    story_table = app.Table("story-state", default=None, schema=json_schema)
    tracker = StoryTracker(story_table, AlertPolicy(settings.alert_min_severity,
                                                    timedelta(seconds=settings.alert_min_interval_s)))
    indexes: dict[int, DedupeIndex] = {}
    metrics.start(settings.app_id, (topics.articles, topics.by_lang, topics.stories),
                  getattr(getattr(rules, "rules", rules), "categories", {}))
    setup_faust_sensors(app, metrics.registry)
    published: dict[str, set[tuple[str, int]]] = {}  # alert versions already on the topic (replay guard)

    if isinstance(rules, RuleReloader) and settings.rules_reload_s > 0:
        reloader = rules

        @app.timer(settings.rules_reload_s)
        async def reload_rules() -> None:
            # stat() and parsing are blocking I/O: keep them off the event loop
            before = reloader.failures
            if await asyncio.to_thread(reloader.check):
                metrics.rule_reloads.labels("ok").inc()
                log.warning("escalation rules reloaded: version %s", reloader.version)
            elif reloader.failures > before:
                metrics.rule_reloads.labels("failed").inc()

    @app.on_partitions_revoked.connect
    async def _forget_indexes(sender: Any, revoked: Any, **_: Any) -> None:
        indexes.clear()  # rebuilt from the (recovered) table on the next record of each partition
        metrics.forget_partitions()
        published.clear()  # re-read after the assignment: the previous owner may have crashed mid-alert

    async def to_dlq(event: Any, error: BaseException) -> None:
        if _infrastructure(error):
            raise error  # not the record's fault: crash, restart, reprocess (at-least-once)
        message = event.message
        log.warning("record to DLQ: %s", error, extra={"topic": message.topic, "partition": message.partition,
                                                       "offset": message.offset})
        metrics.failed.labels(message.topic).inc()
        await app.producer.send_and_wait(
            f"{message.topic}.dlq", message.key, message.value, partition=None, timestamp=None,
            headers=[("error", str(error).encode()[:2000]), ("error.class", type(error).__name__.encode()),
                     ("source.topic", message.topic.encode()),
                     ("source.partition", str(message.partition).encode()),
                     ("source.offset", str(message.offset).encode())])

    @app.agent(articles)
    async def normalize(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                normed = normalize_stage(event.value)
            except Exception as exc:  # a bad record never crashes the agent
                await to_dlq(event, exc)
                continue
            await by_lang.send(key=normed["norm"]["language"].encode(), value=_dumps(normed))
            metrics.record("normalize", time.perf_counter() - started)

    @app.agent(by_lang)
    async def dedupe(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            started = time.perf_counter()
            try:
                index = indexes.get(partition)
                if index is None:
                    index = indexes[partition] = DedupeIndex(PartitionView(dedupe_table, partition))
                story_article = dedupe_stage(json.loads(event.value), index)
            except Exception as exc:
                await to_dlq(event, exc)
                continue
            if story_article["copy_of"]:
                metrics.copies.labels(story_article["norm"]["language"]).inc()
            await stories.send(key=story_article["story_id"].encode(), value=_dumps(story_article))
            metrics.record("dedupe", time.perf_counter() - started)
            metrics.observe_indexes({partition: index})

    @app.agent(stories)
    async def score(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                story_article = json.loads(event.value)
                new_story = story_table.get(story_article["story_id"]) is None
                _, alert, story = score_plan(story_article, rules, tracker)
            except Exception as exc:
                await to_dlq(event, exc)
                continue
            if new_story and story is not None:
                metrics.stories.labels(story_article["norm"]["language"]).inc()
            if alert is not None:
                if "versions" not in published:
                    published["versions"] = await asyncio.to_thread(published_versions, settings)
                if (alert["alert_id"], alert["version"]) in published["versions"]:
                    log.info("alert %s v%s is already published (replay after a crash): not re-sent",
                             alert["alert_id"], alert["version"])
                else:
                    sent = await alerts.send(key=alert["story_id"].encode(), value=_dumps(alert))
                    await sent  # acknowledged before the state moves on: a crash re-sends, never loses
                    _observe_alert(metrics, alert, story_article)
            if story is not None:
                story_table[story["story_id"]] = story
            metrics.record("score", time.perf_counter() - started)

    return app


def _observe_alert(metrics: StreamMetrics, alert: dict[str, Any], story_article: dict[str, Any]) -> None:
    metrics.alerts.labels(alert["severity"], alert["reason"]).inc()
    for category in alert["categories"]:
        metrics.alert_categories.labels(category).inc()
    for field, histogram in (("fetched_at", metrics.latency), ("published_at", metrics.event_age)):
        if story_article.get(field):
            with contextlib.suppress(ValueError):  # an unreadable time is no reason to lose the alert
                histogram.observe(max(0.0, time.time() - parse_time(story_article[field]).timestamp()))


def _infrastructure(error: BaseException) -> bool:
    """Errors of Kafka, Faust or the machine, which no record causes and a DLQ would only hide."""
    from aiokafka.errors import KafkaError
    from faust.exceptions import FaustError

    return isinstance(error, FaustError | KafkaError | OSError | asyncio.TimeoutError | MemoryError)


def _credentials(settings: Settings) -> Any:
    """Faust (aiokafka) credentials from the same WIREWATCH_KAFKA_* settings as the kafka-python clients."""
    from connectors.settings import ssl_context

    sec = settings.security
    protocol = sec.get("security_protocol", "PLAINTEXT")
    if protocol == "PLAINTEXT":
        return None
    context = ssl_context(sec) if protocol.endswith("SSL") else None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    return faust.SASLCredentials(username=sec["sasl_plain_username"], password=sec["sasl_plain_password"],
                                 ssl_context=context, mechanism=sec["sasl_mechanism"])
