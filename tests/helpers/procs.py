"""Child `wirewatch` processes and Kafka reads with deadlines (no sleeps as synchronisation)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connectors.settings import Settings


@contextmanager
def wirewatch(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `wirewatch ARGS` in the background; stop it (SIGTERM, then SIGKILL) on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.cli", *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def read_until(settings: Settings, topic: str, done: Callable[[list[Any]], bool], timeout: float,
               decode: Callable[[Any], Any] = lambda m: json.loads(m.value)) -> list[Any]:
    """Consume `topic` from the beginning until `done(records)` holds; fail after `timeout` seconds."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=500, **settings.kafka_options())
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            records.extend(decode(message) for message in consumer)
            if done(records):
                return records
    finally:
        consumer.close()
    raise AssertionError(f"condition not met on {topic} within {timeout}s; got {len(records)} records: "
                         f"{records[:5]!r}")
