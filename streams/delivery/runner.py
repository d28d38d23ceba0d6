"""`wirewatch deliver --routes FILE`: news.alerts -> routes -> destinations, at least once.

The Kafka side of delivery. It reads news.alerts in a consumer group; the mute/ack topic and the
delivery log from their beginning at start (then the mute/ack topic as it grows). Each alert version
goes through the Router (streams/delivery/router.py); messages go out through Apprise channels with
retries; what a destination refused after the retries goes to the DLQ with the error in its headers.

Offsets: an alert is committed once every route settled it (delivered, dead-lettered, muted, or not
matched). An alert that a route holds (interval, quiet hours, digest) keeps its partition's commit
at its offset, so a restart reads it again; the delivery log (last version delivered per route and
alert) drops what was already delivered.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Hashable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.errors import ConfigError
from connectors.settings import Settings
from streams.delivery.channels import Channel
from streams.delivery.router import Outgoing, Router
from streams.delivery.routes import Routes, describe, load_routes
from streams.delivery.state import HoldView
from streams.delivery.topics import (
    DeliveryTopics,
    assigned_consumer,
    catch_up,
    ensure_topic,
    read_compacted,
)
from streams.metrics import DeliveryMetrics
from streams.shell.sinks import DeliveryError, Interrupted, RetryPolicy

log = logging.getLogger("wirewatch.deliver")


class RoutesFile:
    """The routes in force and their file: reloaded when it changes; a broken file keeps the old routes."""

    def __init__(self, path: Path, metrics: DeliveryMetrics) -> None:
        self.path, self.metrics = path, metrics
        self.routes = load_routes(path)             # at start a bad file is an error (exit 2)
        self.stamp = self._stamp()

    def _stamp(self) -> tuple[float, int]:
        try:
            stat = self.path.stat()
        except OSError:
            return (0.0, -1)
        return (stat.st_mtime, stat.st_size)

    def reload(self) -> Routes | None:
        """New routes when the file changed and loads; None otherwise (a failure is logged and counted)."""
        stamp = self._stamp()
        if stamp == self.stamp:
            return None
        self.stamp = stamp
        try:
            routes = load_routes(self.path)
        except ConfigError as exc:
            log.error("routes file not reloaded, the routes in force stay: %s", exc)
            self.metrics.reloads.labels("failed").inc()
            return None
        self.metrics.reloads.labels("ok").inc()
        log.info("routes reloaded: %s", "; ".join(describe(routes)))
        self.routes = routes
        return routes


class Deliverer:
    """Sends a router's messages through channels and settles them (delivered or dead-lettered)."""

    def __init__(self, channels: dict[str, Channel], metrics: DeliveryMetrics,
                 dead_letter: Any, log_delivery: Any) -> None:
        self.channels, self.metrics = channels, metrics
        self.dead_letter, self.log_delivery = dead_letter, log_delivery

    def send(self, router: Router, outgoing: Outgoing, now: datetime) -> None:
        """Raises Interrupted on shutdown during a backoff (nothing is settled then)."""
        if not outgoing.alerts:
            return  # held alerts that were muted meanwhile: settled without a message
        route = outgoing.route.name
        for name in outgoing.route.to:
            channel = self.channels[name]
            try:
                channel.send(outgoing.message, on_retry=self._retried(route))
            except DeliveryError as exc:
                log.error("route %s: %s gave up, to the DLQ: %s", route, name, exc)
                self.metrics.messages.labels(route, name, "dead_lettered").inc()
                self.dead_letter(outgoing, name, str(exc))
                continue
            self.metrics.messages.labels(route, name, "delivered").inc()
        for key, value in router.delivered(outgoing, now):
            self.log_delivery(key, value)


    def _retried(self, route: str) -> Any:
        return lambda destination: self.metrics.messages.labels(route, destination, "retried").inc()


def build_channels(routes: Routes, retry: RetryPolicy, wait: Any) -> dict[str, Channel]:
    return {name: Channel(dest, retry, wait) for name, dest in routes.destinations.items()}


def run_delivery(settings: Settings, routes_path: Path, *, group_id: str | None = None,
                 dlq_topic: str | None = None, retry: RetryPolicy | None = None, reload_s: float = 10.0,
                 stop: threading.Event | None = None) -> int:
    from kafka import KafkaConsumer, KafkaProducer

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    metrics = DeliveryMetrics()
    routes_file = RoutesFile(routes_path, metrics)
    metrics.start(routes_file.routes.routes)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=os.environ.get("WIREWATCH_METRICS_ADDR", "127.0.0.1"),
                          registry=metrics.registry)
    topics = DeliveryTopics.from_env()
    group = group_id or f"{settings.app_id}-deliver"
    dlq = dlq_topic or f"{settings.topics.alerts}.deliver.dlq"
    ensure_topic(settings, topics.state, compact=True)
    ensure_topic(settings, topics.log, compact=True)
    ensure_topic(settings, dlq, compact=False)
    wait = lambda s: not stop.wait(s)  # noqa: E731 - an interruptible sleep for the retries
    retry = retry or RetryPolicy()
    channels = build_channels(routes_file.routes, retry, wait)

    holds = HoldView()
    router = Router(routes_file.routes, holds)
    state = assigned_consumer(settings, topics.state)      # kept: followed for new mutes and acks
    catch_up(state, holds.apply, 60)
    prefix = f"{group}|"
    read_compacted(settings, topics.log, lambda k, v: router.restore(k[len(prefix):], v)
                   if v is not None and k.startswith(prefix) else None)
    log.info("delivering alerts by %d routes: %s", len(routes_file.routes.routes),
                "; ".join(describe(routes_file.routes)))

    producer = KafkaProducer(client_id=f"{settings.client_id}-deliver", acks="all", **settings.kafka_options())

    def dead_letter(outgoing: Outgoing, destination: str, error: str) -> None:
        body = json.dumps(outgoing.alerts if len(outgoing.alerts) > 1 else outgoing.alerts[0],
                          ensure_ascii=False).encode("utf-8")
        key = str(outgoing.alerts[0].get("story_id") or outgoing.alerts[0].get("alert_id")).encode("utf-8")
        producer.send(dlq, key=key, value=body, headers=[
            ("error", error.encode("utf-8")[:2000]), ("route", outgoing.route.name.encode()),
            ("destination", destination.encode()), ("source.topic", settings.topics.alerts.encode())]).get(30)

    def log_delivery(key: str, value: dict[str, Any]) -> None:
        producer.send(topics.log, key=f"{prefix}{key}".encode(), value=json.dumps(value).encode("utf-8"))

    deliverer = Deliverer(channels, metrics, dead_letter, log_delivery)
    consumer = KafkaConsumer(settings.topics.alerts, group_id=group, enable_auto_commit=False,
                             auto_offset_reset="earliest", max_poll_records=100, max_poll_interval_ms=900_000,
                             client_id=f"{settings.client_id}-deliver", **settings.kafka_options())
    # Mutes and acks are read up to the end of their topic after each poll of alerts and before those
    # alerts are handled: a mute that Kafka acknowledged applies to every alert published after it.
    loop = _Loop(router, deliverer, metrics, consumer, producer, lambda: catch_up(state, holds.apply, 30))
    next_reload = time.monotonic() + reload_s
    try:
        while not stop.is_set():
            if reload_s and time.monotonic() >= next_reload:
                next_reload = time.monotonic() + reload_s
                reloaded = routes_file.reload()
                if reloaded is not None:
                    router.replace_routes(reloaded)
                    deliverer.channels = build_channels(reloaded, retry, wait)
                    metrics.start(reloaded.routes)
            if not loop.step(stop):
                break
    finally:
        consumer.close()
        state.close()
        producer.flush(30)
        producer.close()
    return 0


class _Loop:
    """One poll of news.alerts, the messages that came due, and the commit."""

    def __init__(self, router: Router, deliverer: Deliverer, metrics: DeliveryMetrics, consumer: Any,
                 producer: Any, refresh_holds: Any) -> None:
        self.router, self.deliverer, self.metrics = router, deliverer, metrics
        self.refresh_holds = refresh_holds
        self.consumer, self.producer = consumer, producer
        self.next_offset: dict[Any, int] = {}
        self.committed: dict[Any, int] = {}
        self.unsettled: list[Hashable] = []

    def step(self, stop: threading.Event) -> bool:
        """False when shutdown interrupted a delivery."""
        due = self.router.next_due()
        wait_ms = 500 if due is None else int(max(0.0, min(0.5, (due - datetime.now(UTC)).total_seconds())) * 1000)
        try:
            polled = self.consumer.poll(timeout_ms=wait_ms)
            self.refresh_holds()
            for tp, messages in polled.items():
                for message in messages:
                    if stop.is_set():
                        return False
                    self._handle(tp, message)
                    self.next_offset[tp] = message.offset + 1
            for outgoing in self.router.due(datetime.now(UTC)):
                self._send(outgoing)
        except Interrupted:
            return False
        finally:
            self._commit()
        return True

    def _handle(self, tp: Any, message: Any) -> None:
        try:
            alert = json.loads(message.value)
            if not isinstance(alert, dict) or "alert_id" not in alert:
                raise ValueError("not an alert")
        except ValueError as exc:
            log.warning("skipped an unreadable alert at %s:%s: %s", tp.partition, message.offset, exc)
            return
        outgoing, outcomes = self.router.route(alert, datetime.now(UTC), token=(tp, message.offset))
        for outcome in outcomes:
            route, _, decision = outcome.rpartition(":")
            self.metrics.decisions.labels(route, decision).inc()
        for item in outgoing:
            self._send(item)

    def _send(self, outgoing: Outgoing) -> None:
        try:
            self.deliverer.send(self.router, outgoing, datetime.now(UTC))
        except Interrupted:
            self.unsettled.extend(outgoing.tokens)
            raise

    def _commit(self) -> None:
        from kafka.structs import OffsetAndMetadata

        held = self.router.held_tokens() + self.unsettled
        self.metrics.held.set(len(held))
        lowest: dict[Any, int] = {}
        for token in held:
            if isinstance(token, tuple):
                tp, offset = token
                lowest[tp] = min(offset, lowest.get(tp, offset))
        wanted = {tp: min(end, lowest.get(tp, end)) for tp, end in self.next_offset.items()}
        offsets = {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in wanted.items()
                   if self.committed.get(tp) != offset}
        if offsets:
            self.producer.flush(30)          # the delivery log first: a commit means "logged as delivered"
            self.consumer.commit(offsets)
            self.committed.update(wanted)
