"""The console's only data source: news.alerts and the mute/ack topic, read in a thread (no consumer group).

Alerts are read from `window` ago (by Kafka record time), the mute/ack topic from its beginning; both
are then followed. Every change is handed to `publish(kind, payload)` from this thread: the server
moves it onto its event loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from connectors.settings import Settings
from streams.console.board import Board
from streams.delivery.state import HoldView
from streams.delivery.topics import apply_record

log = logging.getLogger("wirewatch.console")


class AlertFeed:
    def __init__(self, settings: Settings, state_topic: str, board: Board, holds: HoldView,
                 publish: Callable[[str, Any], None]) -> None:
        self.settings, self.state_topic = settings, state_topic
        self.board, self.holds, self.publish = board, holds, publish
        self.lock = threading.Lock()          # board and holds: this thread writes, the server reads
        self.stop = threading.Event()
        self.caught_up = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="console-feed", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(15)

    def _run(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # reported by /healthz and the log; the page shows "not live"
            self.error = exc
            log.exception("the console stopped reading Kafka")

    def _follow(self) -> None:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                                 client_id=f"{self.settings.client_id}-console", **self.settings.kafka_options())
        try:
            assigned = []
            for topic in (self.settings.topics.alerts, self.state_topic):
                partitions = self._partitions(consumer, topic)
                assigned += [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            alerts = [tp for tp in assigned if tp.topic == self.settings.topics.alerts]
            since = int((datetime.now(UTC) - self.board.window).timestamp() * 1000)
            found = consumer.offsets_for_times(dict.fromkeys(alerts, since))
            for tp in alerts:
                if found.get(tp) is None:
                    consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, found[tp].offset)
            consumer.seek_to_beginning(*[tp for tp in assigned if tp.topic == self.state_topic])
            end = consumer.end_offsets(assigned)
            last_expiry = time.monotonic()
            while not self.stop.is_set():
                for tp, messages in consumer.poll(timeout_ms=500).items():
                    with self.lock:
                        for message in messages:
                            self._apply(tp.topic, message)
                if not self.caught_up.is_set() and all(consumer.position(tp) >= end[tp] for tp in assigned):
                    self.caught_up.set()
                    self.publish("snapshot", None)
                if time.monotonic() - last_expiry > 60:
                    last_expiry = time.monotonic()
                    with self.lock:
                        gone = self.board.expire(datetime.now(UTC))
                    for alert_id in gone:
                        self.publish("gone", alert_id)
        finally:
            consumer.close()

    def _partitions(self, consumer: Any, topic: str) -> set[int]:
        deadline = time.monotonic() + 60
        while not self.stop.is_set():
            partitions = consumer.partitions_for_topic(topic)
            if partitions:
                return set(partitions)
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {topic} does not exist on {self.settings.bootstrap_servers}")
            time.sleep(0.5)  # waiting for a topic that `wirewatch run` or a worker is creating
        return set()

    def _apply(self, topic: str, message: Any) -> None:
        if topic == self.state_topic:
            apply_record(message, self._hold)
            return
        try:
            alert = json.loads(message.value)
        except (TypeError, ValueError):
            log.warning("skipped an unreadable alert at offset %s", message.offset)
            return
        if not isinstance(alert, dict):
            return
        received = datetime.fromtimestamp(message.timestamp / 1000, UTC) if message.timestamp else None
        entry = self.board.add(alert, received)
        if entry is not None and self.caught_up.is_set():
            self.publish("alert", entry)

    def _hold(self, key: str, value: Any) -> None:
        self.holds.apply(key, value)
        if self.caught_up.is_set():
            self.publish("holds", None)
