"""The worker's consumer tuning stays applied across faust/aiokafka upgrades (or fails loudly)."""

from __future__ import annotations

import asyncio
import inspect

import aiokafka
from faust.transport.drivers import aiokafka as driver

from connectors.settings import Settings
from streams.app import FETCH_MAX_WAIT_MS, create_app


def test_worker_consumer_gets_a_short_fetch_wait_read_committed_and_a_large_fetch_size() -> None:
    async def build() -> tuple[int, str, int]:
        app = create_app(Settings(bootstrap_servers="127.0.0.1:9"))
        consumer = app.consumer._thread._create_worker_consumer(app.transport)   # built, never started
        try:
            return consumer._fetch_max_wait_ms, consumer._isolation_level, app.conf.consumer_max_fetch_size
        finally:
            consumer._closed = True   # nothing to close: it never connected

    wait, isolation, fetch_size = asyncio.run(build())
    assert getattr(driver.AIOKafkaConsumerThread._create_worker_consumer, "_wirewatch", False)
    assert wait == FETCH_MAX_WAIT_MS <= 200
    assert isolation == "read_committed"          # aborted connector transactions are never processed
    assert fetch_size >= 8 * 1024 * 1024
    # the attributes the patch sets are the ones aiokafka hands to its fetcher when it starts
    source = inspect.getsource(aiokafka.AIOKafkaConsumer)
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in source
    assert "isolation_level=self._isolation_level" in source
