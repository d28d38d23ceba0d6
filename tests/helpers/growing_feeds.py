"""RSS feeds on 127.0.0.1 whose item lists grow while a test runs, for the fault-injection suite.

The articles of `helpers.stream_data.story_articles` (a wire original, republished copies, sometimes a
higher toll) are spread over one feed per outlet (`feed0` has the originals, `feedN` the N-th copies).
`release(n)` makes the first n articles of the stream visible; each feed serves its visible items,
newest first, with an ETag, so a connector polling it sees new items appear over time.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime
from email.utils import format_datetime
from html import escape
from pathlib import Path
from typing import Any

from connectors.article import article_id, canonical_url
from helpers.feedserver import FeedServer, Route, _Handler
from helpers.stream_data import story_articles


def rss_item(article: dict[str, Any]) -> str:
    published = format_datetime(datetime.fromisoformat(article["published_at"].replace("Z", "+00:00")))
    html = "".join(f"<p>{escape(p)}</p>" for p in article["content"].split("\n\n"))
    return (f"<item><title>{escape(article['title'])}</title><link>{escape(article['url'])}</link>"
            f"<guid isPermaLink=\"true\">{escape(article['url'])}</guid><pubDate>{published}</pubDate>"
            f"<content:encoded><![CDATA[{html}]]></content:encoded></item>")


def rss_document(feed: str, items: list[dict[str, Any]]) -> bytes:
    return ("<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\" "
            "xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel>"
            f"<title>{feed}</title><link>https://{feed}.example/</link><description>growing</description>"
            f"<language>en</language>{''.join(rss_item(a) for a in reversed(items))}</channel></rss>").encode()


class GrowingFeeds:
    """The HTTP side: `with GrowingFeeds(n_stories) as feeds: feeds.release(k)`."""

    def __init__(self, n_stories: int, seed: int = 7) -> None:
        self.articles = story_articles(n_stories, seed)
        self.by_feed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for article in self.articles:
            self.by_feed[article["feed"]].append(article)
        self.released = 0
        self._lock = threading.Lock()
        self.server = FeedServer()
        for feed in self.by_feed:
            self.server.routes[f"/{feed}.xml"] = self._route(feed)

    @property
    def ids(self) -> dict[str, str]:
        """The id the connector gives each item (hash of the canonical URL) -> the stream's own id."""
        return {article_id(canonical_url(a["url"])): a["id"] for a in self.articles}

    def release(self, n: int) -> None:
        with self._lock:
            self.released = max(self.released, min(n, len(self.articles)))

    def visible(self, feed: str) -> list[dict[str, Any]]:
        with self._lock:
            shown = {a["id"] for a in self.articles[:self.released]}
        return [a for a in self.by_feed[feed] if a["id"] in shown]

    def _route(self, feed: str) -> Any:
        def serve(handler: _Handler) -> None:
            handler.serve(Route(body=rss_document(feed, self.visible(feed))))
        return serve

    def feed_list(self, path: Path, interval: float) -> Path:
        """A feed list for `wirewatch connect --feeds`; `name` makes each outlet its own source."""
        lines = ["feeds:"]
        for feed in sorted(self.by_feed):
            lines += [f"  - id: {feed}", f"    url: {self.server.url}/{feed}.xml",
                      f"    name: {self.by_feed[feed][0]['source']}", "    language: en", f"    interval: {interval}"]
        path.write_text("\n".join(lines) + "\n", "utf-8")
        return path

    def __enter__(self) -> GrowingFeeds:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)
