"""The connector plugin API: a connector turns one external source into Articles.

A connector knows nothing about Kafka: `fetch` does the I/O (conditional GET with the cursor's
validators, through the shared `Fetcher`, which owns HTTP and politeness), `parse` is pure and is
tested on files. The runner owns scheduling, state and publishing. docs/connectors.md shows how to
write one; `connectors.testing` is the contract suite every connector runs.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from connectors.fetcher import Access, Fetched, Fetcher

__all__ = ["Access", "Connector", "Cursor", "FeedConfig", "Fetched", "Fetcher"]


@dataclass(frozen=True)
class FeedConfig:
    """One entry of the feed list."""

    id: str
    url: str
    kind: str = "rss"
    name: str | None = None
    language: str | None = None
    country: str | None = None
    interval: float | None = None          # seconds between polls; None: the scheduler decides
    tags: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    access: Access = field(default_factory=Access)  # headers, credentials, user agent (connectors.fetcher)


@dataclass
class Cursor:
    """What a connector needs from the previous poll of a feed (validators for conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    url: str | None = None                 # where the feed lives now (permanent redirect, discovery)


class Connector(abc.ABC):
    kind: ClassVar[str]

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self._fetcher: Fetcher | None = None

    @classmethod
    def from_config(cls, feed: FeedConfig) -> Self:
        """Validate the feed entry for this connector; raise ConfigError when it cannot work."""
        return cls(feed)

    @property
    def fetcher(self) -> Fetcher:
        """The shared HTTP fetcher (the runner sets it); a private one when used standalone."""
        if self._fetcher is None:
            self._fetcher = Fetcher()
        return self._fetcher

    @fetcher.setter
    def fetcher(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher

    @abc.abstractmethod
    async def fetch(self, cursor: Cursor) -> Fetched:
        """I/O only: fetch the source, honouring the cursor's validators."""

    @abc.abstractmethod
    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        """Pure: turn fetched bytes into Article dicts that satisfy the Article contract.

        Raise ParseError when the bytes are not readable at all; skip (and log) single bad items.
        """

    def cache_hint(self, fetched: Fetched) -> float | None:
        """Seconds the source asks us not to poll again within (e.g. RSS `<ttl>`); None: no hint."""
        return None
