"""Create wirewatch's topics (DESIGN.md table) on a cluster, idempotently."""

from __future__ import annotations

import contextlib
import logging

from connectors.errors import WirewatchError
from connectors.settings import Settings, TopicSpec

log = logging.getLogger(__name__)


def ensure_topics(settings: Settings, replication: int | None = None) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    replication = replication or settings.replication
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    try:
        admin = KafkaAdminClient(client_id=f"{settings.client_id}-admin", request_timeout_ms=15000,
                                 **settings.kafka_options())
    except KafkaError as exc:
        raise WirewatchError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
    try:
        existing = set(admin.list_topics())
        from streams.delivery.topics import DeliveryTopics

        delivery = DeliveryTopics.from_env()   # mute/ack state and the delivery log: compacted, one partition
        specs = [*settings.topics.specs(settings.partitions),
                 *(TopicSpec(name, 1, {"cleanup.policy": "compact"}) for name in (delivery.state, delivery.log))]
        wanted = [NewTopic(spec.name, spec.partitions, replication, topic_configs=dict(spec.config))
                  for spec in specs if spec.name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another process: fine
                admin.create_topics(wanted, timeout_ms=15000)
        return [topic.name for topic in wanted]
    finally:
        admin.close()
