"""One poll without Kafka: unchanged bodies are not parsed again, full text comes from the article page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.feedserver import FeedServer, Route

from connectors.base import FeedConfig
from connectors.fetcher import Fetcher, FetchLimits, PrivateAddressGuard
from connectors.poll import poll_feed
from connectors.registry import connector_for
from connectors.state import FeedState

PAGE = ("<html><head><title>Ferry</title></head><body><nav>Home | World | Sport</nav><article><h1>Ferry "
        "timetable</h1>" + "".join(f"<p>Paragraph {i}: the council approved a new ferry timetable after a long "
                                   f"debate about winter crossings and the cost of fuel for the harbour.</p>"
                                   for i in range(8)) + "</article><footer>Contact us</footer></body></html>")


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def feed_xml(base: str) -> bytes:
    return (f"<rss version='2.0'><channel><title>t</title><link>{base}/</link><item><title>Ferry timetable</title>"
            f"<link>{base}/ferry</link><guid>ferry-1</guid><description>Short teaser.</description></item>"
            "</channel></rss>").encode()


def poll(config: FeedConfig, state: FeedState) -> Any:
    async def main() -> Any:
        connector = connector_for(config)
        connector.fetcher = Fetcher(FetchLimits(timeout_s=5, host_spacing_s=0), PrivateAddressGuard(["127.0.0.1"]))
        try:
            return await poll_feed(connector, state)
        finally:
            await connector.fetcher.aclose()
    return asyncio.run(main())


def test_full_text_is_fetched_from_the_article_page_when_the_feed_asks(server: FeedServer) -> None:
    server.routes.update({"/feed.xml": Route(feed_xml(server.url)),
                          "/ferry": Route(PAGE.encode(), content_type="text/html; charset=utf-8")})
    config = FeedConfig(id="ft", url=server.url + "/feed.xml", options={"fulltext": True})
    result = poll(config, FeedState("ft", config.url))
    [article] = result.articles
    assert article["full_text"] is True
    assert "Paragraph 7: the council approved" in article["content"] and "Contact us" not in article["content"]
    assert "text/html" in server.hits("/ferry")[0]["accept"]


def test_without_the_option_no_page_is_fetched(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(feed_xml(server.url))
    config = FeedConfig(id="plain", url=server.url + "/feed.xml")
    assert poll(config, FeedState("plain", config.url)).articles[0].get("full_text") is None
    assert server.hits("/ferry") == []


def test_an_unchanged_body_is_not_parsed_again_and_seen_items_are_not_new(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(feed_xml(server.url), etag=False)
    config = FeedConfig(id="same", url=server.url + "/feed.xml")
    first = poll(config, FeedState("same", config.url))
    assert first.outcome.kind == "ok" and len(first.articles) == 1
    again = poll(config, FeedState("same", config.url, body_hash=first.outcome.body_hash))
    assert again.outcome.kind == "unchanged" and again.articles == []
    seen = poll(config, FeedState("same", config.url, seen=first.outcome.new_ids))
    assert seen.outcome.kind == "ok" and seen.articles == [] and seen.outcome.current_ids == first.outcome.new_ids


def test_parse_errors_cross_process_boundaries_intact() -> None:
    import pickle

    from connectors.errors import NotAFeedError

    error = pickle.loads(pickle.dumps(NotAFeedError("an HTML page", ("https://a.test/feed",))))
    assert str(error) == "an HTML page" and error.alternates == ("https://a.test/feed",)
