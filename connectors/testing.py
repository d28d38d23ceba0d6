"""The connector contract suite: every connector, ours and third-party, runs it.

Subclass `ConnectorContract` in a test module and fill in the class attributes::

    from connectors.testing import ConnectorContract

    class TestMyConnector(ConnectorContract):
        kind = "my"                                           # the entry-point name
        config = FeedConfig(id="t", url="https://example.test/feed", kind="my")
        samples = [Path(__file__).parent / "testdata" / "my-feed.xml"]   # bodies with >= 1 article
        content_type = "application/xml"

pytest then checks that the kind is registered through the `wirewatch.connectors` entry points,
that `parse` is pure, deterministic and only returns Articles that satisfy the contract, that bad
bytes raise ParseError (never anything else), and that `fetch` goes through the shared fetcher with
a conditional GET against a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from connectors import article as contract
from connectors.base import Connector, Cursor, FeedConfig, Fetched
from connectors.errors import ParseError
from connectors.fetcher import Fetcher, FetchLimits, PrivateAddressGuard
from connectors.registry import connector_for, registry

GARBAGE: tuple[bytes, ...] = (
    b"", b"   ", b"\x00\xff\xfe garbage", b"{not json", b"<html><body>hello</body></html>",
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;'>]><x>&b;</x>",
    b"<?xml version='1.0'?><unclosed>", "plain text \u00e9\u00e8".encode("latin-1"), b"[1, 2, 3]",
)


class ConnectorContract:
    kind: ClassVar[str]
    config: ClassVar[FeedConfig]
    samples: ClassVar[Sequence[Path]]
    content_type: ClassVar[str] = "application/xml"
    fetched_at: ClassVar[str] = "2024-01-02T03:04:05Z"

    def connector(self, **changes: Any) -> Connector:
        return connector_for(dataclasses.replace(self.config, **changes))

    def fetched(self, body: bytes) -> Fetched:
        return Fetched(url=self.config.url, status=200, body=body, headers={"content-type": self.content_type},
                       fetched_at=self.fetched_at)

    def test_kind_is_registered_by_entry_point(self) -> None:
        assert self.config.kind == self.kind
        assert self.kind in registry(), f"{self.kind!r} is not in the wirewatch.connectors entry points"
        assert registry()[self.kind].kind == self.kind
        assert isinstance(self.connector(), registry()[self.kind])

    def test_samples_parse_to_valid_articles(self) -> None:
        assert self.samples, "give at least one sample body"
        for sample in self.samples:
            articles = self.connector().parse(self.fetched(sample.read_bytes()))
            assert articles, f"{sample.name}: no articles"
            for item in articles:
                contract.validate(item)
                assert item["feed"] == self.config.id
                assert item["published_at"] <= "2100", item
                contract.encode(item)    # JSON-serialisable as it stands

    def test_parse_is_pure_and_deterministic(self) -> None:
        for sample in self.samples:
            fetched = self.fetched(sample.read_bytes())
            before = copy.deepcopy(fetched)
            first = self.connector().parse(fetched)
            second = self.connector().parse(fetched)
            assert first == second
            assert fetched == before

    def test_ids_are_stable_across_tracking_parameters(self) -> None:
        for sample in self.samples:
            for item in self.connector().parse(self.fetched(sample.read_bytes())):
                if item["url"].startswith("http"):
                    tracked = item["url"] + ("&" if "?" in item["url"] else "?") + "utm_source=x"
                    assert contract.article_id(tracked) == contract.article_id(item["url"])

    def test_bad_bytes_raise_parse_error_or_yield_nothing(self) -> None:
        for body in GARBAGE:
            try:
                articles = self.connector().parse(self.fetched(body))
            except ParseError:
                continue
            for item in articles:
                contract.validate(item)

    def test_fetch_is_a_conditional_get_through_the_fetcher(self) -> None:
        body = self.samples[0].read_bytes()
        with serve(body, self.content_type) as (url, requests):
            connector = self.connector(url=url)
            fetcher = Fetcher(FetchLimits(timeout_s=10, host_spacing_s=0),
                              PrivateAddressGuard([urlsplit(url).netloc]))   # only this local server
            connector.fetcher = fetcher

            async def both() -> tuple[Fetched, Fetched]:
                try:
                    first = await connector.fetch(Cursor())
                    again = await connector.fetch(Cursor(etag=first.headers.get("etag")))
                    return first, again
                finally:
                    await fetcher.aclose()

            first, again = asyncio.run(both())
        assert first.status == 200 and first.body == body
        assert again.not_modified
        assert requests[1].get("if-none-match") == first.headers["etag"]


@contextmanager
def serve(body: bytes, content_type: str) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """Serve `body` with an ETag on 127.0.0.1; yields (url, request headers seen)."""
    tag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    requests: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            requests.append({k.lower(): v for k, v in self.headers.items()})
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("ETag", tag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/feed", requests
    finally:
        server.shutdown()
        server.server_close()
