"""The Faust application: topics, tables and the agents of `streams.worker.agents`, wired from Settings.

The processing itself lives in `streams.pipeline` (pure, shared with `wirewatch replay`); this module
only declares what Kafka holds: the five topics, two tables with changelogs (so a restarted worker
neither forgets nor re-emits), the timers, and which agent reads which topic.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import faust

from connectors import article as contract
from connectors.settings import Settings
from streams.alerts import AlertPolicy
from streams.escalation import RuleReloader, Rules, RulesHolder
from streams.events import gazetteer
from streams.events.tracker import EventTracker
from streams.metrics import StreamMetrics, setup_faust_sensors
from streams.resources import default_rules
from streams.worker import patches
from streams.worker.agents import Agents
from streams.worker.credentials import credentials
from streams.worker.sender import AlertSender
from streams.worker.tables import ROCKSDB_OPTIONS, JsonView

log = logging.getLogger(__name__)


def create_app(settings: Settings, rules: Rules | RulesHolder | None = None,
               metrics: StreamMetrics | None = None) -> faust.App:
    contract.ready()  # every record is checked against the Article contract: its formats must be checkable
    if rules is None:  # a broken rule file fails here, at start, with file, line and reason
        rules = RuleReloader(settings.rules_path or default_rules(), settings.rules_reload_s)
    metrics = metrics or StreamMetrics()
    topics = settings.topics
    patches.apply()
    app = faust.App(
        settings.app_id, broker=[f"kafka://{s}" for s in (settings.bootstrap_servers or "").split(",")],
        store="rocksdb://",
        datadir=settings.data_dir, topic_partitions=settings.partitions, web_enabled=False,
        topic_replication_factor=settings.replication,  # Faust's changelog and repartition topics
        consumer_auto_offset_reset="earliest", producer_acks=-1,
        broker_credentials=credentials(settings), table_cleanup_interval=60.0,
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
    # One partition: every report of an event meets the same event state (docs/architecture-events.md).
    scored = app.topic(topics.scored, key_type=bytes, value_type=bytes, value_serializer="raw", partitions=1)
    alerts = app.topic(topics.alerts, key_type=bytes, value_type=bytes, value_serializer="raw")
    # Values are JSON bytes encoded and decoded by JsonView (the same bytes Faust's json codec wrote);
    # value_type=bytes is what makes Faust store and send them as they are ("raw"). (Never a model
    # type such as dict: Faust decodes a typed value with `value_type.from_data`, which `dict` lacks,
    # so recovering a table from its changelog failed on every record and never ended.)
    table_schema: faust.Schema[str, bytes] = faust.Schema(key_type=str, key_serializer="json",
                                                          value_serializer="raw")
    dedupe_table = app.Table("dedupe-index", default=None, value_type=bytes, schema=table_schema,
                             options=ROCKSDB_OPTIONS)
    event_table = app.Table("event-state", default=None, value_type=bytes, schema=table_schema,
                            options=ROCKSDB_OPTIONS, partitions=1)
    policy = AlertPolicy(settings.alert_min_severity, timedelta(seconds=settings.alert_min_interval_s))
    alert_sender = AlertSender(app, settings)
    app.service(alert_sender.service)

    async def send(topic: str, key: bytes, value: bytes) -> Any:
        """Hand a record to the producer (batched); returns the future of its acknowledgement.

        The producer directly, not Topic.send: same partitioner and producer, without a Faust
        message, callbacks and sensor calls per record. At-least-once is unchanged: before each
        offset commit Faust flushes the producer, so a record's input offset is committed only once
        what it produced is acknowledged."""
        return await app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None)

    agents = Agents(settings=settings, rules=rules, tracker=EventTracker(JsonView(event_table), policy),
                    dedupe_table=dedupe_table, metrics=metrics, send=send, send_alert=alert_sender.send,
                    send_dlq=lambda *a, **kw: app.producer.send_and_wait(*a, **kw),
                    key_partition=lambda topic, key: app.consumer.key_partition(topic, key),
                    by_lang_topic=by_lang.get_topic_name(), stories_topic=stories.get_topic_name(),
                    scored_topic=scored.get_topic_name(), alerts_topic=alerts.get_topic_name())
    app.agent(articles, name="normalize")(agents.normalize)
    app.agent(by_lang, name="dedupe")(agents.dedupe)
    app.agent(stories, name="score")(agents.score)
    app.agent(scored, name="events")(agents.events)

    @app.task
    async def load_gazetteer() -> None:
        # the events agent's first record should not wait for the place index to load (or be built)
        await asyncio.to_thread(gazetteer.load)

    metrics.start(settings.app_id, (topics.articles, topics.by_lang, topics.stories, topics.scored),
                  getattr(getattr(rules, "rules", rules), "categories", {}))
    setup_faust_sensors(app, metrics.registry)

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
        metrics.observe_indexes(agents.indexes)

    # mode types every handler as (sender, *args, signal=, **kwargs); this signal sends (sender, revoked)
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_partitions(sender: Any, revoked: Any, **_: Any) -> None:
        agents.forget_partitions()
        metrics.forget_partitions()

    return app
