"""Per-feed connector state, one JSON record per feed in the compacted `wirewatch.feed-state` topic.

The record holds everything a connector restarted anywhere needs: the validators for conditional
GET, the ids already published (bounded, but never dropping an id still in the feed), the backoff
and the health figures. Times are wall-clock epoch seconds so they survive a move between machines.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

VERSION = 1


@dataclass(frozen=True)
class FeedState:
    feed: str
    url: str = ""                           # the configured URL this state belongs to
    moved_to: str | None = None             # permanent redirect target or discovered feed URL
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    seen: tuple[str, ...] = ()              # published article ids, newest first
    item_times: tuple[float, ...] = ()      # recent distinct publish times (posting-rate estimate)
    next_due: float | None = 0.0            # None: disabled
    interval: float = 0.0                   # the interval the last success chose
    consecutive_failures: int = 0
    not_found: int = 0                      # consecutive 404s
    disabled: str | None = None             # why the feed is disabled (410, repeated 404)
    health: str = "new"
    last_status: int | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    last_attempt: float | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_bytes: int = 0
    fetches: int = 0
    not_modified: int = 0
    items_published: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["v"] = VERSION
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes | str) -> FeedState:
        doc = json.loads(raw)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in known}
        for name in ("seen", "item_times"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)

    @classmethod
    def fresh(cls, feed: str, url: str) -> FeedState:
        return cls(feed=feed, url=url)

    def for_url(self, url: str) -> FeedState:
        """The state to use for a feed whose configured URL is `url`: a changed URL starts clean
        (validators, redirects and a disabled flag belonged to the old address), keeping seen ids."""
        if self.url == url or not self.url:
            return self if self.url else FeedState(**{**self.__dict__, "url": url})
        return FeedState(feed=self.feed, url=url, seen=self.seen, item_times=self.item_times,
                         items_published=self.items_published)
