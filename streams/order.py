"""Restore the order in which articles were produced, within a bound, before the stages that keep state.

Dedupe and the event stage decide by order: the first copy of a wire story is its root, an article joins
the events seen before it. `wirewatch replay` takes the articles in file order; a worker with one
partition takes them in the order they were produced to `news.articles`, the same order. With several
partitions it did not: the normalize agent reads the partitions of `news.articles` at different speeds
(in a backlog, after a deploy or an outage, one partition runs a hundred records and hours of event time
ahead of another), so dedupe decided differently from replay, and from run to run.

Every record carries where its article was produced (`norm.produced`: the `news.articles` record's
timestamp in milliseconds, partition and offset; stamped by the normalize agent). `Reorder` holds a
stage's input and releases it in production order: by (timestamp, event time, article id), the event
time and id ordering the many records a producer sends within one millisecond as a file sorted by time
would have them. It releases the first record once it holds more than `capacity` records (or
`max_bytes`), or once some record has waited long enough:

- live (the newest record was produced less than LIVE_S ago): `hold_s` (0.25 s by default), the
  latency it adds to a record;
- catching up (the records are older: a backlog after a deploy or an outage, where the partitions are
  read at different speeds): `catch_up_hold_s` (5 s), so that a partition whose fetch comes late still
  has its records released in order; the buffer filling up releases records long before that.

Within those bounds the stage takes the articles in production order whatever the partitions. (A
producer whose clock is slow makes live records look old: they wait up to `catch_up_hold_s`.)

Lanes: records of one lane are released in their lane's order, never by their keys; lanes are merged by
the key of their first record. Dedupe's input from one `news.articles` partition through one by-lang
partition is such a lane, in arrival order (each source partition is normalised by one agent, in offset
order). The event stage's input has been through the story partitions, so a source partition's records
reach it out of order: its lane is the source partition, kept in offset order (`sequence`). Either way a
worker with one partition everywhere takes every record in topic order, exactly as replay takes the
file, even where timestamps go back (a producer's clock stepped) or where a producer sends records
within one millisecond out of event-time order (a feed's items, newest first). Records without a lane
are ordered by their key alone.

Pure: the worker's agents feed it (streams/worker/agents.py); the tests run it on recorded orders.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from streams import eventtime

T = TypeVar("T")
Key = tuple[int, float, str]              # (production timestamp ms, event time, article id)
LIVE_S = 3.0                              # records produced more recently than this: the stream is live
UNKNOWN: Key = (0, 0.0, "")               # a record without a key (not JSON, or normalised by an older version)


def key_of(record: Mapping[str, Any]) -> Key:
    """The production order key of a stage's input record (UNKNOWN: released first)."""
    norm = record.get("norm")
    produced = norm.get("produced") if isinstance(norm, Mapping) else None
    if not (isinstance(produced, Sequence) and produced and type(produced[0]) is int):
        return UNKNOWN
    return produced[0], eventtime.of(record).at, str(record.get("id"))


def source_partition(record: Mapping[str, Any]) -> int | None:
    """The `news.articles` partition the record's article was produced to (None: unknown)."""
    produced = _produced(record)
    return produced[1] if produced is not None else None


def source_offset(record: Mapping[str, Any]) -> int | None:
    """The record's article's offset on its `news.articles` partition (None: unknown)."""
    produced = _produced(record)
    return produced[2] if produced is not None else None


def _produced(record: Mapping[str, Any]) -> Sequence[Any] | None:
    norm = record.get("norm")
    produced = norm.get("produced") if isinstance(norm, Mapping) else None
    if isinstance(produced, Sequence) and len(produced) == 3 and type(produced[1]) is int \
            and type(produced[2]) is int:
        return produced
    return None


class Reorder(Generic[T]):
    def __init__(self, capacity: int, hold_s: float, catch_up_hold_s: float = 5.0,
                 max_bytes: int = 64 * 2**20) -> None:
        self.capacity, self.hold_s, self.max_bytes = capacity, hold_s, max_bytes
        self.catch_up_hold_s = max(hold_s, catch_up_hold_s)
        self.newest_ms = 0                                                  # newest production time seen
        # lane -> a heap of (sequence, number, key, item, bytes): its order is the sequence (the arrival
        # number unless given)
        self._lanes: dict[Hashable, list[tuple[int, int, Key, T, int]]] = {}
        self._heads: list[tuple[Key, int, Hashable]] = []   # the lanes' first records, by key (stale ones skipped)
        self._arrivals: deque[tuple[float, int]] = deque()                  # (arrival time, number), oldest first
        self._held: set[int] = set()
        self._numbers = itertools.count()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._held)

    def add(self, key: Key, item: T, now: float, size: int = 0, lane: Hashable | None = None,
            sequence: int | None = None) -> None:
        """Hold `item`. `lane`: records released in their lane's order, which is their arrival order, or
        `sequence` (the same for every record of a lane: an offset) when they may arrive out of it."""
        number = next(self._numbers)
        lane = ("record", number) if lane is None else ("lane", lane)
        queue = self._lanes.setdefault(lane, [])
        heapq.heappush(queue, (number if sequence is None else sequence, number, key, item, size))
        if queue[0][1] == number:              # the lane's first record now (an entry of the one before: stale)
            heapq.heappush(self._heads, (key, number, lane))
        self._arrivals.append((now, number))
        self._held.add(number)
        self.bytes += size
        self.newest_ms = max(self.newest_ms, key[0])

    def ready(self, now: float, wall: float | None = None) -> list[T]:
        """The records to release now, in order. `now`: a monotonic clock (arrival times); `wall`: the
        clock production times are compared with (None: always live)."""
        live = wall is None or wall - self.newest_ms / 1000 < LIVE_S
        hold = self.hold_s if live else self.catch_up_hold_s
        out: list[T] = []
        while self._held and (len(self._held) > self.capacity or self.bytes > self.max_bytes
                              or self._waited(now, hold)):
            out.append(self._pop())
        return out

    def drain(self) -> list[T]:
        """Everything held, in order."""
        return [self._pop() for _ in range(len(self._held))]

    def _waited(self, now: float, hold: float) -> bool:
        while self._arrivals and self._arrivals[0][1] not in self._held:
            self._arrivals.popleft()
        return bool(self._arrivals) and now - self._arrivals[0][0] >= hold

    def _pop(self) -> T:
        while True:
            _, head, lane = heapq.heappop(self._heads)
            queue = self._lanes.get(lane)
            if queue and queue[0][1] == head:
                break                              # (else a stale entry: a record that is no longer first)
        _, number, _, item, size = heapq.heappop(queue)
        if queue:
            heapq.heappush(self._heads, (queue[0][2], queue[0][1], lane))
        else:
            del self._lanes[lane]
        self._held.discard(number)
        self.bytes -= size
        return item
