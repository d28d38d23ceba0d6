"""The worker's consumer tuning stays applied across faust/aiokafka upgrades (or fails loudly)."""

from __future__ import annotations

import inspect

import aiokafka
from faust.transport.drivers import aiokafka as driver

from connectors.settings import Settings
from streams.app import FETCH_MAX_WAIT_MS, create_app


def test_worker_consumer_gets_a_short_fetch_wait_and_a_large_fetch_size() -> None:
    app = create_app(Settings(bootstrap_servers="127.0.0.1:9"))
    assert getattr(driver.AIOKafkaConsumerThread._create_worker_consumer, "_wirewatch", False)
    # the attribute the patch sets is the one aiokafka hands to its fetcher
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in inspect.getsource(aiokafka.AIOKafkaConsumer.__init__)
    assert FETCH_MAX_WAIT_MS <= 200
    assert app.conf.consumer_max_fetch_size >= 8 * 1024 * 1024
