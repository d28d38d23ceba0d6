"""The connector runner: the only Kafka code on the ingestion side.

Per poll: `poll_feed` (no Kafka) finds the new articles; they are validated against the Article
contract and sent (key = article id; failures of the contract go to `news.articles.dlq`); only once
Kafka acknowledged all of them is the feed's new state (validators, seen ids, backoff, health)
written to the compacted `wirewatch.feed-state` topic. A restart reads that topic back, so it
republishes nothing acknowledged before and, because state never runs ahead of the articles, loses
nothing. (A crash between the two writes republishes that one poll: at-least-once, same keys.)

Broker unreachable: sends wait in kafka-python's buffer up to `delivery_timeout`; at most
`max_buffered` messages are unacknowledged before polls wait (backpressure, not loss); a failed send
leaves the feed's state where it was, so the next poll publishes the same articles again. The
runner reports itself unhealthy (metric + log) meanwhile. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from connectors import article as contract
from connectors.base import Connector, FeedConfig, Fetched
from connectors.errors import InvalidRecord, WirewatchError
from connectors.fetcher import AddressPolicy, AllowAll, Fetcher, FetchLimits, PrivateAddressGuard
from connectors.metrics import ConnectorMetrics
from connectors.poll import parse_elsewhere, parse_here, poll_feed
from connectors.registry import connector_for
from connectors.schedule import Policy, advance
from connectors.scheduler import Scheduler
from connectors.settings import ConnectorSettings, Settings
from connectors.state import FeedState

log = logging.getLogger(__name__)


class PublishError(WirewatchError):
    """Kafka did not acknowledge a write; the poll's state is not advanced."""


def make_producer(settings: Settings, **overrides: Any) -> Any:
    from kafka import KafkaProducer

    options = {"acks": "all", "enable_idempotence": True, "compression_type": "gzip", "linger_ms": 20,
               "max_block_ms": 30_000, "delivery_timeout_ms": 120_000, "request_timeout_ms": 30_000,
               "client_id": f"{settings.client_id}-connector", **overrides}
    return KafkaProducer(**options, **settings.kafka_options())


def policy_from(cfg: ConnectorSettings) -> Policy:
    return Policy(default_interval=cfg.default_interval_s, min_interval=cfg.min_interval_s,
                  max_interval=cfg.max_interval_s, backoff_base=cfg.backoff_base_s, backoff_cap=cfg.backoff_cap_s)


def fetcher_from(cfg: ConnectorSettings) -> Fetcher:
    limits = FetchLimits(timeout_s=cfg.timeout_s, max_body_bytes=cfg.max_body_bytes,
                         host_concurrency=cfg.host_concurrency, host_spacing_s=cfg.host_spacing_s,
                         max_connections=max(10, min(cfg.concurrency, 1000)))
    policy: AddressPolicy = PrivateAddressGuard(cfg.allow_hosts) if cfg.fetch_guard else AllowAll()
    return Fetcher(limits, policy)


@dataclass(frozen=True)
class Record:
    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class Publisher:
    """kafka-python's producer behind an asyncio face: bounded in-flight messages, awaited acks."""

    def __init__(self, producer: Any, settings: Settings, metrics: ConnectorMetrics) -> None:
        self.producer, self.topics, self.metrics = producer, settings.topics, metrics
        self.max_buffered = settings.connector.max_buffered
        self.failed = 0
        self._in_flight = 0
        self._room = asyncio.Condition()
        # One sender thread: send() may block on metadata or a full buffer, never the event loop.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kafka-send")

    async def articles(self, feed_id: str, articles: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Validate and send; returns (published, dead-lettered) once Kafka acknowledged all of them."""
        records, dead = [], 0
        for item in articles:
            try:
                contract.validate(item)
                records.append(Record(self.topics.articles, item["id"], contract.encode(item)))
            except (InvalidRecord, TypeError, ValueError) as exc:
                log.warning("feed %s: article %s breaks the contract, sent to the DLQ: %s", feed_id,
                            item.get("id"), exc)
                records.append(Record(f"{self.topics.articles}.dlq", str(item.get("id") or ""), _raw(item),
                                      (("error", str(exc).encode()), ("feed", feed_id.encode()))))
                dead += 1
        await self.send(records)
        self.metrics.dlq.inc(dead)
        return len(records) - dead, dead

    async def state(self, state: FeedState) -> None:
        await self.send([Record(self.topics.feed_state, state.feed, state.to_json())])

    async def health(self, event: Mapping[str, Any]) -> None:
        import json

        await self.send([Record(self.topics.feed_health, str(event["feed"]), json.dumps(event).encode())])

    async def send(self, records: Sequence[Record]) -> None:
        if not records:
            return
        async with self._room:
            await self._room.wait_for(lambda: self._in_flight == 0 or
                                      self._in_flight + len(records) <= self.max_buffered)
            self._in_flight += len(records)
        self.metrics.buffered.set(self._in_flight)
        loop = asyncio.get_running_loop()
        try:
            futures = await loop.run_in_executor(self._executor, self._send_all, records)
            await asyncio.gather(*(_bridge(loop, f) for f in futures))
        except Exception as exc:
            self.failed += 1
            self.metrics.publish_errors.inc()
            self.metrics.healthy.set(0)
            log.error("Kafka did not acknowledge %d messages (%s: %s); will retry on the next poll",
                      len(records), type(exc).__name__, exc)
            raise PublishError(str(exc)) from exc
        else:
            self.metrics.healthy.set(1)
        finally:
            async with self._room:
                self._in_flight -= len(records)
                self._room.notify_all()
            self.metrics.buffered.set(self._in_flight)

    def _send_all(self, records: Sequence[Record]) -> list[Any]:
        return [self.producer.send(r.topic, key=r.key.encode(), value=r.value, headers=list(r.headers))
                for r in records]

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self.producer.flush)
        self._executor.shutdown(wait=True)


def _raw(item: Any) -> bytes:
    try:
        return contract.encode(item)
    except (TypeError, ValueError):
        return repr(item).encode("utf-8", errors="replace")


def _bridge(loop: asyncio.AbstractEventLoop, future: Any) -> asyncio.Future[Any]:
    waiter: asyncio.Future[Any] = loop.create_future()

    def done(value: Any) -> None:
        if not waiter.done():
            waiter.set_result(value)

    def failed(exc: BaseException) -> None:
        if not waiter.done():
            waiter.set_exception(exc)

    future.add_callback(lambda value: loop.call_soon_threadsafe(done, value))
    future.add_errback(lambda exc: loop.call_soon_threadsafe(failed, exc))
    return waiter


def load_states(settings: Settings, feed_ids: Iterable[str] | None = None, timeout: float = 30.0
                ) -> dict[str, FeedState]:
    """Read the compacted state topic to its end; the last record per feed wins."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = set(feed_ids) if feed_ids is not None else None
    topic = settings.topics.feed_state
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-state",
                             **settings.kafka_options())
    states: dict[str, FeedState] = {}
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            log.warning("state topic %s not found: every feed starts fresh", topic)
            return states
        assigned = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        end = consumer.end_offsets(assigned)
        while any(consumer.position(tp) < end[tp] for tp in assigned):
            if time.monotonic() > deadline:
                raise WirewatchError(f"could not read the feed state topic {topic} within {timeout:g} s")
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    key = record.key.decode("utf-8", errors="replace") if record.key else ""
                    if wanted is not None and key not in wanted:
                        continue
                    if record.value is None:
                        states.pop(key, None)
                        continue
                    try:
                        states[key] = FeedState.from_json(record.value)
                    except (ValueError, TypeError) as exc:
                        log.warning("unreadable state for feed %s ignored: %s", key, exc)
    finally:
        consumer.close()
    return states


class Runner:
    def __init__(self, feeds: Sequence[FeedConfig], settings: Settings, producer: Any, *,
                 metrics: ConnectorMetrics | None = None, states: Mapping[str, FeedState] | None = None,
                 fetcher: Fetcher | None = None, policy: Policy | None = None,
                 rng: random.Random | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ConnectorMetrics()
        self.policy = policy or policy_from(settings.connector)
        self.fetcher = fetcher or fetcher_from(settings.connector)
        self.rng = rng or random.Random()
        self.publisher = Publisher(producer, settings, self.metrics)
        self.feeds = {feed.id: feed for feed in feeds}
        self.connectors: dict[str, Connector] = {}
        for feed in feeds:
            connector = connector_for(feed)
            connector.fetcher = self.fetcher
            self.connectors[feed.id] = connector
        self._pool: ProcessPoolExecutor | None = None
        if settings.connector.parse_workers:
            self._pool = ProcessPoolExecutor(settings.connector.parse_workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        known = states or {}
        self.states = {f.id: (known.get(f.id) or FeedState.fresh(f.id, f.url)).for_url(f.url) for f in feeds}
        for state in self.states.values():
            self.metrics.health_changed(None, state.health)

    async def poll(self, feed_id: str) -> float | None:
        """Poll one feed, publish what is new, save its state; return its next due time."""
        feed, state = self.feeds[feed_id], self.states[feed_id]
        result = await poll_feed(self.connectors[feed_id], state, self._parse)
        outcome = result.outcome
        now = time.time()
        if result.articles:
            try:
                published, _dead = await self.publisher.articles(feed_id, result.articles)
            except PublishError:
                return now + self.policy.backoff_base * (0.5 + self.rng.random())   # state unchanged
        else:
            published = 0
        new = advance(state, outcome, now, self.policy, feed.interval, self.rng.random())
        self.states[feed_id] = new
        self._observe(feed_id, outcome.kind, outcome.error_kind, outcome.duration, outcome.bytes, published, new)
        try:
            await self.publisher.state(new)
            if new.health != state.health:
                self.metrics.health_changed(state.health, new.health)
                await self.publisher.health(health_event(state, new))
        except PublishError:
            pass  # kept in memory; the next poll's state write carries it
        self._log(feed_id, state, new, published)
        return new.next_due

    async def _parse(self, connector: Connector, fetched: Fetched) -> list[dict[str, Any]]:
        if self._pool is None or len(fetched.body) < 16 * 1024:
            return await parse_here(connector, fetched)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, parse_elsewhere, connector.feed, fetched)

    def _observe(self, feed_id: str, kind: str, error_kind: str | None, duration: float, size: int,
                 published: int, state: FeedState) -> None:
        m = self.metrics
        m.fetches.labels(feed_id, kind if kind in ("ok", "not_modified", "unchanged") else error_kind or kind).inc()
        m.fetch_seconds.observe(duration)
        m.bytes.inc(size)
        if published:
            m.published.labels(feed_id).inc(published)
        if kind in ("not_modified", "unchanged"):
            m.not_modified.labels(feed_id).inc()
        if state.last_success:
            m.last_success.labels(feed_id).set(state.last_success)
        m.failures.labels(feed_id).set(state.consecutive_failures)

    @staticmethod
    def _log(feed_id: str, old: FeedState, new: FeedState, published: int) -> None:
        if published:
            log.info("feed %s: %d new articles", feed_id, published)
        if new.last_error:
            log.warning("feed %s: %s (%d in a row)", feed_id, new.last_error, new.consecutive_failures)
        if new.health != old.health:
            level = logging.INFO if new.health == "ok" else logging.WARNING
            log.log(level, "feed %s is now %s%s", feed_id, new.health,
                    f": {new.disabled}" if new.disabled else "")

    async def run(self, stop: asyncio.Event, once: bool = False) -> None:
        scheduler = Scheduler(self.poll, self.settings.connector.concurrency)
        try:
            if once:
                active = [fid for fid, s in self.states.items() if not s.disabled]
                for fid, s in self.states.items():
                    if s.disabled:
                        log.warning("feed %s is disabled (%s); not polled", fid, s.disabled)
                await scheduler.run_once(active)
            else:
                for fid, s in self.states.items():
                    scheduler.add(fid, s.next_due)
                await scheduler.run(stop)
        finally:
            await self.publisher.close()
            await self.fetcher.aclose()
            if self._pool is not None:
                self._pool.shutdown(wait=True)


def health_event(old: FeedState, new: FeedState) -> dict[str, Any]:
    return {"feed": new.feed, "health": new.health, "previous": old.health, "at": new.last_attempt,
            "reason": new.disabled or new.last_error or ("no new items for longer than usual"
                                                          if new.health == "quiet" else None),
            "consecutive_failures": new.consecutive_failures, "last_status": new.last_status,
            "last_success": new.last_success}
