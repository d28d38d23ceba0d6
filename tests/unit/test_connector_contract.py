"""Our connectors run the same contract suite a third-party connector runs (connectors.testing)."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from helpers.feedserver import TESTDATA

from connectors.base import FeedConfig
from connectors.errors import ConfigError
from connectors.registry import build_registry
from connectors.testing import ConnectorContract


class TestRssConnector(ConnectorContract):
    kind = "rss"
    config = FeedConfig(id="contract-rss", url="https://courier.test/feed.xml", kind="rss")
    samples = [TESTDATA / name for name in ("rss20.xml", "rss091.xml", "rdf10.xml", "atom.xml", "jsonfeed.json",
                                            "malformed.xml", "wrong-encoding.xml", "no-links-no-dates.xml")]
    content_type = "application/rss+xml"


class TestSitemapConnector(ConnectorContract):
    kind = "sitemap"
    config = FeedConfig(id="contract-sitemap", url="https://sitemap.test/news.xml", kind="sitemap")
    samples = [TESTDATA / "sitemap-news.xml"]


def test_a_duplicate_connector_name_is_an_error() -> None:
    points = [EntryPoint("rss", "connectors.rss:RssConnector", "wirewatch.connectors"),
              EntryPoint("rss", "connectors.sitemap:SitemapConnector", "wirewatch.connectors")]
    with pytest.raises(ConfigError, match="two connectors are registered as 'rss'"):
        build_registry(points)


def test_the_same_entry_point_seen_twice_is_not_a_duplicate() -> None:
    point = EntryPoint("rss", "connectors.rss:RssConnector", "wirewatch.connectors")
    assert list(build_registry([point, point])) == ["rss"]


def test_an_entry_point_that_is_not_a_connector_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a Connector"):
        build_registry([EntryPoint("bad", "connectors.feeds:load_feeds", "wirewatch.connectors")])
