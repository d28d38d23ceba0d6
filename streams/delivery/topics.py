"""The delivery topics and the Kafka reads and writes that the runner, the console and the CLI share.

    wirewatch.alert-state    mute and ack records (compacted): WIREWATCH_TOPIC_ALERT_STATE
    wirewatch.delivery-log   last version each route delivered per alert (compacted): WIREWATCH_TOPIC_DELIVERY_LOG
    <alerts>.deliver.dlq     messages a destination did not accept after the retries (delete, 7 d)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import ConfigError, WirewatchError
from connectors.settings import Settings

log = logging.getLogger(__name__)
WEEK_MS = 7 * 86400_000


@dataclass(frozen=True)
class DeliveryTopics:
    state: str = "wirewatch.alert-state"
    log: str = "wirewatch.delivery-log"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DeliveryTopics:
        env = os.environ if environ is None else environ
        values = {}
        for name, default in (("state", cls.state), ("log", cls.log)):
            key = {"state": "WIREWATCH_TOPIC_ALERT_STATE", "log": "WIREWATCH_TOPIC_DELIVERY_LOG"}[name]
            value = env.get(key, default).strip()
            if not value:
                raise ConfigError("must not be empty", key=key)
            values[name] = value
        return cls(**values)


def ensure_topic(settings: Settings, topic: str, *, compact: bool, replication: int | None = None,
                 partitions: int = 1) -> bool:
    """Create `topic` if it does not exist (compacted, or deleting after 7 days). True when created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    config = {"cleanup.policy": "compact"} if compact else {"cleanup.policy": "delete", "retention.ms": str(WEEK_MS)}
    admin = KafkaAdminClient(client_id=f"{settings.client_id}-delivery-admin", **settings.kafka_options())
    try:
        if topic in admin.list_topics():
            return False
        with contextlib.suppress(TopicAlreadyExistsError):   # created meanwhile by another process
            admin.create_topics([NewTopic(topic, partitions, replication or settings.replication,
                                          topic_configs=config)])
        return True
    finally:
        admin.close()


def read_compacted(settings: Settings, topic: str, apply: Callable[[str, Any], object],
                   timeout: float = 60.0) -> None:
    """Every record of a (compacted) topic up to its current end, oldest first: `apply(key, value)`
    with value None for a tombstone and the decoded JSON otherwise. Unreadable records are skipped."""
    consumer = assigned_consumer(settings, topic)
    try:
        catch_up(consumer, apply, timeout)
    finally:
        consumer.close()


def assigned_consumer(settings: Settings, topic: str) -> Any:
    """A consumer without a group, assigned every partition of `topic`, at the beginning."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-state",
                             **settings.kafka_options())
    deadline = time.monotonic() + 30
    partitions = consumer.partitions_for_topic(topic)
    while not partitions and time.monotonic() < deadline:
        time.sleep(0.2)  # metadata of a topic just created: poll with a deadline
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        consumer.close()
        raise WirewatchError(f"topic {topic} does not exist on {settings.bootstrap_servers}")
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    consumer.seek_to_beginning(*assigned)
    return consumer


def catch_up(consumer: Any, apply: Callable[[str, Any], object], timeout: float) -> None:
    """Apply records until the consumer reached the end offsets it had when called."""
    assigned = list(consumer.assignment())
    end = consumer.end_offsets(assigned)
    deadline = time.monotonic() + timeout
    while any(consumer.position(tp) < end[tp] for tp in assigned):
        if time.monotonic() > deadline:
            raise WirewatchError(f"could not read {assigned[0].topic} to its end within {timeout:.0f}s")
        for message in drain(consumer, 200):
            apply_record(message, apply)


def drain(consumer: Any, timeout_ms: int) -> Iterator[Any]:
    for batch in consumer.poll(timeout_ms=timeout_ms).values():
        yield from batch


def apply_record(message: Any, apply: Callable[[str, Any], object]) -> None:
    if message.key is None:
        return
    try:
        key = message.key.decode("utf-8")
        value = None if message.value is None else json.loads(message.value)
        apply(key, value)
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("skipped an unreadable record of %s at offset %s: %s", message.topic, message.offset, exc)


def publish(settings: Settings, topic: str, key: str, value: Mapping[str, Any] | None) -> None:
    """Write one record (None: a tombstone) and wait for the acknowledgement."""
    from kafka import KafkaProducer

    producer = KafkaProducer(client_id=f"{settings.client_id}-state", acks="all", **settings.kafka_options())
    try:
        body = None if value is None else json.dumps(value, ensure_ascii=False).encode("utf-8")
        producer.send(topic, key=key.encode("utf-8"), value=body).get(30)
    finally:
        producer.close(timeout=10)
