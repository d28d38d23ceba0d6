"""The connector runner: the only Kafka code on the ingestion side.

Per poll: `poll_feed` (no Kafka) finds the new articles; they are validated against the Article
contract (key = article id; failures of the contract go to `news.articles.dlq`) and written together
with the feed's new state (validators, seen ids, backoff, health) to the compacted
`wirewatch.feed-state` topic **in one Kafka transaction** (the default; polls finishing within
`TXN_LINGER_S` of each other share one). A restart first fences the previous instance (same
transactional id: `<app_id>-<instance>`), which aborts whatever it had not committed, then reads the
state topic back: the articles of every committed poll are in its state's seen ids, and nothing of an
aborted poll is visible to `read_committed` consumers (the worker, `load_states`). So a crash at any
point neither loses a feed item nor publishes one twice.

With `WIREWATCH_CONNECTOR_TRANSACTIONS=off` (a cluster that does not allow transactional ids) the
articles are sent first and the state only once Kafka acknowledged them: nothing is lost, and a crash
between the two writes republishes that one poll (at-least-once, same keys).

Broker unreachable: sends wait in kafka-python's buffer up to `delivery_timeout`; at most
`max_buffered` messages are unacknowledged before polls wait (backpressure, not loss); a failed send
leaves the feed's state where it was, so the next poll publishes the same articles again. The
runner reports itself unhealthy (metric + log) meanwhile. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from connectors.base import Connector, FeedConfig, Fetched
from connectors.errors import WirewatchError
from connectors.fetcher import AddressPolicy, AllowAll, Fetcher, FetchLimits, PrivateAddressGuard
from connectors.loop import Scheduler
from connectors.metrics import ConnectorMetrics
from connectors.poll import parse_elsewhere, parse_here, poll_feed
from connectors.publisher import Publisher, PublishError, is_transactional, make_producer
from connectors.registry import connector_for
from connectors.schedule import Policy, advance
from connectors.settings import ConnectorSettings, Settings
from connectors.state import FeedState

log = logging.getLogger(__name__)


def policy_from(cfg: ConnectorSettings) -> Policy:
    return Policy(default_interval=cfg.default_interval_s, min_interval=cfg.min_interval_s,
                  max_interval=cfg.max_interval_s, backoff_base=cfg.backoff_base_s, backoff_cap=cfg.backoff_cap_s)


def fetcher_from(cfg: ConnectorSettings) -> Fetcher:
    limits = FetchLimits(timeout_s=cfg.timeout_s, max_body_bytes=cfg.max_body_bytes,
                         host_concurrency=cfg.host_concurrency, host_spacing_s=cfg.host_spacing_s,
                         max_connections=max(10, min(cfg.concurrency, 1000)))
    policy: AddressPolicy = (PrivateAddressGuard(cfg.allow_hosts, proxied=bool(cfg.proxy)) if cfg.fetch_guard
                             else AllowAll())
    return Fetcher(limits, policy, proxy=cfg.proxy, user_agent=cfg.user_agent)


def load_states(settings: Settings, feed_ids: Iterable[str] | None = None, timeout: float = 30.0
                ) -> dict[str, FeedState]:
    """Read the compacted state topic to its end; the last record per feed wins."""
    from kafka import KafkaConsumer, TopicPartition

    wanted = set(feed_ids) if feed_ids is not None else None
    topic = settings.topics.feed_state
    # read_committed: the state of a poll whose transaction was aborted (its articles too) never counts
    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-state",
                             isolation_level="read_committed", **settings.kafka_options())
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
                 rng: random.Random | None = None, producer_factory: Callable[[], Any] | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or ConnectorMetrics()
        self.policy = policy or policy_from(settings.connector)
        self.fetcher = fetcher or fetcher_from(settings.connector)
        self.rng = rng or random.Random()
        if producer_factory is None and is_transactional(producer):
            producer_factory = lambda: make_producer(settings)  # noqa: E731
        self.publisher = Publisher(producer, settings, self.metrics, producer_factory)
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
        self._unsure: set[str] = set()        # feeds whose last transaction failed: outcome not known
        self._scheduler: Scheduler | None = None
        self._reconciling = asyncio.Lock()
        known = states or {}
        self.states = {f.id: (known.get(f.id) or FeedState.fresh(f.id, f.url)).for_url(f.url) for f in feeds}
        for state in self.states.values():
            self.metrics.health_changed(None, state.health)

    async def apply_feeds(self, feeds: Sequence[FeedConfig]) -> bool:
        """Take a reloaded feed list (connectors/reload.py). New feeds start from their state on the
        state topic (read first: False, nothing changed, when Kafka cannot be read now); removed feeds
        are not polled again; changed feeds take their settings at their next poll."""
        wanted = {feed.id: feed for feed in feeds}
        added = [fid for fid in wanted if fid not in self.feeds]
        loaded: dict[str, FeedState] = {}
        if added:
            try:
                loaded = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: load_states(self.settings, added))
            except Exception as exc:  # noqa: BLE001 - the broker is away: keep the list in force, retry
                log.warning("feed list reload: cannot read the state of %d new feeds yet (%s: %s)", len(added),
                            type(exc).__name__, exc)
                return False
        removed = [fid for fid in self.feeds if fid not in wanted]
        changed = [fid for fid, feed in wanted.items() if fid in self.feeds and feed != self.feeds[fid]]
        connectors = {fid: connector_for(wanted[fid]) for fid in added + changed}   # (ConfigError: none taken)
        for fid in removed:
            state = self.states.pop(fid)
            del self.feeds[fid], self.connectors[fid]
            self.metrics.feeds.labels(state.health).dec()
        for fid, connector in connectors.items():
            connector.fetcher = self.fetcher
            old = self.states.get(fid) or loaded.get(fid) or FeedState.fresh(fid, wanted[fid].url)
            state = old.for_url(wanted[fid].url)
            was_disabled = fid in self.feeds and old.disabled and not state.disabled
            self.feeds[fid], self.connectors[fid], self.states[fid] = wanted[fid], connector, state
            if fid in added:
                self.metrics.health_changed(None, state.health)
            elif state.health != old.health:
                self.metrics.health_changed(old.health, state.health)
            if (fid in added or was_disabled) and not state.disabled and self._scheduler is not None:
                self._scheduler.add(fid, state.next_due or 0.0)
        log.warning("feed list reloaded: %d feeds (%d added, %d removed, %d changed)", len(self.feeds), len(added),
                    len(removed), len(changed))
        return True

    async def watch_feeds(self, watcher: Any, interval_s: float, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Check the feed list every `interval_s` seconds (0: only when woken, on SIGHUP) and apply it."""
        while not stop.is_set():
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=interval_s or None, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if stop.is_set():
                return
            forced, failures = wake.is_set(), watcher.failures
            wake.clear()
            feeds = await asyncio.to_thread(watcher.check, forced)   # stat, read, parse: off the loop
            if feeds is None:
                if watcher.failures > failures:
                    self.metrics.feed_reloads.labels("failed").inc()
                continue
            if await self.apply_feeds(feeds):
                watcher.applied(feeds)
                self.metrics.feed_reloads.labels("ok").inc()
            else:
                watcher.retry()

    async def poll(self, feed_id: str) -> float | None:
        """Poll one feed, publish what is new together with its state; return its next due time."""
        if feed_id not in self.feeds:
            return None                              # removed from the feed list by a reload
        if feed_id in self._unsure and not await self._reconcile():
            return time.time() + self.policy.backoff_base * (0.5 + self.rng.random())
        feed, state = self.feeds[feed_id], self.states[feed_id]
        result = await poll_feed(self.connectors[feed_id], state, self._parse)
        outcome = result.outcome
        now = time.time()
        new = advance(state, outcome, now, self.policy, feed.interval, self.rng.random())
        records, dead = self.publisher.article_records(feed_id, result.articles)
        published = len(records) - dead
        tail = [self.publisher.state_record(new)]
        if new.health != state.health:
            tail.append(self.publisher.health_record(health_event(state, new)))
        try:
            if self.publisher.transactional:
                await self.publisher.commit(records + tail)      # all or nothing
            else:
                if records:
                    await self.publisher.commit(records)          # articles first, then the state
                with contextlib.suppress(PublishError):   # kept in memory; the next state write carries it
                    await self.publisher.commit(tail)
        except PublishError:
            if self.publisher.transactional:
                self._unsure.add(feed_id)     # the commit may have landed: read the state back first
            return now + self.policy.backoff_base * (0.5 + self.rng.random())   # state unchanged
        if feed_id not in self.feeds:            # removed by a reload while this poll was in flight
            return None
        self.states[feed_id] = new
        self.metrics.dlq.inc(dead)
        if new.health != state.health:
            self.metrics.health_changed(state.health, new.health)
        self._observe(feed_id, outcome.kind, outcome.error_kind, outcome.duration, outcome.bytes, published, new)
        self._log(feed_id, state, new, published)
        return new.next_due

    async def _reconcile(self) -> bool:
        """After failed transactions: once the producer has settled them (fenced its predecessor),
        take the feeds' state as committed on the state topic. A poll whose commit did land is then
        not published again; one that was aborted is, once."""
        async with self._reconciling:
            unsure = set(self._unsure)
            if not unsure:
                return True
            try:
                await self.publisher.ready()
                loaded = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: load_states(self.settings, unsure, self.publisher.stall_s))
            except Exception as exc:  # noqa: BLE001 - the broker is still away: try again later
                log.warning("cannot read the state of %d feeds back yet (%s: %s)", len(unsure),
                            type(exc).__name__, exc)
                return False
            for feed_id in unsure:
                if feed_id in loaded:
                    self.states[feed_id] = loaded[feed_id].for_url(self.feeds[feed_id].url)
            self._unsure -= unsure
            log.info("state of %d feeds read back after a failed transaction", len(unsure))
            return True

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
        scheduler = self._scheduler = Scheduler(self.poll, self.settings.connector.concurrency)
        self.publisher.on_fatal = stop.set       # fenced by a newer instance: stop polling
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
