"""The alert producer: alerts leave the worker through a producer of their own that does not linger."""

from __future__ import annotations

import faust

from connectors.settings import Settings
from streams.worker.credentials import credentials


class AlertSender:
    """Sends alerts with a producer of their own that does not linger.

    The events agent waits for each alert's acknowledgement before it writes the event's new state
    (else a crash between the two could lose the alert). Through the shared producer, which lingers
    5 ms to batch the by-lang, story and changelog records, that wait was 5-7 ms per alert, during
    which the agent processed nothing: with one article in eight opening or updating an alert, the
    agent could not keep up with 1,000 articles/s. This producer sends each alert at once, so
    the wait is one round trip. Same cluster, credentials, acks and partitioner (murmur2 on the story
    id) as the shared producer. Until it has started, alerts go through the shared producer."""

    def __init__(self, app: faust.App, settings: Settings) -> None:
        import mode
        from aiokafka import AIOKafkaProducer
        from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

        self.app, self.producer = app, None
        sender = self

        class Service(mode.Service):
            async def on_start(self) -> None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=(settings.bootstrap_servers or "").split(","), acks="all", linger_ms=0,
                    client_id=f"{settings.app_id}-alerts",
                    request_timeout_ms=int(app.conf.producer_request_timeout * 1000),
                    max_request_size=app.conf.producer_max_request_size,
                    **credentials_to_aiokafka_auth(credentials(settings)))
                await producer.start()
                sender.producer = producer

            async def on_stop(self) -> None:
                producer, sender.producer = sender.producer, None
                if producer is not None:
                    await producer.stop()

        self.service = Service

    async def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send and wait for the acknowledgement."""
        if self.producer is None:
            await (await self.app.producer.send(topic, key, value, partition=None, timestamp=None, headers=None))
        else:
            await self.producer.send_and_wait(topic, value, key=key)
