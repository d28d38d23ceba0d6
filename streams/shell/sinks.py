"""Alert sinks: forward alert versions from news.alerts to somewhere people look.

`wirewatch sink webhook --url URL [--min-severity S] [--format json|slack]` POSTs every alert version
at or above a severity to an HTTP endpoint:

- json: the alert itself (streams/schemas/alert.schema.json) as the body;
- slack: a Slack incoming-webhook body (`text` + `blocks`).

Delivery is at-least-once and idempotent by (alert_id, version): the sink reads with a consumer group
and commits after each alert is settled (delivered, filtered, duplicate or dead-lettered), so a
restart resumes where it stopped; a version it already delivered is skipped, and every request
carries `Idempotency-Key: <alert_id>:<version>` so the endpoint can drop the one duplicate a crash
between delivery and commit can cause. Connection errors, timeouts, 408, 429 and 5xx are retried
with exponential backoff (honouring Retry-After); other 4xx and exhausted retries send the record
to the dead-letter topic `<alerts topic>.<sink>.dlq` with the error in its headers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.errors import ConfigError
from connectors.settings import Settings
from streams.escalation import SEVERITIES
from streams.metrics import SinkMetrics

log = logging.getLogger(__name__)

RANK = {name: i for i, name in enumerate(SEVERITIES)}
SLACK_COLOURS = {"none": "#9e9e9e", "low": "#2196f3", "medium": "#ffb300", "high": "#e53935",
                 "critical": "#8e0000"}
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6            # including the first
    base_s: float = 0.5          # first backoff; doubles each attempt, with full jitter
    max_s: float = 30.0          # cap of one backoff (and of a Retry-After we honour)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_s, max(0.0, retry_after))
        return random.uniform(0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))


class Interrupted(Exception):
    """Shutdown while waiting to retry: the record stays uncommitted and the next run delivers it."""


class DeliveryError(Exception):
    """An alert could not be delivered (after the retries, or not retryable at all)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def json_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    return dict(alert)


def slack_body(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook message: a plain-text fallback and blocks with a link to the article."""
    severity = str(alert.get("severity", "none"))
    title = _slack_escape(" ".join(str(alert.get("title", "")).split()))
    url = str(alert.get("url", ""))
    headline = f"<{url}|{title}>" if url.startswith(("http://", "https://")) else title
    casualties = f" · {alert['casualties']} casualties" if alert.get("casualties") else ""
    categories = ", ".join(alert.get("categories") or []) or "uncategorised"
    sources = [str(s) for s in alert.get("sources") or []]
    places = _slack_escape(", ".join(str(p) for p in (alert.get("places") or [])[:3]))
    languages = [str(lang) for lang in alert.get("languages") or []]
    merged = f" · merged into {_slack_escape(str(alert['merged_into']))}" if alert.get("merged_into") else ""
    context = (f"{severity.upper()} · v{alert.get('version')} {alert.get('reason', '')} · {categories}{casualties}"
               f"{' · ' + places if places else ''}"
               f" · {len(sources)} sources ({_slack_escape(', '.join(sources[:5]))}), {alert.get('copies', 0)} copies"
               f"{' · ' + _slack_escape('/'.join(languages)) if len(languages) > 1 else ''}"
               f" · {alert.get('alert_id', '')}{merged}")
    return {
        "text": f"[{severity.upper()}] {' '.join(str(alert.get('title', '')).split())}",
        "attachments": [{"color": SLACK_COLOURS.get(severity, "#9e9e9e"), "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{severity.upper()}* {headline}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ]}],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FORMATS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {"json": json_body, "slack": slack_body}


class Webhook:
    """Posts one alert with retries. Knows nothing about Kafka; `wait` is interruptible on shutdown."""

    def __init__(self, url: str, fmt: str = "json", *, client: httpx.Client | None = None,
                 retry: RetryPolicy | None = None, timeout_s: float = 10.0,
                 wait: Callable[[float], bool] | None = None, metrics: SinkMetrics | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"must be an http(s) URL, got {url!r}", key="--url")
        if fmt not in FORMATS:
            raise ConfigError(f"must be one of {', '.join(FORMATS)}, got {fmt!r}", key="--format")
        self.url, self.body = url, FORMATS[fmt]
        self.client = client or httpx.Client(timeout=timeout_s, follow_redirects=False)
        self.retry = retry or RetryPolicy()
        self.wait = wait or (lambda seconds: not threading.Event().wait(seconds))
        self.metrics = metrics

    def post(self, alert: Mapping[str, Any]) -> int:
        """Deliver `alert`; return the number of attempts. Raises DeliveryError when it gives up."""
        body = json.dumps(self.body(alert), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "wirewatch-sink/1",
                   "Idempotency-Key": f"{alert.get('alert_id')}:{alert.get('version')}"}
        for attempt in range(1, self.retry.attempts + 1):
            started = time.perf_counter()
            retry_after: float | None = None
            try:
                response = self.client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error, status = f"{type(exc).__name__}: {exc}", None
            else:
                if response.is_success:
                    self._observe(started)
                    return attempt
                error, status = f"HTTP {response.status_code}: {response.text[:200]}", response.status_code
                if status not in RETRYABLE_STATUS:
                    self._observe(started)
                    raise DeliveryError(f"not retryable: {error}", status)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            self._observe(started)
            if attempt == self.retry.attempts:
                raise DeliveryError(f"gave up after {attempt} attempts: {error}", status)
            delay = self.retry.delay(attempt, retry_after)
            log.warning("webhook attempt %d failed (%s); retrying in %.1fs", attempt, error, delay)
            if self.metrics is not None:
                self.metrics.outcome["retried"].inc()
            if not self.wait(delay):
                raise Interrupted(error)
        raise AssertionError("unreachable")

    def _observe(self, started: float) -> None:
        if self.metrics is not None:
            self.metrics.seconds.observe(time.perf_counter() - started)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None


class Delivered:
    """Highest delivered version per alert id, bounded (least recently updated alerts forgotten first)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self.versions: OrderedDict[str, int] = OrderedDict()

    def seen(self, alert_id: str, version: int) -> bool:
        return self.versions.get(alert_id, 0) >= version

    def add(self, alert_id: str, version: int) -> None:
        self.versions[alert_id] = max(version, self.versions.get(alert_id, 0))
        self.versions.move_to_end(alert_id)
        while len(self.versions) > self.capacity:
            self.versions.popitem(last=False)


class AlertForwarder:
    """The sink's decision per record, without Kafka: filter, drop duplicates, deliver or dead-letter."""

    def __init__(self, webhook: Webhook, min_severity: str, metrics: SinkMetrics,
                 dead_letter: Callable[[bytes | None, bytes, str], None]) -> None:
        if min_severity not in RANK:
            raise ConfigError(f"must be one of {', '.join(RANK)}, got {min_severity!r}", key="--min-severity")
        self.webhook, self.min_rank, self.metrics = webhook, RANK[min_severity], metrics
        self.dead_letter = dead_letter
        self.delivered = Delivered()

    def handle(self, key: bytes | None, value: bytes) -> str:
        """Settle one record; return the outcome (one of streams.metrics.SINK_OUTCOMES but `retried`)."""
        try:
            alert = json.loads(value)
            alert_id, version = str(alert["alert_id"]), int(alert["version"])
            severity = RANK[alert["severity"]]
        except (ValueError, KeyError, TypeError) as exc:
            return self._dead(key, value, f"unreadable alert: {type(exc).__name__}: {exc}")
        if severity < self.min_rank:
            return self._count("filtered")
        if self.delivered.seen(alert_id, version):
            return self._count("duplicate")
        try:
            self.webhook.post(alert)
        except DeliveryError as exc:
            return self._dead(key, value, str(exc))
        self.delivered.add(alert_id, version)
        return self._count("delivered")

    def _dead(self, key: bytes | None, value: bytes, error: str) -> str:
        log.error("alert to the sink DLQ: %s", error)
        self.dead_letter(key, value, error)
        return self._count("dead_lettered")

    def _count(self, outcome: str) -> str:
        self.metrics.outcome[outcome].inc()
        return outcome


def run_webhook_sink(settings: Settings, url: str, *, min_severity: str = "high", fmt: str = "json",
                     group_id: str | None = None, dlq_topic: str | None = None,
                     retry: RetryPolicy | None = None, replication: int = 1,
                     stop: threading.Event | None = None) -> int:
    """`wirewatch sink webhook`: consume news.alerts in a consumer group until SIGTERM/SIGINT."""
    import signal

    from kafka import KafkaConsumer, KafkaProducer

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    metrics = SinkMetrics("webhook")
    if settings.metrics_port:
        import os

        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"),
                          registry=metrics.registry)
    dlq = dlq_topic or f"{settings.topics.alerts}.webhook.dlq"
    _ensure_topic(settings, dlq, replication)
    webhook = Webhook(url, fmt, retry=retry, metrics=metrics, wait=lambda s: not stop.wait(s))
    producer = KafkaProducer(client_id=f"{settings.client_id}-sink", **settings.kafka_options())

    def dead_letter(key: bytes | None, value: bytes, error: str) -> None:
        producer.send(dlq, key=key, value=value, headers=[("error", error.encode()[:2000]),
                                                          ("source.topic", settings.topics.alerts.encode())]).get(30)

    forwarder = AlertForwarder(webhook, min_severity, metrics, dead_letter)
    consumer = KafkaConsumer(settings.topics.alerts, group_id=group_id or f"{settings.app_id}-sink-webhook",
                             enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=50,
                             max_poll_interval_ms=900_000, client_id=f"{settings.client_id}-sink",
                             **settings.kafka_options())
    try:
        while not stop.is_set():
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    if stop.is_set():
                        break
                    try:
                        forwarder.handle(message.key, message.value)
                    except Interrupted:
                        break  # uncommitted: the next run delivers it
                    _commit(consumer, tp, message.offset + 1)
    finally:
        consumer.close()
        producer.flush(30)
        producer.close()
    return 0


def _commit(consumer: Any, tp: Any, offset: int) -> None:
    from kafka.structs import OffsetAndMetadata

    consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})


def _ensure_topic(settings: Settings, topic: str, replication: int) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(client_id=f"{settings.client_id}-sink-admin", **settings.kafka_options())
    try:
        if topic not in admin.list_topics():
            with contextlib.suppress(TopicAlreadyExistsError):  # another sink created it meanwhile
                admin.create_topics([NewTopic(topic, 1, replication,
                                              topic_configs={"retention.ms": str(7 * 86400_000)})])
    finally:
        admin.close()
