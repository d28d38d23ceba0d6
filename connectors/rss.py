"""RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed by feedparser from bytes (never from a URL).

Single bad items are skipped with a logged diagnostic (the feed's other items still publish); a
body that is no feed at all raises ParseError, an HTML page NotAFeedError with the feeds it links to.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import logging
import re
import time
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from connectors.article import article_id, canonical_url, is_http_url, note_legacy_id, parse_time, rfc3339
from connectors.base import Connector, Cursor, Fetched
from connectors.errors import NotAFeedError, ParseError

log = logging.getLogger(__name__)

MAX_TITLE = 1000
MAX_TEXT = 200_000          # summary/content characters kept (a Kafka message stays well under 1 MB)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
               "application/rdf+xml")
_TAG = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_TTL = re.compile(rb"<ttl>\s*(\d{1,6})\s*</ttl>", re.IGNORECASE)


class RssConnector(Connector):
    kind = "rss"

    async def fetch(self, cursor: Cursor) -> Fetched:
        return await self.fetcher.get(cursor.url or self.feed.url, etag=cursor.etag,
                                      last_modified=cursor.last_modified, access=self.feed.access)

    def cache_hint(self, fetched: Fetched) -> float | None:
        match = _TTL.search(fetched.body[:65536])
        return float(match.group(1)) * 60 if match else None

    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        body = fetched.body.lstrip(b"\xef\xbb\xbf \t\r\n")
        if not body:
            raise ParseError("empty body")
        if body[:1] in (b"{", b"["):
            feed_meta, entries = json_feed_entries(body)
        else:
            feed_meta, entries = _xml_entries(body, fetched)
        language = self.feed.language or _language(feed_meta.get("language"))
        source = self.feed.name or urlsplit(fetched.url).hostname or self.feed.id
        home = _http(feed_meta.get("link"))
        articles = []
        for number, entry in enumerate(entries, 1):
            article = self._article(entry, source, language, fetched.fetched_at, home or fetched.url)
            if isinstance(article, str):
                log.warning("feed %s item %d skipped: %s", self.feed.id, number, article)
            else:
                articles.append(article)
        if not entries:
            log.info("feed %s has no items", self.feed.id)
        return articles

    def _article(self, entry: Any, source: str, language: str | None, fetched_at: str,
                 home: str) -> dict[str, Any] | str:
        link, guid = _http(entry.get("link")), (str(entry.get("id") or "").strip() or None)
        if link is None and guid and _http(guid):
            link = guid                                   # RSS guid isPermaLink
        if link is None and guid is None:
            return "no link and no guid"
        published = _published(entry, fetched_at)
        if published is None:
            log.info("feed %s item %s: no usable date, using the fetch time", self.feed.id, link or guid)
            published = fetched_at
        title = _text(entry.get("title")) or _text(entry.get("summary"))[:120]
        content = "\n".join(str(part.get("value") or "") for part in entry.get("content") or []
                            if isinstance(part, dict))
        article: dict[str, Any] = {"id": article_id(link, guid), "url": canonical_url(link) if link else home,
                   "title": title[:MAX_TITLE], "published_at": published, "source": source, "feed": self.feed.id,
                   "summary": _cap(entry.get("summary")), "content": _cap(content) or None,
                   "fetched_at": fetched_at, "connector": self.kind}
        if language:
            article["language"] = language
        authors = [str(a.get("name")) for a in entry.get("authors") or [] if isinstance(a, dict) and a.get("name")]
        if authors:
            article["authors"] = authors
        tags = [str(t.get("term")) for t in entry.get("tags") or [] if isinstance(t, dict) and t.get("term")]
        if tags:
            article["tags"] = tags
        return note_legacy_id(article, link, guid)


def _xml_entries(body: bytes, fetched: Fetched) -> tuple[Any, list[Any]]:
    head = body[:4096].lower()
    if b"<!entity" in body[:65536].lower():
        # Entity declarations have no business in a feed and are how expansion bombs start.
        raise ParseError("the document declares XML entities; refused (entity expansion)")
    if _looks_like_html(head):
        alternates = discover_feeds(body, fetched.url)
        raise NotAFeedError("an HTML page, not a feed" + (f"; it links to {', '.join(alternates)}" if alternates
                                                          else " (no <link rel=\"alternate\"> feed found)"),
                            alternates)
    # Without a content type feedparser flags every document as bozo; the XML declaration still rules.
    headers = {"content-location": fetched.url,
               "content-type": fetched.headers.get("content-type") or "application/xml"}
    try:
        parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    except Exception as exc:   # hostile bytes crash feedparser (e.g. a NUL in the encoding declaration)
        raise ParseError(f"the feed parser gave up: {type(exc).__name__}: {exc}") from exc
    if not parsed.entries and (parsed.bozo or not parsed.version):
        reason = parsed.get("bozo_exception") or "no RSS, Atom or RDF root element"
        raise ParseError(f"not a readable feed: {reason}")
    if parsed.bozo:
        log.info("feed body is not well-formed (%s); kept the items the lenient parser recovered",
                 parsed.get("bozo_exception"))
    return parsed.feed, parsed.entries


def _looks_like_html(head: bytes) -> bool:
    start = re.sub(rb"^(<\?xml[^>]*>|<!--.*?-->|\s)+", b"", head, flags=re.DOTALL)
    return start.startswith((b"<!doctype html", b"<html")) or (b"<html" in head and b"<rss" not in head
                                                               and b"<feed" not in head and b"<rdf" not in head)


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower().split(";")[0].strip() in _FEED_TYPES \
                and values.get("href"):
            self.found.append(values["href"])


def discover_feeds(html: bytes, base: str) -> tuple[str, ...]:
    """Feed URLs an HTML page announces with <link rel="alternate" type="application/rss+xml" ...>."""
    finder = _LinkFinder()
    with contextlib.suppress(Exception):  # HTMLParser on hostile input: discovery is best effort
        finder.feed(html[:512 * 1024].decode("utf-8", errors="replace"))
    urls = [urljoin(base, href.strip()) for href in finder.found]
    return tuple(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))


def _http(value: Any) -> str | None:
    text = str(value or "").strip()
    return text if is_http_url(text) else None


def _published(entry: Any, fetched_at: str) -> str | None:
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    if not stamp:
        return None
    try:
        moment = datetime.fromtimestamp(calendar.timegm(stamp), UTC)
    except (OverflowError, ValueError, TypeError):
        return None
    if fetched_at and moment > parse_time(fetched_at) + timedelta(days=1):
        return None                                       # a date in the future is a broken clock
    return rfc3339(moment) if moment.year >= 1990 else None


def _text(value: Any) -> str:
    text = _SCRIPT.sub(" ", str(value or ""))     # script/style elements go with their contents
    return re.sub(r"\s+", " ", _TAG.sub(" ", text)).strip()


def _cap(value: Any) -> str | None:
    return str(value)[:MAX_TEXT] if value else None


def _language(value: Any) -> str | None:
    code = str(value or "")[:2].lower()
    return code if re.fullmatch(r"[a-z]{2}", code) else None


def json_feed_entries(body: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """JSON Feed 1.0/1.1 (feedparser 6 reads only XML) mapped onto feedparser's entry keys."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"not a readable JSON Feed: {exc}") from exc
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/"):
        raise ParseError("JSON without a jsonfeed.org version is not a JSON Feed")
    entries = []
    items: list[Any] = doc["items"] if isinstance(doc.get("items"), list) else []
    for item in items:
        if not isinstance(item, dict):
            continue
        stamp = _json_time(item.get("date_published") or item.get("date_modified"))
        html = item.get("content_html") or item.get("content_text")
        authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else []
        if isinstance(item.get("author"), dict):
            authors = [*authors, item["author"]]
        tags: list[Any] = item["tags"] if isinstance(item.get("tags"), list) else []
        entries.append({
            "id": str(item["id"]) if item.get("id") is not None else None,
            "link": item.get("url") or item.get("external_url"),
            "title": item.get("title") or "", "summary": item.get("summary"),
            "content": [{"value": str(html)}] if html else [], "published_parsed": stamp,
            "authors": [a for a in authors if isinstance(a, dict)],
            "tags": [{"term": t} for t in tags if isinstance(t, str)]})
    return {"language": doc.get("language"), "link": doc.get("home_page_url")}, entries


def _json_time(value: Any) -> time.struct_time | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_time(value).astimezone(UTC).timetuple()
    except ValueError:
        return None
