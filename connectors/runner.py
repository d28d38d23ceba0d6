"""The connector runner: the only Kafka code on the ingestion side.

It polls every feed through its connector and publishes new Articles to `news.articles`
(key = article id), validated against the Article contract first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from connectors import article as contract
from connectors.base import Connector, Cursor, FeedConfig
from connectors.errors import WirewatchError
from connectors.registry import connector_for
from connectors.settings import Settings

log = logging.getLogger(__name__)


def make_producer(settings: Settings) -> Any:
    from kafka import KafkaProducer

    return KafkaProducer(acks="all", enable_idempotence=True, compression_type="gzip", linger_ms=20,
                         client_id=f"{settings.client_id}-connector", **settings.kafka_options())


class Runner:
    def __init__(self, feeds: Sequence[FeedConfig], settings: Settings, producer: Any) -> None:
        self.settings = settings
        self.producer = producer
        self.connectors: list[Connector] = [connector_for(feed) for feed in feeds]
        self.cursors: dict[str, Cursor] = {feed.id: Cursor() for feed in feeds}
        self.seen: dict[str, set[str]] = {feed.id: set() for feed in feeds}

    async def poll(self, connector: Connector) -> int:
        """Fetch and parse one feed and publish the articles not published before."""
        feed_id = connector.feed.id
        fetched = await connector.fetch(self.cursors[feed_id])
        if fetched.not_modified:
            return 0
        self.cursors[feed_id] = Cursor(etag=fetched.headers.get("etag"),
                                       last_modified=fetched.headers.get("last-modified"))
        published = 0
        for item in connector.parse(fetched):
            if item["id"] in self.seen[feed_id]:
                continue
            try:
                contract.validate(item)
            except contract.InvalidRecord as exc:
                log.warning("invalid article from feed %s: %s", feed_id, exc)
                self.producer.send(f"{self.settings.topics.articles}.dlq", key=item.get("id", "").encode(),
                                   value=contract.encode(item), headers=[("error", str(exc).encode())])
                continue
            self.producer.send(self.settings.topics.articles, key=item["id"].encode(),
                               value=contract.encode(item))
            self.seen[feed_id].add(item["id"])
            published += 1
        await asyncio.to_thread(self.producer.flush)
        return published

    async def run(self, stop: asyncio.Event, interval: float = 60.0) -> None:
        while not stop.is_set():
            results = await asyncio.gather(*(self.poll(c) for c in self.connectors), return_exceptions=True)
            for connector, result in zip(self.connectors, results, strict=True):
                if isinstance(result, WirewatchError):
                    log.warning("feed %s failed: %s", connector.feed.id, result)
                elif isinstance(result, BaseException):
                    log.error("feed %s crashed: %r", connector.feed.id, result)
                elif result:
                    log.info("feed %s: %d new articles", connector.feed.id, result)
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                pass
