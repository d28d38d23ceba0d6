"""The async polling loop: due times in a heap, bounded concurrency, nothing else.

What to poll next and when is decided elsewhere (connectors/schedule.py, pure); per-host limits
live in the fetcher. `poll(feed_id)` returns the feed's next due time (wall clock) or None when the
feed is disabled.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

PollFn = Callable[[str], Awaitable[float | None]]


class Scheduler:
    def __init__(self, poll: PollFn, concurrency: int, clock: Callable[[], float] = time.time) -> None:
        self._poll, self._clock = poll, clock
        self._slots = asyncio.Semaphore(concurrency)
        self._heap: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, feed_id: str, due: float | None) -> None:
        if due is not None:
            heapq.heappush(self._heap, (due, feed_id))
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll feeds as they fall due until `stop` is set; then let polls in flight finish."""
        try:
            while not stop.is_set():
                delay = self._heap[0][0] - self._clock() if self._heap else 3600.0
                if delay > 0:
                    await self._sleep(stop, delay)
                    continue
                _, feed_id = heapq.heappop(self._heap)
                await self._slots.acquire()
                self._start(feed_id, reschedule=True)
        finally:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def run_once(self, feed_ids: Iterable[str]) -> None:
        """Poll every feed once, bounded, and return when all are done."""
        for feed_id in feed_ids:
            await self._slots.acquire()
            self._start(feed_id, reschedule=False)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start(self, feed_id: str, reschedule: bool) -> None:
        task = asyncio.create_task(self._one(feed_id, reschedule), name=f"poll:{feed_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, feed_id: str, reschedule: bool) -> None:
        try:
            due = await self._poll(feed_id)
        except Exception:  # noqa: BLE001 - a bug in one feed's poll must not stop the others
            log.exception("poll of feed %s crashed; retrying in 5 minutes", feed_id)
            due = self._clock() + 300
        finally:
            self._slots.release()
        if reschedule:
            self.add(feed_id, due)

    async def _sleep(self, stop: asyncio.Event, delay: float) -> None:
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, timeout=min(delay, 3600.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
