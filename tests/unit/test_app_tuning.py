"""The worker's consumer tuning stays applied across faust/aiokafka upgrades (or fails loudly)."""

from __future__ import annotations

import asyncio
import inspect

import aiokafka
from faust.transport.drivers import aiokafka as driver

from connectors.settings import Settings
from streams.worker.app import create_app
from streams.worker.patches import FETCH_MAX_WAIT_MS


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


def test_worker_producer_batches_many_records_per_request() -> None:
    # Faust's 16 kB default held one 9 kB record per batch: one produce request per record
    from prometheus_client import CollectorRegistry

    from streams.metrics import StreamMetrics

    app = create_app(Settings(bootstrap_servers="127.0.0.1:9"), metrics=StreamMetrics(CollectorRegistry()))
    assert app.conf.producer_max_batch_size >= 128 * 1024
    assert app.conf.producer_max_batch_size < 1024 * 1024       # under the broker's message.max.bytes
    assert 0 < app.conf.producer_linger <= 0.05                 # latency budget: p99 < 1 s


def test_table_values_are_json_bytes_encoded_once_and_old_values_read_back() -> None:
    import json

    from streams.diskstore import dumps as _dumps
    from streams.worker.tables import JsonView

    class Table(dict):  # what JsonView uses of a Faust table: item set/del, keys() and .data.get
        @property
        def data(self) -> Table:
            return self

    table = Table()
    view = JsonView(table, partition=2)
    record = {"seq": 1, "story_id": "s-é", "sim": 0.9731, "lead": [1, 2**63 - 1], "copy_of": None}
    view["a:x"] = record
    assert table['2/a:x'] == _dumps(record) == json.dumps(record, ensure_ascii=False,
                                                          separators=(",", ":")).encode()
    assert view["a:x"] == record and view.get("a:x") == record and "a:x" in view
    # a value written by Faust's json codec (older versions) reads back the same
    table["2/a:old"] = json.dumps(record).encode()
    assert view["a:old"] == record
    assert sorted(view) == ["a:old", "a:x"] and view.get("a:none") is None and "a:none" not in view
    assert view.pop("a:x") == record and "2/a:x" not in table
    assert _dumps({1: "x"}) == b'{"1":"x"}'   # what orjson refuses goes through the stdlib


def test_lean_faust_monitor_counts_without_per_record_state(tmp_path) -> None:
    from faust.types import TP
    from prometheus_client import CollectorRegistry, generate_latest

    from streams.metrics import StreamMetrics

    registry = CollectorRegistry()
    app = create_app(Settings(bootstrap_servers="127.0.0.1:9", data_dir=str(tmp_path)),
                     metrics=StreamMetrics(registry))
    monitor = app.monitor
    tp = TP("news.articles", 0)
    monitor.on_message_in(tp, 41, None)
    assert monitor.on_send_initiated(None, "news.stories", None, 1, 1) is None
    monitor.on_send_completed(None, None, None)              # no per-send timing state to read
    monitor.on_stream_event_out(tp, 41, None, None, None)
    monitor.track_tp_end_offset(tp, 50)
    monitor.on_tp_commit({tp: 42})
    text = generate_latest(registry).decode()
    assert 'wirewatch_faust_topic_partition_end_offset{partition="0",topic="news.articles"} 50.0' in text
    assert 'wirewatch_faust_topic_partition_offset_commited{partition="0",topic="news.articles"} 42.0' in text
    assert 'wirewatch_faust_messages_received_per_topic_total{topic="news.articles"} 1.0' in text
    assert monitor.tp_read_offsets[tp] == 41


def test_table_stores_have_bounded_rocksdb_memory(tmp_path) -> None:
    from prometheus_client import CollectorRegistry

    from streams.metrics import StreamMetrics

    async def options() -> list[tuple[int, int, int]]:
        app = create_app(Settings(bootstrap_servers="127.0.0.1:9", data_dir=str(tmp_path)),
                         metrics=StreamMetrics(CollectorRegistry()))
        return [(o.write_buffer_size, o.max_write_buffer_number, o.block_cache_size)
                for o in (app.tables[name].data.rocksdb_options for name in ("dedupe-index", "event-state"))]

    for write_buffer, buffers, cache in asyncio.run(options()):
        assert write_buffer * buffers + cache <= 256 * 2**20   # Faust's defaults: 192 MB + a 2 GB cache
