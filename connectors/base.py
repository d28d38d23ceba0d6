"""The connector plugin API: a connector turns one external source into Articles.

A connector knows nothing about Kafka: `fetch` does the I/O (conditional GET with the cursor's
validators), `parse` is pure and is tested on files. The runner owns scheduling, state and publishing.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self


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


@dataclass
class Cursor:
    """What a connector needs from the previous poll of a feed (validators for conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: bytes and response metadata, or `not_modified`."""

    url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    not_modified: bool = False
    fetched_at: str = ""


class Connector(abc.ABC):
    kind: ClassVar[str]

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed

    @classmethod
    def from_config(cls, feed: FeedConfig) -> Self:
        """Validate the feed entry for this connector; raise ConfigError when it cannot work."""
        return cls(feed)

    @abc.abstractmethod
    async def fetch(self, cursor: Cursor) -> Fetched:
        """I/O only: fetch the source, honouring the cursor's validators."""

    @abc.abstractmethod
    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        """Pure: turn fetched bytes into Article dicts that satisfy the Article contract."""
