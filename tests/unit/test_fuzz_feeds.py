"""Hostile feeds: byte-level fuzzing of parse -> normalise -> score, XML entity bombs and external
entities, a 1 GB decompression bomb and a 20 MB single item. Bounded: each test well under 60 s."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from helpers.feedserver import FeedServer, Route
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import article as contract
from connectors.base import FeedConfig, Fetched
from connectors.errors import BodyTooLarge, ParseError
from connectors.fetcher import Fetcher, FetchLimits, PrivateAddressGuard
from connectors.registry import connector_for
from streams.alerts import AlertPolicy
from streams.escalation import Rules
from streams.pipeline import Pipeline

FEEDS = Path(__file__).resolve().parents[1] / "testdata" / "feeds"
SEEDS = {p.name: p.read_bytes() for p in sorted(FEEDS.iterdir())
         if p.suffix in (".xml", ".json", ".html", ".txt") and p.name != "sitemap-news.xml"}
URL = "https://fuzz.example/feed"
RULES = Rules.load()


def parse(body: bytes, content_type: str = "application/xml") -> list[dict[str, Any]]:
    connector = connector_for(FeedConfig(id="fuzz", url=URL, kind="rss"))
    return connector.parse(Fetched(URL, 200, body, {"content-type": content_type},
                                   fetched_at="2024-05-01T10:00:00Z"))


def through_pipeline(body: bytes) -> list[dict[str, Any]]:
    """Parse, validate every article against the Article schema, normalise and score it."""
    try:
        items = parse(body)
    except ParseError:
        return []
    pipeline = Pipeline(RULES, AlertPolicy())
    for item in items:
        contract.validate(item)                              # InvalidRecord would fail the test
        decision, _alerts = pipeline.process(item)
        assert decision["id"] == item["id"]
    return items


ENCODINGS = [b'<?xml version="1.0" encoding="utf-16"?>', b'<?xml version="1.0" encoding="iso-8859-1"?>',
             b'<?xml version="1.0" encoding="x-nonsense"?>', b'<?xml version="1.0" encoding="shift_jis"?>',
             b"\xef\xbb\xbf", b"\xff\xfe", b'<?xml version="1.0" encoding="utf-32"?>']


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    body = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "truncate", "flip", "encoding", "duplicate", "markup"]))
        at = draw(st.integers(0, len(body)))
        if op == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "delete":
            del body[at:at + draw(st.integers(1, 256))]
        elif op == "truncate":
            del body[at:]
        elif op == "flip" and body:
            body[min(at, len(body) - 1)] = draw(st.integers(0, 255))
        elif op == "encoding":
            body[0:0] = draw(st.sampled_from(ENCODINGS))
        elif op == "duplicate":
            body[at:at] = body[at:at + draw(st.integers(1, 2048))]
        else:
            body[at:at] = draw(st.sampled_from([b"<item>", b"</item>", b"<![CDATA[", b"]]>", b"&amp;", b"&#0;",
                                                b"&#xD800;", b"<script>alert(1)</script>", b"<!--", b"\x00",
                                                b"<title>", b"<entry>", b'"}', b"{", b"<rss version='2.0'>"]))
    return bytes(body)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=mutated())
def test_mutated_feeds_raise_only_parse_errors_and_yield_valid_articles(body: bytes) -> None:
    started = time.monotonic()
    through_pipeline(body)
    assert time.monotonic() - started < 10, "one mutated feed took over 10 s"


def test_every_seed_feed_goes_through() -> None:
    assert sum(len(through_pipeline(body)) for body in SEEDS.values()) > 0


# --- XML entities -------------------------------------------------------------------------------

LAUGHS = (b'<!DOCTYPE rss [<!ENTITY lol "lol">' + b"".join(
    b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b"]>")
ITEM = (b"<rss version='2.0'><channel><title>t</title><item><title>T &lol9;</title>"
        b"<link>https://bomb.example/1</link><description>%s</description></item></channel></rss>")
PAD = b"<!--" + b" " * 70_000 + b"-->"       # pushes the DTD past the cheap 64 kB pre-check


@pytest.mark.parametrize("body", [
    (FEEDS / "entity-bomb.xml").read_bytes(),
    b"<?xml version='1.0'?>" + LAUGHS + ITEM % b"&lol9;",
    b"<?xml version='1.0'?>" + PAD + LAUGHS + ITEM % b"&lol9;",
    b"<?xml version='1.0'?><!DOCTYPE rss [<!ENTITY % pe '<!ENTITY lol9 \"x\">'> %pe;]>" + ITEM % b"&lol9;",
], ids=["seed-bomb", "billion-laughs", "padded-billion-laughs", "parameter-entity"])
def test_entity_expansion_is_refused_or_inert(body: bytes) -> None:
    started = time.monotonic()
    try:
        items = through_pipeline(body)
    except ParseError:
        items = []
    assert time.monotonic() - started < 5
    for item in items:
        assert "lollollol" not in str(item), "entities were expanded"


def test_external_entities_are_refused_or_inert() -> None:
    """file:// contents never appear, and an http:// entity is never fetched (the server is ours)."""
    with FeedServer() as server:
        server.routes["/xxe"] = Route(b"FETCHED-BY-THE-PARSER", content_type="text/plain")
        bodies = []
        for system in (b"file:///etc/passwd", b"file:///etc/hostname", server.url.encode() + b"/xxe"):
            dtd = b"<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"" + system + b"\">]>"
            doc = ITEM.replace(b"&lol9;", b"&xxe;") % b"&xxe;"
            bodies += [b"<?xml version='1.0'?>" + dtd + doc, b"<?xml version='1.0'?>" + PAD + dtd + doc,
                       b"<?xml version='1.0'?><!DOCTYPE rss SYSTEM \"" + system + b"\">" + doc]
        hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\0"
        for body in bodies:
            for item in through_pipeline(body):
                text = str(item)
                assert "root:" not in text and "FETCHED-BY-THE-PARSER" not in text
                assert not hostname or hostname not in text.replace("fuzz.example", "")
        assert not server.requests, "the parser fetched an external entity"


# --- size ---------------------------------------------------------------------------------------

def gzip_of_zeros(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (16 * 1024 * 1024)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    return b"".join(parts) + packer.flush()


def fetch(server: FeedServer, path: str, limits: FetchLimits) -> Any:
    async def main() -> Any:
        fetcher = Fetcher(limits, PrivateAddressGuard([server.url.split("://")[1]]))
        try:
            return await fetcher.get(server.url + path)
        finally:
            await fetcher.aclose()
    return asyncio.run(main())


def test_a_gigabyte_decompression_bomb_stops_at_the_body_cap() -> None:
    bomb = gzip_of_zeros(1 << 30)                   # 1 GB of zeros in about 1 MB
    assert len(bomb) < 2 * 1024 * 1024
    with FeedServer() as server:
        server.routes["/bomb.xml"] = lambda h: h.reply(200, bomb, {"Content-Encoding": "gzip",
                                                                   "Content-Type": "application/rss+xml"})
        started = time.monotonic()
        with pytest.raises(BodyTooLarge, match="decompressed"):
            fetch(server, "/bomb.xml", FetchLimits(timeout_s=20, host_spacing_s=0))   # default 10 MB cap
        assert time.monotonic() - started < 5


HUGE = 20 * 1024 * 1024


def huge_feed() -> bytes:
    description = b"Rockets struck the port, killing 3 people. " * (HUGE // 44)
    return (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><title>Huge</title>"
            b"<link>https://huge.example/1</link><description>" + description + b"</description></item>"
            b"<item><title>Small</title><link>https://huge.example/2</link><description>ok</description></item>"
            b"</channel></rss>")


def test_a_20_mb_item_is_refused_by_the_fetcher_at_the_default_cap() -> None:
    body = huge_feed()
    with FeedServer() as server:
        server.routes["/huge.xml"] = Route(body)
        with pytest.raises(BodyTooLarge):
            fetch(server, "/huge.xml", FetchLimits(timeout_s=20, host_spacing_s=0))
        # gzip-compressed (small on the wire) it still stops at the cap, while decompressing
        server.routes["/huge.gz"] = lambda h: h.reply(200, gzip.compress(body, 1), {"Content-Encoding": "gzip"})
        with pytest.raises(BodyTooLarge, match="decompressed"):
            fetch(server, "/huge.gz", FetchLimits(timeout_s=20, host_spacing_s=0))


def test_a_20_mb_item_under_a_raised_cap_parses_to_capped_clean_items() -> None:
    started = time.monotonic()
    items = parse(huge_feed())
    assert [i["title"] for i in items] == ["Huge", "Small"]
    pipeline = Pipeline(RULES, AlertPolicy())
    for item in items:
        contract.validate(item)
        assert len(item.get("summary") or "") <= 200_000 and len(contract.encode(item)) < 1024 * 1024
        pipeline.process(item)
    assert time.monotonic() - started < 30
