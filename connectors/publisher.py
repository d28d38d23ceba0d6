"""Publishing a poll's records to Kafka: articles, feed state and health, in one transaction.

The `Publisher` owns the kafka-python producer of the connector runner. With transactions (the
default) the records of polls finishing within `TXN_LINGER_S` of each other are committed together,
from a thread of their own (kafka-python blocks); a transaction that stalls is abandoned and its
producer replaced. Without transactions, articles are sent first and the state only once Kafka
acknowledged them (at-least-once). See connectors/runner.py for what this guarantees end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from connectors import article as contract
from connectors.errors import InvalidRecord, WirewatchError
from connectors.metrics import ConnectorMetrics
from connectors.settings import Settings
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
