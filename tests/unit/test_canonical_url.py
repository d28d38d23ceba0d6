"""One URL, one article id: canonical_url (w3lib + our tracking parameters) and the id migration."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from connectors.article import _legacy_canonical_url, article_id, canonical_url, legacy_article_id
from connectors.base import Connector, Cursor, FeedConfig, Fetched
from connectors.poll import poll_feed
from connectors.rss import RssConnector
from connectors.state import FeedState


def test_percent_encoding_spellings_of_one_path_are_one_article() -> None:
    forms = ("https://news.example/~user/café", "https://news.example/%7Euser/caf%c3%a9",
             "https://news.example/~user/caf%C3%A9")
    assert {canonical_url(u) for u in forms} == {"https://news.example/~user/caf%C3%A9"}
    assert len({article_id(u) for u in forms}) == 1
    assert len({legacy_article_id(u) for u in forms}) == 3       # what the legacy canonical URL did


def test_dot_segments_idna_query_order_ports_and_fragments() -> None:
    same = {
        "https://news.example/world/story": ["https://news.example/world/./story",
                                             "https://news.example/world/africa/../story",
                                             "HTTPS://NEWS.Example.:443/world/story#comments"],
        "https://news.example/a?id=7&page=2": ["https://news.example/a?page=2&id=7",
                                               "https://news.example/a?utm_source=rss&page=2&id=7&fbclid=1",
                                               "https://news.example/a?page=2&UTM%5Fmedium=feed&id=7"],
        "http://xn--bcher-kva.example/neu": ["http://Bücher.example/neu", "http://xn--bcher-kva.example:80/neu"],
        "http://[::1]:8080/x": ["http://user:secret@[::1]:8080/x"],
        "https://news.example/": ["https://news.example", "https://news.example/?"],
    }
    for canonical, spellings in same.items():
        assert canonical_url(canonical) == canonical
        for url in spellings:
            assert canonical_url(url) == canonical, url
    # what differs stays different: an escaped slash, a value's case, another value
    assert canonical_url("https://news.example/a%2Fb") != canonical_url("https://news.example/a/b")
    assert canonical_url("https://news.example/a?id=A") != canonical_url("https://news.example/a?id=a")
    assert canonical_url("https://news.example/a?id=7") != canonical_url("https://news.example/a?id=8")


def test_a_host_idna_refuses_is_kept_as_written_not_a_crash() -> None:
    url = "http://" + "a" * 70 + ".example/x"
    assert canonical_url(url) == url and article_id(url)


_SEGMENT = st.text(alphabet="abcXYZ019-._~%éü /", min_size=0, max_size=12)


@given(st.sampled_from(["http", "https", "HTTP"]), st.sampled_from(["news.example", "NEWS.example.", "bücher.de"]),
       st.lists(_SEGMENT, max_size=4), st.lists(st.tuples(_SEGMENT, _SEGMENT), max_size=4))
def test_canonical_urls_are_fixed_points(scheme: str, host: str, path: list[str],
                                         query: list[tuple[str, str]]) -> None:
    url = f"{scheme}://{host}/" + "/".join(path) + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert article_id(once) == article_id(url)


def test_urls_without_anything_to_normalise_keep_their_legacy_id() -> None:
    """Most news links are plain: their ids do not change (the seed feeds' ids are all the same)."""
    for url in ("https://wire.example/world/us-strikes-syria-militias", "https://news.example/a?id=7",
                "https://news.example/2021/02/26/story.html"):
        assert article_id(url) == legacy_article_id(url)
        assert canonical_url(url) == _legacy_canonical_url(url)


FEED = b"""<rss version="2.0"><channel><title>t</title><link>https://news.example/</link>
<item><title>Strikes on the border</title><link>https://news.example/~desk/frappes-a-la-frontiere-%c3%a9t%c3%a9</link>
<guid>a</guid></item>
<item><title>A plain link</title><link>https://news.example/plain</link><guid>b</guid></item>
</channel></rss>"""


class _Served(RssConnector):
    async def fetch(self, cursor: Cursor) -> Fetched:
        return Fetched(self.feed.url, 200, FEED, fetched_at="2021-02-26T12:00:00Z")


def _poll(state: FeedState) -> Any:
    connector: Connector = _Served(FeedConfig(id="f", url="https://news.example/rss"))
    return asyncio.run(poll_feed(connector, state))


def test_items_published_under_their_legacy_ids_are_not_published_again() -> None:
    first = _poll(FeedState("f", "https://news.example/rss"))
    assert len(first.articles) == 2 and all("legacy_id" not in a for a in first.articles)
    escaped = next(a for a in first.articles if "desk" in a["url"])
    assert escaped["url"] == "https://news.example/~desk/frappes-a-la-frontiere-%C3%A9t%C3%A9"
    old_ids = (legacy_article_id("https://news.example/~desk/frappes-a-la-frontiere-%c3%a9t%c3%a9"),
               legacy_article_id("https://news.example/plain"))
    assert old_ids[0] != escaped["id"]                       # this item's id changed with the canonicaliser

    # the state a connector before the change left: both items published under their old ids
    upgraded = _poll(FeedState("f", "https://news.example/rss", seen=old_ids))
    assert upgraded.articles == []
    assert set(upgraded.outcome.current_ids) == {a["id"] for a in first.articles}   # new ids join `seen`
