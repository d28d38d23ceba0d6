"""Settings faust-streaming does not expose, applied to the objects it creates (applied once).

Each patch checks that the private attribute it sets still exists and fails loudly at start when an
upgrade moved it, instead of silently running untuned. None works around a reported upstream bug;
they fill gaps in Faust's configuration (faust/transport/drivers/aiokafka.py builds the consumer with
a fixed fetch_max_wait_ms=1500 and read_uncommitted; faust/stores/rocksdb.py opens the store with
default write options).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

FETCH_MAX_WAIT_MS = 100


def apply() -> None:
    tune_consumer()
    tune_rocksdb()
    current_event_var()


def current_event_var() -> Any:
    """The context variable that says which record an agent is processing (faust.streams._current_event).

    A table write goes to the changelog partition, and the RocksDB partition, of that record. An agent
    that processes a record later than it received it (the order buffer, streams/order.py) sets it to the
    record's event for the time it processes it (`as_current`); Faust has no public setter."""
    import contextvars

    from faust import streams

    var = getattr(streams, "_current_event", None)
    if not isinstance(var, contextvars.ContextVar):
        raise RuntimeError("faust.streams has no _current_event context variable; revisit streams.worker.patches")
    return var


@contextlib.contextmanager
def as_current(event: Any) -> Iterator[None]:
    """Process `event` as the agent's current record (table writes go to its partition)."""
    var = current_event_var()
    token = var.set(weakref.ref(event))
    try:
        yield
    finally:
        var.reset(token)


def tune_consumer() -> None:
    """Two settings Faust does not expose, set on the consumer it creates, before it starts:

    - fetch_max_wait_ms: Faust fixes it at 1500; a fetch that excludes partitions still buffered
      locally may idle that long, which stalls the agents downstream and puts 1.5 s into the p99
      latency. Lowered to FETCH_MAX_WAIT_MS.
    - isolation_level: read_committed, so articles of a connector transaction that was aborted (the
      connector crashed mid-poll and its successor fenced it) are never processed; their feed items
      are published again, once, in the successor's transaction."""
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    if getattr(thread._create_worker_consumer, "_wirewatch", False):
        return
    create = thread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create(self, transport)
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # an aiokafka upgrade moved it: say so loudly
            raise RuntimeError("aiokafka consumer has no _fetch_max_wait_ms; revisit streams.worker.app._tune_consumer")
        if not hasattr(consumer, "_isolation_level"):
            raise RuntimeError("aiokafka consumer has no _isolation_level; revisit streams.worker.app._tune_consumer")
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        consumer._isolation_level = "read_committed"
        return consumer

    _create_worker_consumer._wirewatch = True  # type: ignore[attr-defined]
    thread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def tune_rocksdb() -> None:
    """Table stores write without RocksDB's write-ahead log.

    A table's store is a cache of its changelog topic, which is the durable copy: after a crash Faust
    reads the store's persisted changelog offset and replays the changelog from there. Without the
    log a crash loses the memtables' latest writes, and with them the latest persisted-offset
    records, which are written to the same database after the values they cover: what survives is
    a prefix of the writes whose offset record says where the replay starts, so the store recovers
    to the same state as before. The log cost ~10 µs of CPU per write (a write(2) each), and every
    article writes four times (dedupe record, story state, each with its offset record)."""
    import rocksdict
    from faust.stores.rocksdb import RocksDBOptions

    if getattr(RocksDBOptions.open, "_wirewatch", False):
        return
    open_db = RocksDBOptions.open

    def open_without_wal(self: Any, path: Any, *, read_only: bool = False) -> Any:
        db = open_db(self, path, read_only=read_only)
        if isinstance(db, rocksdict.Rdict) and not read_only:
            options = rocksdict.WriteOptions()
            # rocksdict's stub declares disable_wal a method; at run time it is a settable bool attribute
            options.disable_wal = True  # type: ignore[method-assign,assignment]
            db.set_write_options(options)
        return db

    open_without_wal._wirewatch = True  # type: ignore[attr-defined]
    RocksDBOptions.open = open_without_wal  # type: ignore[method-assign]
