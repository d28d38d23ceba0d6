"""Create wirewatch's topics (DESIGN.md table) on a cluster, idempotently."""

from __future__ import annotations

import contextlib
import logging

from connectors.errors import WirewatchError
from connectors.settings import Settings

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
        wanted = [NewTopic(spec.name, spec.partitions, replication, topic_configs=dict(spec.config))
                  for spec in settings.topics.specs(settings.partitions) if spec.name not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another process: fine
                admin.create_topics(wanted, timeout_ms=15000)
        return [topic.name for topic in wanted]
    finally:
        admin.close()
