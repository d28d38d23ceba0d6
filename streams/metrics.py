"""Every wirewatch metric of the stream workers and sinks, created once against an injectable registry.

Labels never carry URLs or titles: stage, topic, partition, severity, reason, category, language,
sink and outcome are bounded sets. Series whose label values are known at start (stages, DLQ topics,
severities, rule categories) are created at zero, so a quiet pipeline still answers every query and
`increase()` sees the first event.

Names (DESIGN.md, deploy/prometheus, deploy/grafana and docs/operations.md build on them):

    wirewatch_worker_info{app_id,version}                       1 per running worker
    wirewatch_articles_processed_total{stage}                  normalize | dedupe | score | events
    wirewatch_stage_last_processed_timestamp_seconds{stage}    wall clock of the last record per stage
    wirewatch_stage_duration_seconds{stage}                    processing time of one record
    wirewatch_dlq_records_total{topic}                         records sent to <topic>.dlq
    wirewatch_records_truncated_total{topic}                   records cut to the size bound before produced
    wirewatch_event_time_corrected_total{flag}                 articles whose published_at the event-time
                                                               rule bounded: ahead | floor | clock
    wirewatch_copies_collapsed_total{language}                 articles that were copies of a known one
    wirewatch_stories_total{language}                          new stories opened
    wirewatch_events_total{outcome}                            articles that opened an event (opened) or
                                                               joined one (joined); events merged (merged)
    wirewatch_alerts_total{severity,reason}                    alert versions published (reason merged:
                                                               the last version of a merged event)
    wirewatch_alert_categories_total{category}                 categories on published alert versions
    wirewatch_alert_latency_seconds                            article fetched -> alert published
    wirewatch_alert_event_age_seconds                          article published (event time) -> alert
    wirewatch_dedupe_index_articles{partition}                 articles in the dedupe window
    wirewatch_dedupe_window_age_seconds{partition}             newest minus oldest event time in the window
    wirewatch_faust_*                                          Faust's sensors (consumer offsets -> lag)
    wirewatch_sink_deliveries_total{sink,outcome}              webhook sink outcomes
    wirewatch_sink_delivery_seconds{sink}                      one HTTP delivery attempt
    wirewatch_alert_versions_total{severity,category}          alert versions published, by severity and category
    wirewatch_delivery_decisions_total{route,outcome}          send | held | quiet | digest | muted | duplicate
    wirewatch_delivery_messages_total{route,destination,outcome}  delivered | retried | dead_lettered
    wirewatch_delivery_held_alerts                              alerts held for an interval, quiet hours or a digest
    wirewatch_delivery_route_reloads_total{outcome}            routes file reloads (a failed one keeps the routes)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from streams.escalation import SEVERITIES
from streams.eventtime import FLAGS

STAGES = ("normalize", "dedupe", "score", "events")
REASONS = ("new", "escalated", "spread", "merged")
EVENT_OUTCOMES = ("opened", "joined", "merged")
SINK_OUTCOMES = ("delivered", "retried", "dead_lettered", "duplicate", "filtered")
DELIVERY_DECISIONS = ("send", "held", "quiet", "digest", "muted", "duplicate")
DELIVERY_OUTCOMES = ("delivered", "retried", "dead_lettered")

_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
_LATENCY = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
_AGE = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 24 * 3600, 3 * 86400, 7 * 86400)


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.info = Gauge("wirewatch_worker_info", "1 for each running stream worker", ["app_id", "version"],
                          registry=registry)
        self.processed = Counter("wirewatch_articles_processed_total", "Articles processed, by stage",
                                 ["stage"], registry=registry)
        self.last_processed = Gauge("wirewatch_stage_last_processed_timestamp_seconds",
                                    "Unix time of the last record a stage processed", ["stage"],
                                    registry=registry)
        self.duration = Histogram("wirewatch_stage_duration_seconds", "Processing time of one record, by stage",
                                  ["stage"], buckets=_SECONDS, registry=registry)
        self.failed = Counter("wirewatch_dlq_records_total", "Records sent to a DLQ, by source topic",
                              ["topic"], registry=registry)
        self.truncated = Counter("wirewatch_records_truncated_total", "Records cut to the size bound "
                                 "(streams/records.py) before they were produced, by topic", ["topic"],
                                 registry=registry)
        self.event_times = Counter("wirewatch_event_time_corrected_total", "Articles whose published_at the "
                                   "event-time rule bounded (streams/eventtime.py), by flag", ["flag"],
                                   registry=registry)
        self.copies = Counter("wirewatch_copies_collapsed_total", "Articles recognised as copies of a "
                              "known article", ["language"], registry=registry)
        self.stories = Counter("wirewatch_stories_total", "New stories opened", ["language"],
                               registry=registry)
        self.events = Counter("wirewatch_events_total", "Articles that opened an event or joined one, and "
                              "events merged into another", ["outcome"], registry=registry)
        self.alerts = Counter("wirewatch_alerts_total", "Alert versions published, by severity and reason",
                              ["severity", "reason"], registry=registry)
        self.alert_categories = Counter("wirewatch_alert_categories_total", "Categories on published "
                                        "alert versions", ["category"], registry=registry)
        self.alert_versions = Counter("wirewatch_alert_versions_total", "Alert versions published, by severity "
                                      "and category (one per category of a version)", ["severity", "category"],
                                      registry=registry)
        self.rule_reloads = Counter("wirewatch_rule_reloads_total", "Rule file reloads at run time, by outcome "
                                    "(a failed reload keeps the rules in force)", ["outcome"], registry=registry)
        self.latency = Histogram("wirewatch_alert_latency_seconds", "From article fetch to alert publish",
                                 buckets=_LATENCY, registry=registry)
        self.event_age = Histogram("wirewatch_alert_event_age_seconds", "From article publication (event "
                                   "time) to alert publish", buckets=_AGE, registry=registry)
        self.index_size = Gauge("wirewatch_dedupe_index_articles", "Articles in the dedupe window, by "
                                "by-lang partition owned by this worker", ["partition"], registry=registry)
        self.window_age = Gauge("wirewatch_dedupe_window_age_seconds", "Newest minus oldest event time "
                                "in the dedupe window, by partition", ["partition"], registry=registry)
        # per stage, the children bound once: `labels()` on every record cost more than the update
        self._stage = {stage: (self.processed.labels(stage), self.duration.labels(stage),
                               self.last_processed.labels(stage)) for stage in STAGES}
        for severity in SEVERITIES:
            for reason in REASONS:
                self.alerts.labels(severity, reason)
        for outcome in EVENT_OUTCOMES:
            self.events.labels(outcome)
        for flag in FLAGS:
            self.event_times.labels(flag)

    def start(self, app_id: str, dlq_topics: Iterable[str], categories: Iterable[str]) -> None:
        """Create the series known at start at zero and mark this worker as running."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("wirewatch")
        except PackageNotFoundError:
            release = "dev"
        self.info.labels(app_id, release).set(1)
        for topic in dlq_topics:
            self.failed.labels(topic)
            self.truncated.labels(topic)
        for category in categories:
            self.alert_categories.labels(category)

    def record(self, stage: str, seconds: float) -> None:
        """One record fully processed by `stage` (sent downstream), taking `seconds`."""
        processed, duration, last = self._stage[stage]
        processed.inc()
        duration.observe(seconds)
        last.set_to_current_time()

    def observe_indexes(self, indexes: Mapping[int, Any]) -> None:
        """Size and span of each dedupe window this worker holds (reads the index, never changes it)."""
        for partition, index in indexes.items():
            size, oldest, newest = 0, None, 0.0
            for part in getattr(index, "parts", {}).values():
                size += len(part.live)
                if part.expiry:
                    first = part.expiry[0][0]
                    oldest = first if oldest is None else min(oldest, first)
                newest = max(newest, part.max_ts)
            self.index_size.labels(str(partition)).set(size)
            self.window_age.labels(str(partition)).set(max(0.0, newest - oldest) if oldest is not None else 0.0)

    def forget_partitions(self) -> None:
        """After a rebalance another worker reports the partitions this one gave up."""
        self.index_size.clear()
        self.window_age.clear()


class SinkMetrics:
    def __init__(self, sink: str, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        deliveries = Counter("wirewatch_sink_deliveries_total", "Alert versions handled by a sink, by outcome",
                             ["sink", "outcome"], registry=registry)
        self.outcome = {outcome: deliveries.labels(sink, outcome) for outcome in SINK_OUTCOMES}
        self.seconds = Histogram("wirewatch_sink_delivery_seconds", "One HTTP delivery attempt", ["sink"],
                                 buckets=_SECONDS + (10, 30), registry=registry).labels(sink)


class DeliveryMetrics:
    """`wirewatch deliver`: route decisions and destination outcomes (route and destination names come
    from the operator's routes file: a bounded set)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.decisions = Counter("wirewatch_delivery_decisions_total", "Route decisions on alert versions, by "
                                 "outcome", ["route", "outcome"], registry=registry)
        self.messages = Counter("wirewatch_delivery_messages_total", "Messages to destinations, by outcome",
                                ["route", "destination", "outcome"], registry=registry)
        self.held = Gauge("wirewatch_delivery_held_alerts", "Alert versions held for an interval, quiet hours "
                          "or a digest", registry=registry)
        self.reloads = Counter("wirewatch_delivery_route_reloads_total", "Routes file reloads at run time, by "
                               "outcome (a failed reload keeps the routes in force)", ["outcome"], registry=registry)
        for outcome in ("ok", "failed"):
            self.reloads.labels(outcome)

    def start(self, routes: Iterable[Any]) -> None:
        """Series of every route and destination at zero, so rates see the first message."""
        for route in routes:
            for outcome in DELIVERY_DECISIONS:
                self.decisions.labels(route.name, outcome)
            for destination in route.to:
                for outcome in DELIVERY_OUTCOMES:
                    self.messages.labels(route.name, destination, outcome)


def setup_faust_sensors(app: Any, registry: CollectorRegistry) -> None:
    """Faust's own sensors as `wirewatch_faust_*`: consumer end and committed offsets give the lag.

    The same metric families as faust.sensors.prometheus.setup_prometheus_sensors, with a monitor
    whose per-record hooks are cheap (see `lean_faust_monitor`)."""
    from faust.sensors.prometheus import FaustMetrics

    app.monitor = lean_faust_monitor(FaustMetrics.create(registry, "wirewatch_faust"))


def lean_faust_monitor(faust_metrics: Any) -> Any:
    """Faust's PrometheusMonitor with per-record hooks cut down to counters with bound children.

    Faust calls the monitor for every record several times (message in, event in and out, message
    out, each send and its completion, each table read and write); its stock hooks look label
    children up, time each event and send, and keep in-memory statistics: together about a tenth of
    the worker's CPU. Kept: every counter (messages and events in, per topic and stream; messages
    sent, per topic; table operations), the read, committed and end offsets (lag), rebalances, commit
    latency, and the per-partition time of the last event that Faust's stall detector reads.
    Dropped: the active-message and active-event gauges, the per-event runtime and per-send latency
    histograms (wirewatch_stage_duration_seconds times each stage)."""
    from time import monotonic

    from faust.sensors.prometheus import PrometheusMonitor

    class LeanFaustMonitor(PrometheusMonitor):
        def __init__(self, metrics: Any, **kwargs: Any) -> None:
            super().__init__(metrics=metrics, **kwargs)
            self._bound: dict[Any, Any] = {}

        def _child(self, key: Any, metric: Any, **labels: Any) -> Any:
            child = self._bound.get(key)
            if child is None:
                child = self._bound[key] = metric.labels(**labels)
            return child

        def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
            self.messages_received_total += 1
            self.tp_read_offsets[tp] = offset
            self._metrics.messages_received.inc()
            self._child(("in", tp.topic), self._metrics.messages_received_per_topics, topic=tp.topic).inc()
            self._child(("read", tp), self._metrics.messages_received_per_topics_partition,
                        topic=tp.topic, partition=tp.partition).set(offset)

        def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
            self.events_total += 1
            self.stream_inbound_time[tp] = monotonic()  # read by Faust's "stream is stuck" check
            self._metrics.total_events.inc()
            child = self._bound.get(stream)
            if child is None:
                child = self._bound[stream] = self._metrics.total_events_per_stream.labels(
                    stream=f"stream.{self._stream_label(stream)}.events")
            child.inc()
            return None

        def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None) -> None:
            pass

        def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
            pass

        def _table_op(self, table: Any, operation: str) -> None:
            self._child((table.name, operation), self._metrics.table_operations,
                        table=f"table.{table.name}", operation=operation).inc()

        def on_table_get(self, table: Any, key: Any) -> None:
            self._table_op(table, self.KEYS_RETRIEVED)

        def on_table_set(self, table: Any, key: Any, value: Any) -> None:
            self._table_op(table, self.KEYS_UPDATED)

        def on_table_del(self, table: Any, key: Any) -> None:
            self._table_op(table, self.KEYS_DELETED)

        def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int, valsize: int) -> None:
            self.messages_sent += 1
            self._child(("sent", topic), self._metrics.topic_messages_sent, topic=f"topic.{topic}").inc()
            return None

        def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
            self._metrics.total_sent_messages.inc()

        def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
            self.send_errors += 1
            self._metrics.total_error_messages_sent.inc()

        def track_tp_end_offset(self, tp: Any, offset: int) -> None:  # (per fetch and partition)
            self.tp_end_offsets[tp] = offset
            self._child(("end", tp), self._metrics.topic_partition_end_offset,
                        topic=tp.topic, partition=tp.partition).set(offset)

        def _clear_partition_related_metrics(self) -> None:
            super()._clear_partition_related_metrics()
            self._bound.clear()  # the metrics dropped their children: bind new ones

    return LeanFaustMonitor(metrics=faust_metrics)
