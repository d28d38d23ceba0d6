"""StreamMetrics on a fresh registry: names, zero-initialised series, index gauges, Faust sensors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from connectors.settings import Settings
from streams.dedupe import DedupeIndex
from streams.metrics import STAGES, SinkMetrics, StreamMetrics
from streams.pipeline import dedupe_stage, normalize_stage


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_known_series_exist_at_zero_before_any_record() -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    metrics.start("wirewatch", ["news.articles"], ["armed_attack"])
    for stage in STAGES:
        assert value(registry, "wirewatch_articles_processed_total", stage=stage) == 0
    assert value(registry, "wirewatch_alerts_total", severity="critical", reason="new") == 0
    assert value(registry, "wirewatch_dlq_records_total", topic="news.articles") == 0
    assert value(registry, "wirewatch_alert_categories_total", category="armed_attack") == 0
    assert value(registry, "wirewatch_worker_info", app_id="wirewatch", version=_version(registry)) == 1


def _version(registry: CollectorRegistry) -> str:
    sample = next(s for m in registry.collect() if m.name == "wirewatch_worker_info" for s in m.samples)
    return sample.labels["version"]


def test_record_counts_times_and_stamps_a_stage() -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    metrics.record("dedupe", 0.02)
    metrics.record("dedupe", 0.2)
    assert value(registry, "wirewatch_articles_processed_total", stage="dedupe") == 2
    assert value(registry, "wirewatch_stage_duration_seconds_count", stage="dedupe") == 2
    assert value(registry, "wirewatch_stage_duration_seconds_bucket", stage="dedupe", le="0.025") == 1
    assert value(registry, "wirewatch_stage_last_processed_timestamp_seconds", stage="dedupe") > 1.6e9


def _article(n: int, published: str) -> dict[str, object]:
    return {"id": f"a{n}", "url": f"https://x.example/{n}", "title": f"Unrelated story number {n} about trains",
            "published_at": published, "source": "x.example", "feed": "f", "language": "en",
            "content": f"Article {n} on timetable changes for the regional rail network in spring {n}."}


def test_index_gauges_report_size_and_span_per_partition_and_clear_on_rebalance() -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    index = DedupeIndex()
    for n, published in enumerate(("2024-05-01T10:00:00Z", "2024-05-01T11:30:00Z", "2024-05-01T12:00:00Z")):
        dedupe_stage(normalize_stage(_article(n, published)), index)
    metrics.observe_indexes({3: index})
    assert value(registry, "wirewatch_dedupe_index_articles", partition="3") == 3
    assert value(registry, "wirewatch_dedupe_window_age_seconds", partition="3") == 2 * 3600
    metrics.forget_partitions()
    assert value(registry, "wirewatch_dedupe_index_articles", partition="3") is None


def test_worker_app_exports_faust_consumer_offsets_under_the_wirewatch_prefix(tmp_path) -> None:
    from streams.worker.app import create_app

    registry = CollectorRegistry()
    create_app(Settings(bootstrap_servers="127.0.0.1:1", data_dir=str(tmp_path)), metrics=StreamMetrics(registry))
    text = generate_latest(registry).decode()
    assert "wirewatch_faust_topic_partition_end_offset" in text
    assert "wirewatch_faust_topic_partition_offset_commited" in text
    assert 'wirewatch_dlq_records_total{topic="news.stories"} 0.0' in text


def test_sink_outcomes_start_at_zero() -> None:
    registry = CollectorRegistry()
    metrics = SinkMetrics("webhook", registry)
    metrics.outcome["delivered"].inc()
    assert value(registry, "wirewatch_sink_deliveries_total", sink="webhook", outcome="delivered") == 1
    assert value(registry, "wirewatch_sink_deliveries_total", sink="webhook", outcome="dead_lettered") == 0


def test_no_metric_label_can_carry_a_url_or_title() -> None:
    registry = CollectorRegistry()
    StreamMetrics(registry)
    SinkMetrics("webhook", registry)
    allowed = {"stage", "topic", "partition", "language", "severity", "reason", "category", "app_id", "version",
               "sink", "outcome", "flag", "le"}
    for family in registry.collect():
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (family.name, sample.labels)
