"""News sitemaps (sitemaps.org + the news extension): a second, different connector on the same API.

A news sitemap lists a site's recent articles as `<url><loc>` with `<news:news>` (publication name
and language, publication date, title, keywords). Entries without `<news:news>` are ordinary pages
and are skipped. Parsed with defusedxml (no entity expansion, no external entities); gzipped
sitemaps (`.xml.gz` served as a file) are inflated with the same size cap as HTTP bodies.
"""

from __future__ import annotations

import logging
import re
import zlib
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from connectors.article import article_id, canonical_url, is_http_url, note_legacy_id, parse_time, rfc3339
from connectors.base import Connector, Cursor, Fetched
from connectors.errors import ConfigError, ParseError

log = logging.getLogger(__name__)

SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
NEWS = "{http://www.google.com/schemas/sitemap-news/0.9}"
MAX_INFLATED = 50 * 1024 * 1024
ACCEPT = "application/xml, text/xml;q=0.9, application/x-gzip;q=0.5, */*;q=0.1"


class SitemapConnector(Connector):
    kind = "sitemap"

    @classmethod
    def from_config(cls, feed: Any) -> SitemapConnector:
        if feed.options.get("fulltext") not in (None, True, False):
            raise ConfigError("options.fulltext must be true or false", key=f"feed {feed.id}")
        return cls(feed)

    async def fetch(self, cursor: Cursor) -> Fetched:
        return await self.fetcher.get(cursor.url or self.feed.url, etag=cursor.etag,
                                      last_modified=cursor.last_modified, accept=ACCEPT, access=self.feed.access)

    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        root = _root(fetched.body)
        if root.tag == f"{SM}sitemapindex":
            children = [loc.text.strip() for loc in root.iter(f"{SM}loc") if loc.text]
            raise ParseError(f"a sitemap index, not a news sitemap; add its news sitemaps as feeds: "
                             f"{', '.join(children[:5])}{' ...' if len(children) > 5 else ''}")
        if root.tag != f"{SM}urlset":
            raise ParseError(f"not a sitemap: root element {root.tag!r}")
        articles = []
        for number, url in enumerate(root.iter(f"{SM}url"), 1):
            article = self._article(url, fetched)
            if isinstance(article, str):
                log.info("feed %s sitemap entry %d skipped: %s", self.feed.id, number, article)
            else:
                articles.append(article)
        return articles

    def _article(self, url: Element, fetched: Fetched) -> dict[str, Any] | str:
        loc = _text(url.find(f"{SM}loc"))
        news = url.find(f"{NEWS}news")
        if not loc or not is_http_url(loc):
            return "no http(s) <loc>"
        if news is None:
            return "not a news entry (no <news:news>)"
        publication = news.find(f"{NEWS}publication")
        name = _text(publication.find(f"{NEWS}name")) if publication is not None else ""
        language = _text(publication.find(f"{NEWS}language")) if publication is not None else ""
        published = _date(_text(news.find(f"{NEWS}publication_date"))) or fetched.fetched_at
        article: dict[str, Any] = {
            "id": article_id(loc), "url": canonical_url(loc), "title": _text(news.find(f"{NEWS}title"))[:1000],
            "published_at": published, "source": self.feed.name or name or self.feed.id, "feed": self.feed.id,
            "fetched_at": fetched.fetched_at, "connector": self.kind}
        code = self.feed.language or language[:2].lower()
        if re.fullmatch(r"[a-z]{2}", code or ""):
            article["language"] = code
        keywords = [k.strip() for k in _text(news.find(f"{NEWS}keywords")).split(",") if k.strip()]
        if keywords:
            article["tags"] = keywords
        return note_legacy_id(article, loc)


def _root(body: bytes) -> Element:
    if body[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_INFLATED)
        except zlib.error as exc:
            raise ParseError(f"corrupt gzipped sitemap: {exc}") from exc
        if inflater.unconsumed_tail:
            raise ParseError(f"gzipped sitemap inflates beyond {MAX_INFLATED} bytes")
    try:
        return ElementTree.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError(f"refused: {type(exc).__name__} (DTDs and entities are not allowed)") from exc
    except ElementTree.ParseError as exc:
        raise ParseError(f"not well-formed XML: {exc}") from exc


def _text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _date(value: str) -> str | None:
    """W3C datetime (YYYY-MM-DD, or with time and zone) to RFC 3339 UTC."""
    if not value:
        return None
    try:
        return rfc3339(parse_time(value if "T" in value else value + "T00:00:00Z"))
    except ValueError:
        return None
