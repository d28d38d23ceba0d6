"""`wirewatch feeds check|list|import-opml|export-opml`: what an operator runs to add, inspect and debug feeds."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import yaml

from connectors import article as contract
from connectors.base import Connector, Cursor, FeedConfig, Fetched
from connectors.errors import ConfigError, FetchError, NotAFeedError, ParseError
from connectors.feeds import load_feeds
from connectors.fetcher import Fetcher, FetchLimits
from connectors.registry import connector_for
from connectors.schedule import cache_seconds
from connectors.state import FeedState


@dataclass
class Check:
    feed: FeedConfig
    fetched: Fetched | None = None
    articles: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: list[str] = field(default_factory=list)
    error: str | None = None


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(f"{record.levelname.lower()}: {record.getMessage()}")


@contextmanager
def _diagnostics(into: list[str]) -> Iterator[None]:
    handler, logger = _Collect(into), logging.getLogger("connectors")
    old, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False          # shown in the report, not twice on stderr
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
        logger.propagate = propagate


async def check_feed(connector: Connector, body: bytes | None = None) -> Check:
    """Fetch (unless `body` is given) and parse one feed, collecting every diagnostic on the way."""
    result = Check(connector.feed)
    with _diagnostics(result.diagnostics):
        try:
            if body is None:
                result.fetched = await connector.fetch(Cursor())
            else:
                result.fetched = Fetched(connector.feed.url, 200, body, fetched_at=contract.rfc3339(_now()))
            try:
                result.articles = connector.parse(result.fetched)
            except NotAFeedError as exc:
                if not exc.alternates or body is not None:
                    raise
                result.diagnostics.append(f"warning: {exc}; checking {exc.alternates[0]}")
                result.fetched = await connector.fetch(Cursor(url=exc.alternates[0]))
                result.articles = connector.parse(result.fetched)
        except (FetchError, ParseError) as exc:
            result.error = f"{getattr(exc, 'kind', type(exc).__name__)}: {exc}"
            return result
    for item in result.articles:
        try:
            contract.validate(item)
        except contract.InvalidRecord as exc:
            result.diagnostics.append(f"error: item {item.get('id')} would go to the DLQ: {exc}")
    fetched = result.fetched
    if fetched is not None and body is None:
        hint = cache_seconds(fetched.headers, _now(), connector.cache_hint(fetched))
        if hint:
            result.diagnostics.append(f"info: the feed asks not to be polled within {hint:.0f} s")
        if not fetched.headers.get("etag") and not fetched.headers.get("last-modified"):
            result.diagnostics.append("info: no ETag or Last-Modified: every poll downloads the whole body "
                                      "(an unchanged body is still not parsed again)")
        if fetched.permanent_url:
            result.diagnostics.append("warning: permanently redirected; update the feed list to "
                                      f"{fetched.permanent_url}")
    return result


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def check(target: str, kind: str = "rss", items: int = 20, out: TextIO | None = None) -> int:
    """`feeds check URL|FILE`: a URL, a feed list (YAML) or a saved feed file. Exit 1 if any feed failed."""
    import sys

    out = out or sys.stdout
    path = Path(target)
    jobs: list[tuple[Connector, bytes | None]] = []
    if target.startswith(("http://", "https://")):
        jobs.append((connector_for(FeedConfig(id="check", url=target, kind=kind)), None))
    elif path.suffix in (".yaml", ".yml"):
        jobs.extend((connector_for(feed), None) for feed in load_feeds(path))
    elif path.is_file():
        jobs.append((connector_for(FeedConfig(id=path.stem or "check", url=f"https://{path.name}.invalid/", kind=kind)),
                     path.read_bytes()))
    else:
        raise ConfigError("give an http(s) URL, a feed list (.yaml) or a feed file", key="feeds check")

    async def run() -> list[Check]:
        import os

        from connectors.settings import ConnectorSettings

        cfg = ConnectorSettings.from_env(os.environ)   # the runner's proxy and user agent, as it would fetch
        fetcher = Fetcher(FetchLimits(host_spacing_s=0.2), proxy=cfg.proxy, user_agent=cfg.user_agent)
        for connector, _ in jobs:
            connector.fetcher = fetcher
        try:
            return await asyncio.gather(*(check_feed(c, b) for c, b in jobs))
        finally:
            await fetcher.aclose()

    results = asyncio.run(run())
    for result in results:
        _print_check(result, items, out)
    return 1 if any(r.error for r in results) else 0


def _print_check(result: Check, items: int, out: TextIO) -> None:
    feed, fetched = result.feed, result.fetched
    print(f"== {feed.id} ({feed.kind}) {feed.url}", file=out)
    if fetched is not None:
        print(f"   HTTP {fetched.status} from {fetched.url}, {len(fetched.body)} bytes in {fetched.duration:.2f} s; "
              f"content-type {fetched.headers.get('content-type', '-')}; etag {fetched.headers.get('etag', '-')}; "
              f"last-modified {fetched.headers.get('last-modified', '-')}", file=out)
    if result.error:
        print(f"   FAILED {result.error}", file=out)
    else:
        print(f"   {len(result.articles)} items", file=out)
        for item in result.articles[:items]:
            print(f"   - {item['published_at']} {item['title'][:80]!r}\n     {item['url']}  id={item['id']}", file=out)
        if len(result.articles) > items:
            print(f"   ... {len(result.articles) - items} more", file=out)
    for line in result.diagnostics:
        print(f"   {line}", file=out)


def list_feeds(feeds: list[FeedConfig], states: dict[str, FeedState], out: TextIO | None = None) -> int:
    """`feeds list`: one line per feed with its health from the state topic."""
    import sys

    out = out or sys.stdout
    now = time.time()
    print(f"{'feed':28} {'kind':8} {'health':9} {'last success':>13} {'fails':>5} {'http':>4} {'every':>7} "
          f"{'next':>7} {'items':>6}  note", file=out)
    counts: dict[str, int] = {}
    for feed in feeds:
        state = states.get(feed.id) or FeedState.fresh(feed.id, feed.url)
        counts[state.health] = counts.get(state.health, 0) + 1
        note = state.disabled or state.last_error or ""
        print(f"{feed.id[:28]:28} {feed.kind:8} {state.health:9} {_ago(state.last_success, now):>13} "
              f"{state.consecutive_failures:>5} {state.last_status or '-':>4} {_span(state.interval):>7} "
              f"{_span(state.next_due - now) if state.next_due else '-':>7} {state.items_published:>6}  {note[:80]}",
              file=out)
    print("; ".join(f"{n} {h}" for h, n in sorted(counts.items())), file=out)
    return 0


def _ago(moment: float | None, now: float) -> str:
    return f"{_span(now - moment)} ago" if moment else "never"


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def import_opml(opml: Path, output: Path, out: TextIO | None = None) -> int:
    """Merge the feeds of an OPML export into a feed list (new file or existing), skipping known URLs."""
    import sys

    from defusedxml import ElementTree

    out = out or sys.stdout
    try:
        root = ElementTree.parse(str(opml), forbid_dtd=True).getroot()
    except (OSError, ElementTree.ParseError) as exc:
        raise ConfigError(f"not a readable OPML file: {exc}", file=str(opml)) from exc
    doc: dict[str, Any] = {"feeds": []}
    if output.exists():
        load_feeds(output)                                    # refuse to merge into a broken list
        doc = yaml.safe_load(output.read_text("utf-8")) or {"feeds": []}
    entries: list[dict[str, Any]] = doc.setdefault("feeds", [])
    urls = {e.get("url") for e in entries}
    ids = {e.get("id") for e in entries}
    added = skipped = 0
    for outline, tags in _outlines(root.find("body"), ()):
        url = (outline.get("xmlUrl") or "").strip()
        if not url.startswith(("http://", "https://")):
            continue
        if url in urls:
            skipped += 1
            continue
        name = (outline.get("title") or outline.get("text") or urlsplit(url).hostname or "feed").strip()
        feed_id = _unique(_slug(name), ids)
        entry: dict[str, Any] = {"id": feed_id, "url": url, "name": name}
        language = (outline.get("language") or "")[:2].lower()
        if re.fullmatch(r"[a-z]{2}", language):
            entry["language"] = language
        tags = tuple(dict.fromkeys((*tags, *_categories(outline.get("category") or ""))))
        if tags:
            entry["tags"] = list(tags)
        entries.append(entry)
        urls.add(url)
        ids.add(feed_id)
        added += 1
    output.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "utf-8")
    load_feeds(output)                                        # what we wrote must load
    print(f"{added} feeds added to {output}, {skipped} already there", file=out)
    return 0


def _outlines(node: Any, tags: tuple[str, ...]) -> Iterator[tuple[Any, tuple[str, ...]]]:
    if node is None:
        return
    for child in node.findall("outline"):
        if child.get("xmlUrl"):
            yield child, tags
        else:
            label = (child.get("title") or child.get("text") or "").strip()
            yield from _outlines(child, (*tags, _slug(label)) if label else tags)


def _categories(attribute: str) -> list[str]:
    """OPML 2.0 `category`: comma-separated, slash-delimited paths ("/World/Middle East,politics"); each
    segment becomes a tag."""
    return [_slug(segment) for path in attribute.split(",") for segment in path.split("/") if segment.strip()]


def export_opml(feeds_file: Path, out: TextIO | None = None) -> int:
    """`feeds export-opml`: the feed list as OPML 2.0 (one outline per feed, tags as `category`), for feed
    readers and other monitors. Headers and credentials are not exported."""
    import sys
    from email.utils import format_datetime
    from xml.etree import ElementTree

    out = out or sys.stdout
    feeds = load_feeds(feeds_file)
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = f"wirewatch feeds ({feeds_file.name})"
    ElementTree.SubElement(head, "dateCreated").text = format_datetime(_now(), usegmt=True)
    body = ElementTree.SubElement(root, "body")
    for feed in feeds:
        name = _xml_text(feed.name or feed.id)   # (ElementTree escapes markup, not characters XML forbids)
        outline = ElementTree.SubElement(body, "outline", type="rss" if feed.kind == "rss" else feed.kind,
                                         text=name, title=name, xmlUrl=_xml_text(feed.url))
        if feed.language:
            outline.set("language", feed.language)
        if feed.tags:
            outline.set("category", _xml_text(",".join(feed.tags)))
    ElementTree.indent(root)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n")
    return 0


def _xml_text(text: str) -> str:
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]
    return slug or "feed"


def _unique(base: str, taken: set[Any]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
