"""Guard against re-sending an alert version that reached the broker just before a crash.

The events agent publishes an alert, waits for the broker's ack, then stores the event state. A worker
killed between the two reprocesses the article after restart and would publish the same
(alert_id, version) again. After every partition assignment the agent therefore reads the tail of
the alert topic once and skips versions already there. Alerts are few, so a bounded tail covers far
more than the records a crash can leave uncommitted.
"""

from __future__ import annotations

import logging
from typing import Any

from connectors.settings import Settings

log = logging.getLogger(__name__)


def published_versions(settings: Settings, tail: int = 5000, timeout_ms: int = 10000) -> set[tuple[str, int]]:
    """(alert_id, version) of the last `tail` records of every partition of the alert topic."""
    import json

    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, client_id=f"{settings.client_id}-guard",
                             consumer_timeout_ms=1000, **settings.kafka_options())
    seen: set[tuple[str, int]] = set()
    try:
        partitions = consumer.partitions_for_topic(settings.topics.alerts) or set()
        tps = [TopicPartition(settings.topics.alerts, p) for p in partitions]
        if not tps:
            return seen
        consumer.assign(tps)
        ends: dict[Any, int] = consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - tail))
        remaining = {tp for tp in tps if consumer.position(tp) < ends[tp]}
        while remaining:
            batch = consumer.poll(timeout_ms=timeout_ms)
            if not batch:
                raise TimeoutError(f"could not read the tail of {settings.topics.alerts}")
            for tp, messages in batch.items():
                for message in messages:
                    try:
                        alert = json.loads(message.value)
                        seen.add((alert["alert_id"], int(alert["version"])))
                    except (ValueError, KeyError, TypeError):
                        continue
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()
    log.info("replay guard: %d alert versions in the tail of %s", len(seen), settings.topics.alerts)
    return seen
