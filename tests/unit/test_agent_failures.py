"""How an agent settles each input record (streams/worker/agents.py, streams/worker/acks.py), without Kafka:
a record is acknowledged only once its outputs were, in offset order; a record's own failure puts it in
its DLQ; an infrastructure failure is retried and then ends the worker with the record unacknowledged."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from faust.exceptions import ProducerSendError
from prometheus_client import CollectorRegistry

from streams.metrics import StreamMetrics
from streams.worker import agents as agents_module
from streams.worker.acks import Acks
from streams.worker.agents import EXIT_INFRASTRUCTURE, Agents, Item


class Stream:
    def __init__(self) -> None:
        self.acked: list[int] = []

    async def ack(self, event: Any) -> bool:
        self.acked.append(event.message.offset)
        return True


class Event:
    def __init__(self, message: Any, value: bytes) -> None:
        self.message, self.value = message, value


def event(offset: int, partition: int = 0, value: bytes = b"{}") -> Any:
    message = SimpleNamespace(tp=("news.articles", partition), topic="news.articles", partition=partition,
                              offset=offset, key=b"k", value=value, timestamp=1.0)
    return Event(message, value)


def test_acknowledged_in_offset_order_once_outputs_are() -> None:
    async def run() -> tuple[list[int], list[Any]]:
        stream, failures = Stream(), []

        async def failed(ev: Any, error: BaseException) -> None:
            failures.append((ev.message.offset, type(error).__name__))

        acks = Acks(stream, failed)
        events = [event(i) for i in range(5)]
        for ev in events:
            acks.take(ev)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in events]
        acks.done(events[2])                                 # processed early (the order buffer): waits
        acks.after(events[1], [futures[1]])
        acks.after(events[0], [futures[0]])
        acks.after(events[3], [futures[3]])
        acks.after(events[4], [futures[4]])
        futures[1].set_result(None)
        futures[3].set_exception(MessageSizeTooLargeError())
        await asyncio.sleep(0)
        assert stream.acked == []                            # offset 0 not yet acknowledged by the broker
        futures[0].set_result(None)
        futures[4].set_result(None)
        await asyncio.sleep(0.01)
        return stream.acked, failures

    acked, failures = asyncio.run(run())
    assert acked == [0, 1, 2]              # 3's output failed: neither 3 nor 4 behind it is acknowledged
    assert failures == [(3, "MessageSizeTooLargeError")]


def agents(handle_errors: list[BaseException | None], exits: list[int]) -> tuple[Agents, list[Any]]:
    sent: list[Any] = []
    agent = Agents.__new__(Agents)
    agent.metrics = StreamMetrics(CollectorRegistry())

    async def send_dlq(topic: str, key: Any, value: Any, **kw: Any) -> None:
        sent.append((topic, key, value, dict(kw["headers"])))

    agent.send_dlq = send_dlq

    def exit_(code: int) -> None:
        exits.append(code)

    agent.exit = exit_
    return agent, sent


def handler(errors: list[BaseException | None]) -> Any:
    calls = iter(errors)

    async def handle(item: Item) -> list[Any]:
        error = next(calls)
        if error is not None:
            raise error
        return []
    return handle


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agents_module, "RETRY_DELAYS", (0.0, 0.0, 0.0))


def run_one(errors: list[BaseException | None]) -> tuple[list[int], list[Any], list[int]]:
    exits: list[int] = []
    agent, sent = agents(errors, exits)
    stream = Stream()

    async def failed(ev: Any, error: BaseException) -> None:
        raise AssertionError("no output futures here")

    async def run() -> None:
        acks = Acks(stream, failed)
        ev = event(7)
        acks.take(ev)
        with pytest.raises(SystemExit) if sum(e is not None for e in errors) > 3 else _nothing():
            await agent._process("normalize", handler(errors), acks, Item(ev))

    asyncio.run(run())
    return stream.acked, sent, exits


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_a_records_own_failure_goes_to_its_dlq_and_is_acknowledged() -> None:
    acked, sent, exits = run_one([ValueError("not JSON")])
    assert acked == [7] and exits == [] and sent[0][0] == "news.articles.dlq"
    assert sent[0][3]["error"] == b"not JSON" and sent[0][3]["error.class"] == b"ValueError"
    # the producer refusing the record for its size is the record's fault too (wrapped by Faust or not)
    refused = ProducerSendError("Error while sending")
    refused.__cause__ = MessageSizeTooLargeError()
    acked, sent, exits = run_one([refused])
    assert acked == [7] and len(sent) == 1 and exits == []


def test_an_infrastructure_failure_is_retried_then_ends_the_worker_unacknowledged() -> None:
    acked, sent, exits = run_one([KafkaConnectionError(), None])          # retried, then fine
    assert acked == [7] and sent == [] and exits == []
    acked, sent, exits = run_one([KafkaConnectionError()] * 4)            # persists: the worker exits
    assert acked == [] and sent == [] and exits == [EXIT_INFRASTRUCTURE]


def test_a_dlq_copy_the_broker_refuses_still_leaves_the_error_and_where() -> None:
    exits: list[int] = []
    agent, sent = agents([], exits)
    attempts: list[Any] = []

    async def send_dlq(topic: str, key: Any, value: Any, **kw: Any) -> None:
        attempts.append(value)
        if value is not None:
            raise MessageSizeTooLargeError()
        sent.append(dict(kw["headers"]))

    agent.send_dlq = send_dlq
    asyncio.run(agent.to_dlq(event(9, value=b"x" * 2000), ValueError("bad")))
    assert attempts == [b"x" * 2000, None] and exits == []
    assert sent[0]["source.offset"] == b"9" and b"MessageSizeTooLarge" in sent[0]["dlq.error"]
