"""Every wirewatch metric of the stream workers, created once against an injectable registry.

Labels never carry URLs or titles: stage, topic, severity, category and language are bounded sets.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class StreamMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.processed = Counter("wirewatch_articles_processed_total", "Articles processed, by stage",
                                 ["stage"], registry=registry)
        self.failed = Counter("wirewatch_records_failed_total", "Records sent to a DLQ, by source topic",
                              ["topic"], registry=registry)
        self.copies = Counter("wirewatch_copies_collapsed_total", "Articles recognised as copies of a "
                              "known article", ["language"], registry=registry)
        self.stories = Counter("wirewatch_stories_total", "New stories opened", ["language"],
                               registry=registry)
        self.alerts = Counter("wirewatch_alerts_total", "Alert versions published, by severity and reason",
                              ["severity", "reason"], registry=registry)
        self.alert_categories = Counter("wirewatch_alert_categories_total", "Categories on published "
                                        "alert versions", ["category"], registry=registry)
        self.latency = Histogram("wirewatch_alert_latency_seconds", "From article fetch to alert publish",
                                 buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300), registry=registry)
        self.index_size = Gauge("wirewatch_dedupe_index_articles", "Articles in the dedupe windows of "
                                "this worker", registry=registry)
