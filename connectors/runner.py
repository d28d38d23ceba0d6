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
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
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


TXN_LINGER_S = 0.05          # how long the committer waits for more polls to join a transaction
TXN_TIMEOUT_MS = 60_000      # the broker aborts a transaction left open longer (a vanished connector)


def transactional_id(settings: Settings) -> str:
    return f"{settings.app_id}-{settings.connector.instance}"


def make_producer(settings: Settings, **overrides: Any) -> Any:
    """The connector's producer; transactional unless `settings.connector.transactions` is off.
    Call `init_transactions()` (as `wirewatch connect` does) before reading the feed state."""
    from kafka import KafkaProducer

    options = {"acks": "all", "enable_idempotence": True, "compression_type": "gzip", "linger_ms": 20,
               "max_block_ms": 30_000, "delivery_timeout_ms": 120_000, "request_timeout_ms": 30_000,
               "client_id": f"{settings.client_id}-connector"}
    if settings.connector.transactions:
        options.update(transactional_id=transactional_id(settings), transaction_timeout_ms=TXN_TIMEOUT_MS)
    options.update(overrides)
    return KafkaProducer(**options, **settings.kafka_options())


def is_transactional(producer: Any) -> bool:
    config = getattr(producer, "config", None)
    return bool(isinstance(config, dict) and config.get("transactional_id"))


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


class FencedError(PublishError):
    """Another connector process started with this one's transactional id: this one must stop."""


class Publisher:
    """kafka-python's producer behind an asyncio face: bounded in-flight messages, awaited acks.

    `commit(records)` publishes one poll's records atomically (transactional producer) or, without
    transactions, in order, returning once Kafka acknowledged all of them."""

    def __init__(self, producer: Any, settings: Settings, metrics: ConnectorMetrics,
                 factory: Callable[[], Any] | None = None) -> None:
        self.producer, self.topics, self.metrics = producer, settings.topics, metrics
        self.max_buffered = settings.connector.max_buffered
        self.transactional = is_transactional(producer)
        self.stall_s = settings.connector.txn_stall_s
        self.factory = factory                 # a fresh producer with the same transactional id
        self.replaced = 0
        self.failed = 0
        self.fatal: BaseException | None = None
        self.on_fatal: Any = None              # called once when the producer is fenced
        self._in_flight = 0
        self._room = asyncio.Condition()
        self._queue: list[tuple[list[Record], asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task[None] | None = None
        # One sender thread: send() may block on metadata or a full buffer, never the event loop.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="kafka-send")

    def article_records(self, feed_id: str, articles: Sequence[dict[str, Any]]) -> tuple[list[Record], int]:
        """Validate; returns the records to send and how many of them go to the DLQ."""
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
        return records, dead

    def state_record(self, state: FeedState) -> Record:
        return Record(self.topics.feed_state, state.feed, state.to_json())

    def health_record(self, event: Mapping[str, Any]) -> Record:
        import json

        return Record(self.topics.feed_health, str(event["feed"]), json.dumps(event).encode())

    async def commit(self, records: Sequence[Record]) -> None:
        """Publish `records` all-or-nothing (transactions) or in order (no transactions)."""
        if not records:
            return
        if self.fatal is not None:
            raise PublishError(f"the producer was stopped: {self.fatal}")
        if not self.transactional:
            await self.send(records)
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((list(records), done))
        if self._committer is None:
            self._wake = asyncio.Event()
            self._committer = asyncio.create_task(self._commit_loop())
        assert self._wake is not None
        self._wake.set()
        await done

    async def _commit_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(TXN_LINGER_S)          # let polls finishing together share a transaction
            while self._queue:
                batch: list[tuple[list[Record], asyncio.Future[None]]] = []
                size = 0
                while self._queue and (not batch or size + len(self._queue[0][0]) <= self.max_buffered):
                    item = self._queue.pop(0)
                    batch.append(item)
                    size += len(item[0])
                records = [r for recs, _ in batch for r in recs]
                self.metrics.buffered.set(size)
                try:
                    await asyncio.wait_for(_in_thread(loop, self._transaction, self.producer, records), self.stall_s)
                except Exception as exc:
                    if isinstance(exc, TimeoutError):
                        exc = TimeoutError(f"the transaction did not complete within {self.stall_s:g} s")
                    error = self._failed(exc, len(records))
                    if self.fatal is None:
                        await self._replace_producer(loop)
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                else:
                    self.metrics.healthy.set(1)
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
                finally:
                    self.metrics.buffered.set(0)

    async def ready(self) -> None:
        """Return once the producer holds its transactional id: any earlier transaction of this id,
        ours or a predecessor's, is then settled (committed or aborted) and visible as such."""
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(_in_thread(loop, self.producer.init_transactions), self.stall_s)

    async def _replace_producer(self, loop: asyncio.AbstractEventLoop) -> None:
        """After a failed transaction its outcome is not known for sure: the commit may have reached
        the broker, and kafka-python can leave a transaction stuck after the broker went away (a lost
        AddPartitionsToTxn is never retried: the batches wait for their delivery timeout, then the
        commit 'succeeds' with nothing in it). So abandon that producer: a new one with the same
        transactional id fences it, which settles what it left; the runner then reads the settled
        state of the feeds concerned back (`Runner._reconcile`) before it polls them again."""
        if self.factory is None:
            return
        old = self.producer
        log.warning("the Kafka transaction is stuck; replacing the producer (same transactional id)")
        threading.Thread(target=_close_quietly, args=(old,), name="kafka-close", daemon=True).start()
        try:
            self.producer = await _in_thread(loop, lambda: self.factory())  # type: ignore[misc]
            self.replaced += 1
        except Exception as exc:  # noqa: BLE001 - the next transaction tries the old path again
            log.error("could not create a new Kafka producer: %s", exc)

    def _transaction(self, producer: Any, records: Sequence[Record]) -> None:
        """Runs on its own thread: one transaction holding `records`, committed or aborted."""
        from kafka.errors import KafkaTimeoutError

        producer.init_transactions()                 # no-op once done; fences an older instance
        producer.begin_transaction()
        try:
            futures = self._send_all(records, producer)
            producer.commit_transaction()
            for future in futures:                   # a failed send fails the commit; check anyway
                future.get(timeout=0)
        except Exception as exc:
            if not _fatal(exc):
                try:
                    producer.abort_transaction()
                except KafkaTimeoutError:
                    log.warning("could not abort the transaction yet; the broker will time it out")
                except Exception as abort_exc:  # noqa: BLE001 - reported with the original error
                    log.warning("aborting the transaction failed too: %s", abort_exc)
            raise

    def _failed(self, exc: BaseException, count: int) -> PublishError:
        self.failed += 1
        self.metrics.publish_errors.inc()
        self.metrics.healthy.set(0)
        manager = getattr(self.producer, "_transaction_manager", None)
        if _fatal(exc) or (manager is not None and manager.has_fatal_error()):
            if self.fatal is None:
                self.fatal = exc
                log.error("another connector took over the transactional id %s (%s); this one stops. "
                          "Give each connector process its own WIREWATCH_CONNECTOR_INSTANCE.",
                          self.producer.config.get("transactional_id"), type(exc).__name__)
                if self.on_fatal is not None:
                    self.on_fatal()
            return FencedError(str(exc))
        log.error("Kafka did not acknowledge %d messages (%s: %s); will retry on the next poll",
                  count, type(exc).__name__, exc)
        return PublishError(f"{type(exc).__name__}: {exc}")

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
            raise self._failed(exc, len(records)) from exc
        else:
            self.metrics.healthy.set(1)
        finally:
            async with self._room:
                self._in_flight -= len(records)
                self._room.notify_all()
            self.metrics.buffered.set(self._in_flight)

    def _send_all(self, records: Sequence[Record], producer: Any = None) -> list[Any]:
        producer = producer or self.producer
        return [producer.send(r.topic, key=r.key.encode(), value=r.value, headers=list(r.headers))
                for r in records]

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        if self.fatal is None and not self.transactional:
            await loop.run_in_executor(self._executor, self.producer.flush)
        if self.replaced:   # a producer this publisher made; the caller closes the one it passed in
            replacement = self.producer
            await _in_thread(loop, lambda: replacement.close(timeout=5))
        self._executor.shutdown(wait=True)


def _close_quietly(producer: Any) -> None:
    """Close an abandoned producer at once: its unsent batches fail, which is what we want."""
    try:
        producer.close(timeout=0)
    except Exception as exc:  # noqa: BLE001 - it is being thrown away
        log.debug("closing the abandoned producer: %s", exc)


def _in_thread(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Run a blocking kafka-python call on a daemon thread of its own: one that never returns (a stuck
    transaction) must not block the next attempt, nor the process's exit."""
    waiter: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, exc: BaseException | None) -> None:
        if waiter.done():
            return
        if exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(value)

    def target() -> None:
        value, error = None, None
        try:
            value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: a stuck call returned after the end
            loop.call_soon_threadsafe(settle, value, error)

    threading.Thread(target=target, name="kafka-txn", daemon=True).start()
    return waiter


def _fatal(exc: BaseException) -> bool:
    """Errors after which this producer can never publish again (another instance fenced it)."""
    from kafka import errors

    fatal = tuple(getattr(errors, name) for name in
                  ("ProducerFencedError", "InvalidProducerEpochError", "TransactionalIdAuthorizationFailedError")
                  if hasattr(errors, name))
    return isinstance(exc, fatal)


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
        self._reconciling = asyncio.Lock()
        known = states or {}
        self.states = {f.id: (known.get(f.id) or FeedState.fresh(f.id, f.url)).for_url(f.url) for f in feeds}
        for state in self.states.values():
            self.metrics.health_changed(None, state.health)

    async def poll(self, feed_id: str) -> float | None:
        """Poll one feed, publish what is new together with its state; return its next due time."""
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
        scheduler = Scheduler(self.poll, self.settings.connector.concurrency)
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
