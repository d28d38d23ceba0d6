"""When an agent acknowledges an input record: once what it produced is acknowledged by the broker (or the
record is in its DLQ), and always in offset order per partition.

Faust acknowledges a record when the agent asks for the next one, also when the agent's handling raised:
a record whose output could not be produced was acknowledged, its offset committed, and it was in no
topic and no DLQ. So the agents iterate a `noack()` stream and acknowledge here:

- `take(event)` when a record arrives; `after(event, futures)` once its outputs are handed to the
  producer: the record is acknowledged when every future succeeded; `done(event)` for a record with
  nothing to wait for (no output, or its DLQ copy was acknowledged);
- acknowledgements go out in offset order per partition: a record processed early (the order buffer
  releases by production order, not offset) waits for the records before it. Faust commits the highest
  offset under which every record is acknowledged, except that it misses a gap of exactly one record
  at the head of a partition (faust/transport/consumer.py `_new_offset`: `min(acked) - committed > 1`);
  acknowledging in order never leaves such a gap.
- an output future that fails calls `on_failure(event, error)` (a task): the agent sends the record to
  its DLQ or stops the worker, and never acknowledges it otherwise.

A record never acknowledged is never committed: it is processed again after a restart (at-least-once).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any


class Acks:
    def __init__(self, stream: Any, on_failure: Callable[[Any, BaseException], Coroutine[Any, Any, None]]) -> None:
        self.stream, self.on_failure = stream, on_failure
        self._lines: dict[Any, deque[list[Any]]] = {}      # tp -> [[event, done], ...] in offset order
        self._entries: dict[int, list[Any]] = {}           # id(event) -> its entry
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Records taken and not yet acknowledged."""
        return len(self._entries)

    def take(self, event: Any) -> None:
        entry = [event, False]
        self._lines.setdefault(event.message.tp, deque()).append(entry)
        self._entries[id(event)] = entry

    def after(self, event: Any, futures: Sequence[asyncio.Future[Any]]) -> None:
        """Acknowledge `event` once every one of `futures` (its produced records) succeeded."""
        pending = [f for f in futures if not f.done()]
        failed = next((f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()), None)
        if failed is not None:
            self._fail(event, failed)
        elif not pending:
            self.done(event)
        else:
            waiting = [len(pending)]

            def one_done(future: asyncio.Future[Any]) -> None:
                if waiting[0] <= 0:
                    return
                error = future.exception() if not future.cancelled() else asyncio.CancelledError()
                if error is not None:
                    waiting[0] = 0
                    self._fail(event, error)
                    return
                waiting[0] -= 1
                if waiting[0] == 0:
                    self.done(event)

            for future in pending:
                future.add_done_callback(one_done)

    def done(self, event: Any) -> None:
        entry = self._entries.get(id(event))
        if entry is None:
            return
        entry[1] = True
        line = self._lines[event.message.tp]
        while line and line[0][1]:
            head = line.popleft()[0]
            del self._entries[id(head)]
            _ack(self.stream, head)

    def _fail(self, event: Any, error: BaseException) -> None:
        task = asyncio.get_running_loop().create_task(self.on_failure(event, error))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _ack(stream: Any, event: Any) -> None:
    """`stream.ack(event)` (an async method whose body awaits nothing: the event's ack and the sensors'
    hooks), run to its end here, so that acknowledging needs no task per record."""
    coro = stream.ack(event)
    try:
        coro.send(None)
    except StopIteration:
        return
    coro.close()
    raise RuntimeError("faust Stream.ack awaited something: revisit streams/worker/acks.py")
