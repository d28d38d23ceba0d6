"""Every metric of the connector runner, created once against an injectable registry.

Labels carry a feed id, an outcome or a health name, never a URL or a title.

    wirewatch_feed_fetches_total{feed,outcome}              ok | not_modified | unchanged | <error kind>
    wirewatch_feed_fetch_duration_seconds                   one fetch, redirects and body included
    wirewatch_feed_bytes_total                              body bytes received
    wirewatch_feed_items_published_total{feed}              new articles published
    wirewatch_feed_not_modified_total{feed}                 304s and unchanged bodies
    wirewatch_feeds{health}                                 feeds per health: new ok quiet failing disabled
    wirewatch_feed_last_success_timestamp_seconds{feed}     wall clock of the last successful poll
    wirewatch_feed_consecutive_failures{feed}
    wirewatch_connector_buffered_messages                   sent to Kafka, not acknowledged yet
    wirewatch_connector_publish_errors_total                Kafka sends that failed (the poll is retried)
    wirewatch_connector_dlq_records_total                   articles that failed the contract -> DLQ
    wirewatch_connector_healthy                             1 when Kafka accepts our writes
    wirewatch_connector_feed_reloads_total{outcome}         feed list reloads: ok | failed (the list in force stays)
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from connectors.schedule import HEALTHS

_FETCH_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = REGISTRY if registry is None else registry
        self.registry = r
        self.fetches = Counter("wirewatch_feed_fetches_total", "Feed fetches by outcome", ["feed", "outcome"],
                               registry=r)
        self.fetch_seconds = Histogram("wirewatch_feed_fetch_duration_seconds", "Duration of one feed fetch",
                                       buckets=_FETCH_SECONDS, registry=r)
        self.bytes = Counter("wirewatch_feed_bytes_total", "Feed body bytes received", registry=r)
        self.published = Counter("wirewatch_feed_items_published_total", "New articles published", ["feed"],
                                 registry=r)
        self.not_modified = Counter("wirewatch_feed_not_modified_total", "Polls that found nothing new "
                                    "(304 or unchanged body)", ["feed"], registry=r)
        self.feeds = Gauge("wirewatch_feeds", "Feeds per health", ["health"], registry=r)
        for health in HEALTHS:
            self.feeds.labels(health)
        self.last_success = Gauge("wirewatch_feed_last_success_timestamp_seconds",
                                  "Wall clock of the last successful poll", ["feed"], registry=r)
        self.failures = Gauge("wirewatch_feed_consecutive_failures", "Consecutive failed polls", ["feed"],
                              registry=r)
        self.buffered = Gauge("wirewatch_connector_buffered_messages", "Messages sent to Kafka and not yet "
                              "acknowledged", registry=r)
        self.publish_errors = Counter("wirewatch_connector_publish_errors_total", "Kafka sends that failed",
                                      registry=r)
        self.dlq = Counter("wirewatch_connector_dlq_records_total", "Articles that failed the contract",
                           registry=r)
        self.healthy = Gauge("wirewatch_connector_healthy", "1 when Kafka acknowledges our writes", registry=r)
        self.healthy.set(1)
        self.feed_reloads = Counter("wirewatch_connector_feed_reloads_total", "Feed list reloads at run time, "
                                    "by outcome (a failed reload keeps the feeds in force)", ["outcome"], registry=r)
        for outcome in ("ok", "failed"):
            self.feed_reloads.labels(outcome)

    def health_changed(self, old: str | None, new: str) -> None:
        if old is not None:
            self.feeds.labels(old).dec()
        self.feeds.labels(new).inc()
