"""Child `wirewatch` processes and Kafka reads with deadlines (no sleeps as synchronisation)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connectors.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child `wirewatch` process use these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIREWATCH_", "KAFKA_"))}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap_servers or "", "WIREWATCH_APP_ID": settings.app_id,
                "WIREWATCH_CLIENT_ID": settings.client_id, "WIREWATCH_PARTITIONS": str(settings.partitions),
                "WIREWATCH_DATA_DIR": settings.data_dir, "PYTHONPATH": str(REPO),
                # the SSRF guard stays on; the test feed servers listen on loopback
                "WIREWATCH_FETCH_ALLOW_HOSTS": "127.0.0.1"})
    env.update({f"WIREWATCH_TOPIC_{name.upper()}": value for name, value in settings.topics.__dict__.items()})
    return env


@contextmanager
def wirewatch(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run `wirewatch ARGS` in the background; stop it (SIGTERM, then SIGKILL) on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streams.shell.cli", *args], env=env, stdout=out,
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
               decode: Callable[[Any], Any] = lambda m: json.loads(m.value),
               alive: tuple[subprocess.Popen[bytes], ...] = (), isolation_level: str = "read_committed"
               ) -> list[Any]:
    """Consume `topic` from the beginning until `done(records)` holds; fail after `timeout` seconds,
    or at once when one of the `alive` processes has exited. Reads what a consumer of wirewatch's topics
    should read (read_committed: records of aborted connector transactions are not delivered)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=500, isolation_level=isolation_level, **settings.kafka_options())
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            # poll, not iterate: iteration only ends after a quiet spell, never on a busy topic
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(decode(message) for message in batch)
            if done(records):
                return records
            for proc in alive:
                if proc.poll() is not None:
                    raise AssertionError(f"{' '.join(map(str, proc.args[-2:]))} exited with {proc.returncode} "
                                         f"while waiting on {topic}")
    finally:
        consumer.close()
    raise AssertionError(f"condition not met on {topic} within {timeout}s; got {len(records)} records: "
                         f"{records[:5]!r}")


def read_all(settings: Settings, topic: str, isolation_level: str = "read_committed", timeout: float = 30.0,
             decode: Callable[[Any], Any] = lambda m: json.loads(m.value)) -> list[Any]:
    """Every record of `topic` up to its current end (for read_committed: the last stable offset)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, isolation_level=isolation_level,
                             **settings.kafka_options())
    records: list[Any] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} not found"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, f"could not read {topic} to its end within {timeout}s"
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(decode(message) for message in batch)
    finally:
        consumer.close()
    return records
