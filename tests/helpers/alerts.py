"""Alerts put on the real broker's alert topic, as the worker would publish them (keyed by story id)."""

from __future__ import annotations

import json
from typing import Any

from connectors.settings import Settings


def publish_alerts(settings: Settings, *alerts: dict[str, Any]) -> None:
    """Each alert acknowledged by the broker before the next is sent (the order a consumer will see)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_options())
    try:
        for value in alerts:
            producer.send(settings.topics.alerts, key=value["story_id"].encode(),
                          value=json.dumps(value).encode()).get(30)
    finally:
        producer.close()
