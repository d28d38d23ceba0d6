"""RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by feedparser from bytes (never from a URL)."""

from __future__ import annotations

import calendar
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser
import httpx

from connectors.article import article_id, parse_time, rfc3339
from connectors.base import Connector, Cursor, Fetched
from connectors.errors import FetchError, ParseError

USER_AGENT = "wirewatch/0.1 (+https://github.com/wirewatch/wirewatch)"


class RssConnector(Connector):
    kind = "rss"

    async def fetch(self, cursor: Cursor) -> Fetched:
        headers = {"User-Agent": USER_AGENT}
        if cursor.etag:
            headers["If-None-Match"] = cursor.etag
        if cursor.last_modified:
            headers["If-Modified-Since"] = cursor.last_modified
        try:
            async with httpx.AsyncClient(timeout=httpx.Timeout(20.0), follow_redirects=True) as client:
                response = await client.get(self.feed.url, headers=headers)
        except httpx.HTTPError as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from exc
        now = rfc3339(datetime.now(UTC))
        if response.status_code == 304:
            return Fetched(self.feed.url, 304, not_modified=True, headers=dict(response.headers), fetched_at=now)
        if response.status_code >= 400:
            raise FetchError(f"HTTP {response.status_code}", status=response.status_code)
        return Fetched(str(response.url), response.status_code, response.content, dict(response.headers), False, now)

    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        if fetched.body.lstrip()[:1] == b"{":
            feed_meta, entries = json_feed_entries(fetched.body)
        else:
            parsed = feedparser.parse(fetched.body, response_headers={"content-location": fetched.url})
            if parsed.bozo and not parsed.entries:
                raise ParseError(f"not a readable feed: {parsed.get('bozo_exception')}")
            feed_meta, entries = parsed.feed, parsed.entries
        language = self.feed.language or (feed_meta.get("language") or "")[:2].lower() or None
        source = self.feed.name or urlsplit(fetched.url).hostname or self.feed.id
        articles = []
        for entry in entries:
            article = self._article(entry, source, language, fetched.fetched_at)
            if article is not None:
                articles.append(article)
        return articles

    def _article(self, entry: Any, source: str, language: str | None, fetched_at: str) -> dict[str, Any] | None:
        link, guid = entry.get("link"), entry.get("id")
        if not link and not guid:
            return None
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = rfc3339(datetime.fromtimestamp(calendar.timegm(stamp), UTC)) if stamp else fetched_at
        content = "\n".join(part.get("value", "") for part in entry.get("content", []) or [])
        article = {"id": article_id(link, guid), "url": link or guid, "title": entry.get("title", ""),
                   "published_at": published, "source": source, "feed": self.feed.id,
                   "summary": entry.get("summary"), "content": content or None,
                   "fetched_at": fetched_at, "connector": self.kind}
        if language:
            article["language"] = language
        authors = [a.get("name") for a in entry.get("authors", []) if a.get("name")]
        if authors:
            article["authors"] = authors
        tags = [t.get("term") for t in entry.get("tags", []) if t.get("term")]
        if tags:
            article["tags"] = tags
        return article


def json_feed_entries(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """JSON Feed 1.0/1.1 (feedparser 6 reads only XML) mapped onto feedparser's entry keys."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"not a readable JSON Feed: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/"):
        raise ParseError("JSON without a jsonfeed.org version is not a JSON Feed")
    entries = []
    for item in doc.get("items") or []:
        if not isinstance(item, dict):
            continue
        stamp = _json_time(item.get("date_published") or item.get("date_modified"))
        html = item.get("content_html") or item.get("content_text")
        entries.append({
            "id": str(item["id"]) if item.get("id") is not None else None, "link": item.get("url"),
            "title": item.get("title") or "", "summary": item.get("summary"),
            "content": [{"value": html}] if html else [], "published_parsed": stamp,
            "authors": [a for a in item.get("authors") or [] if isinstance(a, dict)],
            "tags": [{"term": t} for t in item.get("tags") or [] if isinstance(t, str)]})
    return {"language": doc.get("language")}, entries


def _json_time(value: Any) -> time.struct_time | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value).astimezone(UTC).timetuple()
    except ValueError:
        return None
