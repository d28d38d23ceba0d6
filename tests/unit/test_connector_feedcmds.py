"""`wirewatch feeds check|import-opml|export-opml` and the `feeds list` table."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.feedserver import TESTDATA, FeedServer, Route, fixture

from connectors.base import FeedConfig
from connectors.feeds import load_feeds
from connectors.state import FeedState
from streams.shell.feeds import check, import_opml, list_feeds


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FeedServer]:
    with FeedServer() as srv:
        monkeypatch.setenv("WIREWATCH_FETCH_ALLOW_HOSTS", srv.url.split("://")[1])   # guard on, this server allowed
        yield srv


def test_check_says_when_the_guard_refused_a_url_and_how_to_allow_it(monkeypatch: pytest.MonkeyPatch) -> None:
    with FeedServer() as srv:
        monkeypatch.delenv("WIREWATCH_FETCH_ALLOW_HOSTS", raising=False)
        monkeypatch.delenv("WIREWATCH_FETCH_GUARD", raising=False)
        srv.routes["/f.xml"] = Route(b"<rss/>")
        out = io.StringIO()
        assert check(srv.url + "/f.xml", out=out) == 1
    text = out.getvalue()
    assert "FAILED blocked: 127.0.0.1 resolves to loopback address 127.0.0.1" in text
    assert "WIREWATCH_FETCH_ALLOW_HOSTS" in text and not srv.requests


def test_check_a_url_shows_items_and_diagnostics(server: FeedServer) -> None:
    server.routes["/sparse.xml"] = Route(fixture("no-links-no-dates.xml"), etag=False)
    out = io.StringIO()
    assert check(server.url + "/sparse.xml", out=out) == 0
    text = out.getvalue()
    assert "HTTP 200" in text and "3 items" in text and "'Only a guid'" in text
    assert "skipped: no link and no guid" in text
    assert "no ETag or Last-Modified" in text


def test_check_follows_an_html_page_to_its_feed(server: FeedServer) -> None:
    server.routes.update({"/": Route(fixture("page-with-feed.html"), content_type="text/html"),
                          "/feed.xml": Route(fixture("rss20.xml"))})
    out = io.StringIO()
    assert check(server.url + "/", out=out) == 0
    assert "checking " + server.url + "/feed.xml" in out.getvalue() and "3 items" in out.getvalue()


def test_check_reports_a_failure_with_its_kind_and_exit_code(server: FeedServer) -> None:
    server.routes["/busy"] = Route(b"", status=429, headers={"Retry-After": "60"}, etag=False)
    out = io.StringIO()
    assert check(server.url + "/busy", out=out) == 1
    assert "FAILED rate_limited: HTTP 429, retry after 60 s" in out.getvalue()


def test_check_a_saved_file_with_another_connector() -> None:
    out = io.StringIO()
    assert check(str(TESTDATA / "sitemap-news.xml"), kind="sitemap", out=out) == 0
    assert "2 items" in out.getvalue() and "not a news entry" in out.getvalue()


def test_import_opml_writes_a_loadable_list_and_merges_without_duplicates(tmp_path: Path) -> None:
    target = tmp_path / "feeds.yaml"
    target.write_text("feeds:\n  - id: courier\n    url: https://courier.test/feed.xml\n", "utf-8")
    import_opml(TESTDATA / "feedlist.opml", target, out=io.StringIO())
    feeds = load_feeds(target)
    assert [f.id for f in feeds] == ["courier", "atom-test-post", "json-test-wire"]
    assert feeds[1].tags == ("world",)
    out = io.StringIO()
    import_opml(TESTDATA / "feedlist.opml", target, out=out)
    assert "0 feeds added" in out.getvalue() and len(load_feeds(target)) == 3


def test_list_shows_health_per_feed() -> None:
    now = time.time()
    feeds = [FeedConfig(id="a", url="https://a.test/"), FeedConfig(id="b", url="https://b.test/")]
    states = {"a": FeedState("a", "https://a.test/", health="disabled", disabled="HTTP 410 Gone: removed",
                             last_status=410, next_due=None),
              "b": FeedState("b", "https://b.test/", health="ok", last_success=now - 120, next_due=now + 60,
                             interval=900, items_published=12, last_status=200)}
    out = io.StringIO()
    list_feeds(feeds, states, out=out)
    lines = out.getvalue().splitlines()
    assert "disabled" in lines[1] and "HTTP 410 Gone" in lines[1]
    assert "2m ago" in lines[2] and "15m" in lines[2] and " 12 " in lines[2]
    assert lines[-1] == "1 disabled; 1 ok"


def test_import_opml_takes_category_attributes_as_tags(tmp_path: Path) -> None:
    opml = tmp_path / "subs.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body><outline text="Desk">'
                    '<outline type="rss" text="Gulf Wire" xmlUrl="https://gulf.test/rss" '
                    'category="/World/Middle East,politics, /World"/></outline></body></opml>', "utf-8")
    target = tmp_path / "feeds.yaml"
    import_opml(opml, target, out=io.StringIO())
    [feed] = load_feeds(target)
    assert feed.tags == ("desk", "world", "middle-east", "politics")


def test_export_opml_round_trips_through_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xml.etree.ElementTree as ElementTree

    from streams.shell.cli import main
    from streams.shell.feeds import export_opml

    source = tmp_path / "feeds.yaml"
    source.write_text(
        "feeds:\n"
        "  - {id: courier, url: 'https://courier.test/feed.xml?a=1&b=2', name: Northgate Courier, language: en,"
        " tags: [world, europe]}\n"
        "  - {id: odd, url: https://odd.test/rss, name: \"<script>alert(1)</script> & \\x01 \\\"quoted\\\"\"}\n"
        "  - id: private\n    url: https://private.test/rss\n    auth: {bearer: \"${TOKEN}\"}\n", "utf-8")
    monkeypatch.setenv("TOKEN", "very-secret-token")
    out = io.StringIO()
    assert export_opml(source, out) == 0
    assert main(["feeds", "export-opml", str(source), "--output", str(tmp_path / "out.opml")]) == 0
    text = out.getvalue()
    assert text == (tmp_path / "out.opml").read_text("utf-8")
    assert "very-secret-token" not in text and "<script>" not in text and "\x01" not in text
    outlines = ElementTree.fromstring(text).findall("./body/outline")
    assert [o.get("xmlUrl") for o in outlines] == ["https://courier.test/feed.xml?a=1&b=2", "https://odd.test/rss",
                                                   "https://private.test/rss"]
    assert outlines[0].get("category") == "world,europe" and outlines[0].get("language") == "en"
    assert outlines[1].get("title") == '<script>alert(1)</script> &  "quoted"'
    target = tmp_path / "imported.yaml"
    (tmp_path / "round.opml").write_text(text, "utf-8")
    import_opml(tmp_path / "round.opml", target, out=io.StringIO())
    imported = load_feeds(target)
    assert [(f.url, f.language, f.tags) for f in imported] == [
        ("https://courier.test/feed.xml?a=1&b=2", "en", ("world", "europe")), ("https://odd.test/rss", None, ()),
        ("https://private.test/rss", None, ())]
    assert imported[0].name == "Northgate Courier"
