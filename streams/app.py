"""The Faust application: topics, tables and agents wired from Settings.

The processing itself lives in streams.pipeline (pure); this module only moves records between
Kafka and those functions, sends what cannot be processed to `<topic>.dlq`, and keeps state in
tables with changelogs so a restarted worker neither forgets nor re-emits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, MutableMapping
from datetime import timedelta
from typing import Any

import faust
import orjson

from connectors.article import parse_time
from connectors.settings import Settings
from streams.alerts import AlertPolicy, StoryTracker
from streams.dedupe import DedupeIndex
from streams.diskstore import dumps as _dumps
from streams.escalation import DEFAULT_RULES, RuleReloader, Rules, RulesHolder
from streams.metrics import StreamMetrics, setup_faust_sensors
from streams.pipeline import dedupe_stage, normalize_stage, score_plan
from streams.replayguard import published_versions

log = logging.getLogger(__name__)


class JsonView(MutableMapping[str, Any]):
    """A Faust table whose values are JSON documents stored as bytes (the table's value serializer is
    "raw"): each value is encoded once, here, and those bytes go both to the changelog and to RocksDB
    (Faust's json codec encoded every write twice, once per destination, with the stdlib encoder).
    The bytes are the same JSON as before, so changelogs and stores written by older versions read back.

    Reads go to the table's store directly (the table's own `get` reads RocksDB twice: a membership
    test, then the value). With `partition`, the view is the slice of the table that belongs to one
    source partition (keys prefixed `<partition>/`): one dedupe index per partition."""

    def __init__(self, table: Any, partition: int | None = None) -> None:
        self.table, self.prefix = table, "" if partition is None else f"{partition}/"

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.table.data.get(self.prefix + key)
        return default if raw is None else _loads(raw)

    def __getitem__(self, key: str) -> Any:
        raw = self.table.data.get(self.prefix + key)
        if raw is None:
            raise KeyError(key)
        return _loads(raw)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.table.data.get(self.prefix + key) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[self.prefix + key] = _dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        return (key[n:] for key in list(self.table.keys()) if key.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


PartitionView = JsonView  # (the name of older versions)


_loads = orjson.loads


FETCH_MAX_WAIT_MS = 100

# RocksDB memory per table partition. Faust's defaults (3 write buffers of 64 MB, a 2 GB block cache)
# let one table partition take over 2 GB; a worker holds two tables times its partitions. Records are
# small (a dedupe record ~3 kB, a story ~1 kB), reads mostly hit the memtables or the OS page cache.
ROCKSDB_OPTIONS = {"write_buffer_size": 16 * 2**20, "max_write_buffer_number": 2,
                   "block_cache_size": 64 * 2**20}


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


def _tune_rocksdb() -> None:
    """Table stores write without RocksDB's write-ahead log.

    A table's store is a cache of its changelog topic, which is the durable copy: after a crash Faust
    reads the store's persisted changelog offset and replays the changelog from there. Without the
    log a crash loses the memtables' latest writes, and with them the latest persisted-offset
    records, which are written to the same database after the values they cover: what survives is
    a prefix of the writes whose offset record says where the replay starts, so the store recovers
    to the same state as before. The log cost ~10 µs of CPU per write (a write(2) each), and every
    article writes four times (dedupe record, story state, each with its offset record)."""
    import rocksdict
    from faust.stores.rocksdb import RocksDBOptions

    if getattr(RocksDBOptions.open, "_wirewatch", False):
        return
    open_db = RocksDBOptions.open

    def open_without_wal(self: Any, path: Any, *, read_only: bool = False) -> Any:
        db = open_db(self, path, read_only=read_only)
        if isinstance(db, rocksdict.Rdict) and not read_only:
            options = rocksdict.WriteOptions()
            # rocksdict's stub declares disable_wal a method; at run time it is a settable bool attribute
            options.disable_wal = True  # type: ignore[method-assign,assignment]
            db.set_write_options(options)
        return db

    open_without_wal._wirewatch = True  # type: ignore[attr-defined]
    RocksDBOptions.open = open_without_wal  # type: ignore[method-assign]


def create_app(settings: Settings, rules: Rules | RulesHolder | None = None,
               metrics: StreamMetrics | None = None) -> faust.App:
    if rules is None:  # a broken rule file fails here, at start, with file, line and reason
        rules = RuleReloader(settings.rules_path or DEFAULT_RULES, settings.rules_reload_s)
    metrics = metrics or StreamMetrics()
    topics = settings.topics
    _tune_consumer()
    _tune_rocksdb()
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
        # Faust's default batch is 16 kB: with 9 kB by-lang/story records every record went out in a
        # produce request of its own, and writing those requests to the socket was ~30 % of the
        # worker's CPU. One batch per partition now holds what a few ms of records add up to.
        producer_max_batch_size=256 * 1024,  # (the broker takes batches up to message.max.bytes, 1 MB)
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 10),
    )
    articles = app.topic(topics.articles, key_type=bytes, value_type=bytes, value_serializer="raw")
    by_lang = app.topic(topics.by_lang, key_type=bytes, value_type=bytes, value_serializer="raw")
    stories = app.topic(topics.stories, key_type=bytes, value_type=bytes, value_serializer="raw")
    alerts = app.topic(topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    # Values are JSON bytes encoded and decoded by JsonView (the same bytes Faust's json codec wrote);
    # value_type=bytes is what makes Faust store and send them as they are ("raw"). (Never a model
    # type such as dict: Faust decodes a typed value with `value_type.from_data`, which `dict` lacks,
    # so recovering a table from its changelog failed on every record and never ended.)
    table_schema: faust.Schema[str, bytes] = faust.Schema(key_type=str, key_serializer="json",
                                                          value_serializer="raw")
    dedupe_table = app.Table("dedupe-index", default=None, value_type=bytes, schema=table_schema,
                             options=ROCKSDB_OPTIONS)
    story_table = app.Table("story-state", default=None, value_type=bytes, schema=table_schema,
                            options=ROCKSDB_OPTIONS)
    stories_state = JsonView(story_table)
    tracker = StoryTracker(stories_state, AlertPolicy(settings.alert_min_severity,
                                                      timedelta(seconds=settings.alert_min_interval_s)))
    indexes: dict[int, DedupeIndex] = {}
    metrics.start(settings.app_id, (topics.articles, topics.by_lang, topics.stories),
                  getattr(getattr(rules, "rules", rules), "categories", {}))
    setup_faust_sensors(app, metrics.registry)
    published: dict[str, set[tuple[str, int]]] = {}  # alert versions already on the topic (replay guard)
    by_lang_name, stories_name = by_lang.get_topic_name(), stories.get_topic_name()

    async def send(topic: str, key: bytes, value: bytes) -> Any:
        """Hand a record to the producer (batched); returns the future of its acknowledgement.

        The producer directly, not Topic.send: same partitioner and producer, without a Faust
        message, callbacks and sensor calls per record. At-least-once is unchanged: before each
        offset commit Faust flushes the producer, so a record's input offset is committed only once
        what it produced is acknowledged."""
        return await app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)

    alert_sender = AlertSender(app, settings)
    app.service(alert_sender.service)

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

    @app.timer(1.0)
    async def observe_indexes() -> None:
        # the window gauges once a second, not per record (the agents run on this loop: no record is
        # half-processed while this reads the indexes)
        metrics.observe_indexes(indexes)

    # mode types every handler as (sender, *args, signal=, **kwargs); this signal sends (sender, revoked)
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
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
            await send(by_lang_name, normed["norm"]["language"].encode(), _dumps(normed))
            metrics.record("normalize", time.perf_counter() - started)

    @app.agent(by_lang)
    async def dedupe(stream: Any) -> None:
        async for event in stream.events():
            partition = event.message.partition
            started = time.perf_counter()
            try:
                index = indexes.get(partition)
                if index is None:
                    index = indexes[partition] = DedupeIndex(JsonView(dedupe_table, partition))
                story_article = dedupe_stage(_loads(event.value), index)
            except Exception as exc:
                await to_dlq(event, exc)
                continue
            if story_article["copy_of"]:
                metrics.copies.labels(story_article["norm"]["language"]).inc()
            await send(stories_name, story_article["story_id"].encode(), _dumps(story_article))
            metrics.record("dedupe", time.perf_counter() - started)

    def forget_expired_stories(partition: int) -> None:
        """Delete the stories of this event's partition that are past the retention. Only while an
        event of that partition is being processed: Faust writes a deletion's tombstone to the
        changelog partition of the current event, so it must be the story's own partition."""
        def mine(story_id: str) -> bool:
            # the partition the dedupe agent's producer sent it to (same partitioner, consumer metadata)
            return app.consumer.key_partition(stories_name, story_id.encode()) == partition

        gone = tracker.expired(partition, mine)
        for story_id in gone:
            del stories_state[story_id]
        if gone:
            log.info("partition %d: %d stories silent for over %g h (event time) forgotten", partition,
                     len(gone), tracker.retention.total_seconds() / 3600)

    @app.agent(stories)
    async def score(stream: Any) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            try:
                story_article = _loads(event.value)
                _, alert, story = score_plan(story_article, rules, tracker)
            except Exception as exc:
                await to_dlq(event, exc)
                continue
            if story is not None and len(story["seen"]) == 1:  # (a story's first article; not a re-read)
                metrics.stories.labels(story_article["norm"]["language"]).inc()
            if alert is not None:
                if "versions" not in published:
                    published["versions"] = await asyncio.to_thread(published_versions, settings)
                if (alert["alert_id"], alert["version"]) in published["versions"]:
                    log.info("alert %s v%s is already published (replay after a crash): not re-sent",
                             alert["alert_id"], alert["version"])
                else:
                    # acknowledged before the state moves on: a crash re-sends, never loses
                    await alert_sender.send(alerts.get_topic_name(), alert["story_id"].encode(), _dumps(alert))
                    _observe_alert(metrics, alert, story_article)
            if story is not None:
                stories_state[story["story_id"]] = story
            partition = event.message.partition
            if tracker.sweep_due(partition):
                forget_expired_stories(partition)
            metrics.record("score", time.perf_counter() - started)

    return app


class AlertSender:
    """Sends alerts with a producer of their own that does not linger.

    The score agent waits for each alert's acknowledgement before it writes the story's new state
    (else a crash between the two could lose the alert). Through the shared producer, which lingers
    5 ms to batch the by-lang, story and changelog records, that wait was 5-7 ms per alert, during
    which the agent processed nothing: with one article in eight opening or updating an alert, the
    score agent could not keep up with 1,000 articles/s. This producer sends each alert at once, so
    the wait is one round trip. Same cluster, credentials, acks and partitioner (murmur2 on the story
    id) as the shared producer. Until it has started, alerts go through the shared producer."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        import mode
        from aiokafka import AIOKafkaProducer
        from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

        self.app, self.producer = app, None
        sender = self

        class Service(mode.Service):
            async def on_start(self) -> None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=(settings.bootstrap_servers or "").split(","), acks="all", linger_ms=0,
                    client_id=f"{settings.app_id}-alerts",
                    request_timeout_ms=int(app.conf.producer_request_timeout * 1000),
                    max_request_size=app.conf.producer_max_request_size,
                    **credentials_to_aiokafka_auth(_credentials(settings)))
                await producer.start()
                sender.producer = producer

            async def on_stop(self) -> None:
                producer, sender.producer = sender.producer, None
                if producer is not None:
                    await producer.stop()

        self.service = Service

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send and wait for the acknowledgement."""
        if self.producer is None:
            await (await self.app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None))
        else:
            await self.producer.send_and_wait(topic, value, key=key)


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
