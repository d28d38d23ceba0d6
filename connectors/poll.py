"""One poll of one feed, without Kafka: fetch, skip unchanged bodies, parse, keep the new articles.

`poll_feed` never raises for a feed's own trouble: every failure becomes an Outcome the scheduling
decisions understand, with the error's named kind and message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.article import LEGACY_ID, parse_time
from connectors.base import Connector, Cursor, FeedConfig, Fetched
from connectors.errors import FeedGoneError, FetchError, NotAFeedError, ParseError, WirewatchError
from connectors.schedule import Outcome, cache_seconds
from connectors.state import FeedState

log = logging.getLogger(__name__)

MAX_FULLTEXT_PER_POLL = 20
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"


@dataclass
class PollResult:
    outcome: Outcome
    articles: list[dict[str, Any]] = field(default_factory=list)   # new, not yet published
    fetched: Fetched | None = None


ParseFn = Callable[[Connector, Fetched], Awaitable[list[dict[str, Any]]]]


async def poll_feed(connector: Connector, state: FeedState, parse: ParseFn | None = None) -> PollResult:
    cursor = Cursor(etag=state.etag, last_modified=state.last_modified, body_hash=state.body_hash,
                    url=state.moved_to)
    try:
        fetched = await connector.fetch(cursor)
    except FetchError as exc:
        return PollResult(_failed(exc, "gone" if isinstance(exc, FeedGoneError) else "error"))
    now = datetime.now(UTC)
    common: dict[str, Any] = {"status": fetched.status, "duration": fetched.duration, "bytes": len(fetched.body),
              "moved_to": fetched.permanent_url}
    if fetched.not_modified:
        return PollResult(Outcome("not_modified", cache_seconds=cache_seconds(fetched.headers, now), **common),
                          fetched=fetched)
    digest = hashlib.sha256(fetched.body).hexdigest()
    if digest == state.body_hash:
        return PollResult(Outcome("unchanged", cache_seconds=cache_seconds(fetched.headers, now), **common),
                          fetched=fetched)
    try:
        articles = await (parse or parse_here)(connector, fetched)
    except NotAFeedError as exc:
        if not exc.alternates or state.moved_to:
            return PollResult(_failed(exc, "parse_error", **common), fetched=fetched)
        # An HTML page that announces its feed: poll the feed from now on (kept in the state).
        log.warning("feed %s: %s; using %s", connector.feed.id, exc, exc.alternates[0])
        return await poll_feed(connector, FeedState(**{**state.__dict__, "moved_to": exc.alternates[0]}), parse)
    except ParseError as exc:
        return PollResult(_failed(exc, "parse_error", **common), fetched=fetched)
    legacy = {a["id"]: a.pop(LEGACY_ID) for a in articles if LEGACY_ID in a}   # (never published)
    unique = list({a["id"]: a for a in articles}.values())
    seen = set(state.seen)
    # An item published under its legacy id (before w3lib canonicalised URLs) is not new: the id
    # migration of docs/operations.md. Its new id joins `seen` with this poll's current ids.
    new = [a for a in unique if a["id"] not in seen and legacy.get(a["id"]) not in seen]
    if connector.feed.options.get("fulltext") and new:
        await add_full_text(connector, new)
    outcome = Outcome("ok", current_ids=tuple(a["id"] for a in unique), new_ids=tuple(a["id"] for a in new),
                      item_times=tuple(t for t in map(_epoch, new) if t is not None),
                      etag=fetched.headers.get("etag"), last_modified=fetched.headers.get("last-modified"),
                      body_hash=digest, cache_seconds=cache_seconds(fetched.headers, now,
                                                                    connector.cache_hint(fetched)),
                      **common)
    if cursor.url and not fetched.permanent_url:
        outcome = Outcome(**{**outcome.__dict__, "moved_to": cursor.url})
    return PollResult(outcome, new, fetched)


async def parse_here(connector: Connector, fetched: Fetched) -> list[dict[str, Any]]:
    """Parsing is CPU work: small bodies inline, large ones in a thread so other feeds keep moving."""
    if len(fetched.body) < 256 * 1024:
        return connector.parse(fetched)
    return await asyncio.to_thread(connector.parse, fetched)


def parse_elsewhere(feed: FeedConfig, fetched: Fetched) -> list[dict[str, Any]]:
    """Entry point of a parse worker process (WIREWATCH_CONNECTOR_PARSE_WORKERS)."""
    from connectors.registry import connector_for

    return connector_for(feed).parse(fetched)


def _failed(exc: WirewatchError, kind: str, **common: Any) -> Outcome:
    fetched_status = common.pop("status", None)
    return Outcome(kind, status=getattr(exc, "status", None) or fetched_status, error=str(exc),  # type: ignore[arg-type]
                   error_kind=getattr(exc, "kind", type(exc).__name__),
                   retry_after=getattr(exc, "retry_after", None), **common)


def _epoch(article: dict[str, Any]) -> float | None:
    try:
        return parse_time(article["published_at"]).timestamp()
    except (KeyError, ValueError):
        return None


async def add_full_text(connector: Connector, articles: list[dict[str, Any]]) -> None:
    """Fetch each article's page (same fetcher, same per-host politeness) and keep its main text."""
    try:
        import trafilatura
    except ImportError:
        log.warning("feed %s asks for full text but trafilatura is not installed (the `fulltext` extra)",
                    connector.feed.id)
        return

    async def one(article: dict[str, Any]) -> None:
        try:
            page = await connector.fetcher.get(article["url"], accept=HTML_ACCEPT, access=connector.feed.access)
            text = await asyncio.to_thread(trafilatura.extract, page.body, url=page.url, include_comments=False)
        except Exception as exc:  # noqa: BLE001 - a page we cannot read keeps the feed's own text
            log.info("feed %s: no full text for %s: %s: %s", connector.feed.id, article["id"],
                     type(exc).__name__, exc)
            return
        if text:
            article["content"] = text
            article["full_text"] = True

    await asyncio.gather(*(one(a) for a in articles[:MAX_FULLTEXT_PER_POLL]))
