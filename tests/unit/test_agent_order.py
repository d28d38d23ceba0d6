"""The order in which the worker's ordered stages (dedupe, events) handle their input (streams/worker/agents.py
with streams/order.py): with one partition everywhere, topic order, as `wirewatch replay` takes the file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from streams.metrics import StreamMetrics
from streams.worker.agents import Agents, Item


def just_now() -> int:
    """One millisecond, just now: a connector's poll of a feed sends its items within it. Taken when a
    test builds its records, not at import: records produced over LIVE_S ago are a backlog, which the
    buffer holds for its catch-up time, longer than these streams last."""
    return int(time.time() * 1000)


class Stream:
    """A Faust stream of the given events, then quiet for `quiet_s` (the order buffer's hold passes)."""

    def __init__(self, events: list[Any], quiet_s: float) -> None:
        self._events, self.quiet_s, self.acked = events, quiet_s, []

    def noack(self) -> Stream:
        return self

    async def events(self) -> AsyncIterator[Any]:
        for event in self._events:
            yield event
        await asyncio.sleep(self.quiet_s)

    async def ack(self, event: Any) -> bool:
        self.acked.append(event.message.offset)
        return True


class Event:
    def __init__(self, message: Any, value: bytes) -> None:
        self.message, self.value = message, value


def scored(offset: int, minute: int, ms: int) -> Any:
    """A news.scored record of the article at `offset` of news.articles partition 0, published at `minute`."""
    at = f"2021-03-01T00:{minute:02d}:00Z"
    value = {"id": f"a{offset}", "story_id": f"s-a{offset}", "published_at": at,
             "norm": {"time": {"event": at, "arrival": at, "flag": None}, "produced": [ms, 0, offset]}}
    message = SimpleNamespace(tp=("news.scored", 0), topic="news.scored", partition=0, offset=offset,
                              key=b"k", value=orjson.dumps(value), timestamp=ms / 1000)
    return Event(message, message.value)


def handled(events: list[Any], stage: str) -> list[str]:
    agent = Agents.__new__(Agents)
    # a hold far above any pause between two events of the list, even on a busy machine (a pause past
    # the hold releases what came before it, as it should live)
    agent.settings = SimpleNamespace(order_buffer=100, order_hold_s=0.25)
    agent.metrics = StreamMetrics(CollectorRegistry())
    agent.buffers = {}
    agent.exit = lambda code: None             # (fatal raises SystemExit instead)
    seen: list[str] = []

    async def handle(item: Item) -> list[Any]:
        seen.append(item.value["id"])
        return []

    asyncio.run(agent._run(Stream(events, quiet_s=0.75), stage, handle, ordered=True))
    return seen


def test_the_event_stage_takes_one_partition_in_topic_order_within_a_millisecond() -> None:
    """A feed lists its items newest first, and the connector publishes them so, within one millisecond:
    the copy of a story (minute 31) before its original (minute 30), as in test_faults. Dedupe took them
    in topic order (its lane); the event stage took them by event time, so another article opened the
    event than in replay (another alert id). Both now take the topic's order."""
    def events(ms: int) -> list[Any]:
        return [scored(128, 31, ms), scored(129, 30, ms), scored(130, 20, ms)]

    assert handled(events(just_now()), "events") == ["a128", "a129", "a130"]
    assert handled(events(just_now()), "dedupe") == ["a128", "a129", "a130"]


def test_the_event_stage_puts_a_partition_back_in_offset_order() -> None:
    """Through several story partitions a source partition's records reach the event stage out of order:
    within the buffer's bounds they are handled in the order they were produced (their offsets)."""
    ms = just_now()
    events = [scored(11, 5, ms), scored(10, 9, ms), scored(13, 1, ms), scored(12, 2, ms)]
    assert handled(events, "events") == ["a10", "a11", "a12", "a13"]
