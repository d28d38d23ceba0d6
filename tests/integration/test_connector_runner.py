"""The connector runner against a local HTTP server and the real broker: restarts, errors, DLQ, health."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from helpers.connectors import new_runner, poll_once, quick
from helpers.feedserver import FeedServer, Route, fixture, rss
from helpers.procs import read_all, read_until, settings_env, wirewatch

from connectors.base import Connector, Cursor, FeedConfig, Fetched
from connectors.poll import parse_here, poll_feed
from connectors.publisher import make_producer
from connectors.runner import load_states
from connectors.settings import Settings
from streams.shell.topics import ensure_topics


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


@pytest.fixture
def fast(settings: Settings) -> Settings:
    ensure_topics(settings)
    return quick(settings)


def ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


def items(*slugs: str) -> list[tuple[str, str]]:
    """Items an hour apart, the newest an hour old (a feed that is not quiet)."""
    now = datetime.now(UTC)
    return [(s, format_datetime(now - timedelta(hours=len(slugs) - i), usegmt=True)) for i, s in enumerate(slugs)]


def articles(settings: Settings, n: int) -> list[dict[str, Any]]:
    records = read_until(settings, settings.topics.articles, lambda r: len(r) >= n, timeout=30)
    assert len(records) == n, ids(records)
    return records


def test_a_restarted_connector_republishes_nothing_and_loses_nothing(fast: Settings, server: FeedServer) -> None:
    server.routes["/f.xml"] = Route(rss(items("a", "b", "c")))
    feeds = [FeedConfig(id="courier", url=server.url + "/f.xml", name="courier.test", language="en")]
    poll_once(fast, feeds)
    first = articles(fast, 3)
    assert {a["url"] for a in first} == {f"https://news.test/{s}" for s in "abc"}  # tracking params gone

    poll_once(fast, feeds)                       # restart, nothing new: a 304 thanks to the stored ETag
    assert server.hits("/f.xml")[-1]["if-none-match"]
    server.routes["/f.xml"] = Route(rss(items("a", "b", "c", "d", "e")))
    poll_once(fast, feeds)                       # restart, two new items
    every = articles(fast, 5)
    assert len(set(ids(every))) == 5
    state = load_states(fast, ["courier"])["courier"]
    assert state.items_published == 5 and state.not_modified == 1 and state.health == "ok"


def test_the_cli_resumes_from_the_state_topic(fast: Settings, server: FeedServer, tmp_path: Path) -> None:
    server.routes["/cli.xml"] = Route(rss(items("x", "y")), etag=False)  # no validators: body hash decides
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - id: cli\n    url: {server.url}/cli.xml\n    language: en\n", "utf-8")
    env = settings_env(fast) | {"WIREWATCH_CONNECTOR_HOST_SPACING": "0"}
    for run in range(2):
        with wirewatch(["connect", "--feeds", str(feeds), "--once"], env, tmp_path / f"c{run}.log") as proc:
            assert proc.wait(timeout=60) == 0, (tmp_path / f"c{run}.log").read_text()
    assert len(server.hits("/cli.xml")) == 2
    articles(fast, 2)
    assert load_states(fast, ["cli"])["cli"].not_modified == 1     # unchanged body: parsing skipped
    listing = subprocess.run([sys.executable, "-m", "streams.shell.cli", "feeds", "list", "--feeds", str(feeds)],
                             env=env, capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("cli "))
    assert row.split()[2] == "ok" and "never" not in row


def test_a_failing_feed_loses_nothing_once_it_recovers(fast: Settings, server: FeedServer) -> None:
    server.routes["/flaky.xml"] = Route(b"oops", status=500, etag=False)
    feeds = [FeedConfig(id="flaky", url=server.url + "/flaky.xml", language="en")]
    runner = poll_once(fast, feeds)
    state = runner.states["flaky"]
    assert state.consecutive_failures == 1 and state.last_status == 500 and state.next_due
    server.routes["/flaky.xml"] = Route(rss(items("p", "q")))
    assert poll_once(fast, feeds).states["flaky"].consecutive_failures == 0
    articles(fast, 2)


def test_retry_after_is_honoured(fast: Settings, server: FeedServer) -> None:
    server.routes["/busy.xml"] = Route(b"slow down", status=429, headers={"Retry-After": "3600"}, etag=False)
    before = time.time()
    state = poll_once(fast, [FeedConfig(id="busy", url=server.url + "/busy.xml")]).states["busy"]
    assert state.next_due is not None and state.next_due >= before + 3600
    assert state.last_error_kind == "rate_limited"


def test_a_gone_feed_is_disabled_and_says_so_on_the_health_topic(fast: Settings, server: FeedServer) -> None:
    server.routes["/gone.xml"] = Route(b"", status=410, etag=False)
    feeds = [FeedConfig(id="gone", url=server.url + "/gone.xml")]
    poll_once(fast, feeds)
    events = read_until(fast, fast.topics.feed_health, lambda r: len(r) >= 1, timeout=30)
    assert events[-1]["feed"] == "gone" and events[-1]["health"] == "disabled"
    assert "410" in events[-1]["reason"]
    poll_once(fast, feeds)                       # disabled survives a restart: not polled again
    assert len(server.hits("/gone.xml")) == 1


def test_bad_feeds_give_per_feed_errors_and_good_ones_still_publish(fast: Settings, server: FeedServer) -> None:
    server.routes.update({
        "/good.xml": Route(fixture("rss20.xml")),
        "/bomb.xml": Route(fixture("entity-bomb.xml")),
        "/text.xml": Route(fixture("not-xml.txt"), content_type="text/plain"),
        "/page.html": Route(fixture("page-with-feed.html"), content_type="text/html"),
        "/feed.xml": Route(fixture("atom.xml"), content_type="application/atom+xml"),
        "/big.xml": Route(b"<rss>" + b" " * (fast.connector.max_body_bytes + 1)),
        "/empty.xml": Route(fixture("empty.xml")),
    })
    names = ["good", "bomb", "text", "page", "big", "empty"]
    feeds = [FeedConfig(id=n, url=f"{server.url}/{n}.{'html' if n == 'page' else 'xml'}") for n in names]
    runner = poll_once(fast, feeds)
    states = runner.states
    assert states["empty"].health == "ok" and states["good"].last_success
    assert states["good"].health == "quiet"          # its newest item is from 2021: reported as gone quiet
    assert states["bomb"].last_error_kind == "parse_error" and "entit" in (states["bomb"].last_error or "")
    assert states["text"].last_error_kind == "parse_error"
    assert states["big"].last_error_kind == "too_large"
    # The HTML page announced its feed: the runner followed it and remembers where the feed lives.
    assert states["page"].health == "ok" and states["page"].moved_to == server.url + "/feed.xml"
    published = articles(fast, 3 + 2)
    assert {a["feed"] for a in published} == {"good", "page"}


class _Broken(Connector):
    kind = "broken"

    async def fetch(self, cursor: Cursor) -> Fetched:
        return Fetched(self.feed.url, 200, b"x", fetched_at="2024-01-01T00:00:00Z")

    def parse(self, fetched: Fetched) -> list[dict[str, Any]]:
        good = {"id": "ok-1", "url": "https://b.test/1", "title": "fine", "published_at": "2024-01-01T00:00:00Z",
                "source": "b.test", "feed": self.feed.id}
        return [good, {**good, "id": "bad-1", "published_at": "yesterday"}]


def test_an_article_that_breaks_the_contract_goes_to_the_dlq(fast: Settings) -> None:
    feeds = [FeedConfig(id="broken", url="http://127.0.0.1:9/")]
    runner = new_runner(fast, feeds)
    runner.connectors["broken"] = _Broken(feeds[0])
    asyncio.run(runner.run(asyncio.Event(), once=True))
    runner.publisher.producer.close()
    assert ids(articles(fast, 1)) == ["ok-1"]
    dlq = read_until(fast, f"{fast.topics.articles}.dlq", lambda r: len(r) >= 1, timeout=30,
                     decode=lambda m: (m.key, dict(m.headers), json.loads(m.value)))
    assert dlq[0][0] == b"bad-1" and b"published_at" in dlq[0][1]["error"]


def test_a_connector_that_died_mid_transaction_publishes_each_item_once(fast: Settings, server: FeedServer
                                                                       ) -> None:
    from kafka.errors import KafkaError

    server.routes["/t.xml"] = Route(rss(items("t1", "t2", "t3")))
    feeds = [FeedConfig(id="txn", url=server.url + "/t.xml")]
    topic = fast.topics.articles
    # The first connector polled and had its articles written to the log inside its transaction, then
    # stopped answering before the commit (its producer stays alive here: a partitioned zombie).
    zombie = new_runner(fast, feeds, states={})
    old = zombie.publisher.producer

    async def poll_without_commit() -> None:
        result = await poll_feed(zombie.connectors["txn"], zombie.states["txn"], parse_here)
        records, _ = zombie.publisher.article_records("txn", result.articles)
        old.init_transactions()
        old.begin_transaction()
        zombie.publisher._send_all(records)
        old.flush()

    asyncio.run(poll_without_commit())
    assert len(read_all(fast, topic, "read_uncommitted")) == 3    # in the log, uncommitted
    assert read_all(fast, topic) == []                             # invisible to the worker
    assert load_states(fast, ["txn"]) == {}                        # no state was committed either

    # Its successor starts the way `wirewatch connect` does: fence, then read the state, then poll.
    new = make_producer(fast)
    new.init_transactions()                  # aborts the zombie's open transaction
    poll_once(fast, feeds, producer=new)
    assert sorted(a["url"] for a in read_all(fast, topic)) == [f"https://news.test/t{i}" for i in (1, 2, 3)]
    assert len(read_all(fast, topic, "read_uncommitted")) == 6               # 3 aborted + 3 committed
    assert load_states(fast, ["txn"])["txn"].items_published == 3
    with pytest.raises(KafkaError):          # the zombie can never commit its stale transaction now
        old.commit_transaction()
    old.close(timeout=0)
    poll_once(fast, feeds)                   # and a later connector republishes nothing
    assert len(read_all(fast, topic)) == 3


def test_a_commit_whose_ack_was_lost_is_not_published_again(fast: Settings, server: FeedServer) -> None:
    from kafka.errors import KafkaTimeoutError

    class LostAck:
        """The real producer, but the first commit's answer never arrives (it did commit)."""

        def __init__(self, real: Any) -> None:
            self.real, self.lost = real, 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.real, name)

        def commit_transaction(self) -> None:
            self.real.commit_transaction()
            if not self.lost:
                self.lost += 1
                raise KafkaTimeoutError("no answer to EndTxn")

    server.routes["/l.xml"] = Route(rss(items("l1", "l2")), headers={"Cache-Control": "max-age=0"})
    feeds = [FeedConfig(id="lost", url=server.url + "/l.xml")]
    producer = LostAck(make_producer(fast))
    runner = new_runner(fast, feeds, producer=producer, states={})

    async def two_polls() -> None:
        await runner.poll("lost")          # committed, but reported as failed: state not advanced
        assert runner.states["lost"].seen == ()
        server.routes["/l.xml"] = Route(rss(items("l1", "l2", "l3")), headers={"Cache-Control": "max-age=0"})
        await runner.poll("lost")          # reads the committed state back first: only l3 is new
        await runner.publisher.close()

    asyncio.run(two_polls())
    producer.real.close(timeout=1)
    assert producer.lost == 1 and runner.publisher.replaced == 1
    urls = sorted(a["url"] for a in read_all(fast, fast.topics.articles))
    assert urls == [f"https://news.test/l{i}" for i in (1, 2, 3)]           # none twice
    assert load_states(fast, ["lost"])["lost"].items_published == 3


def test_an_unreachable_broker_loses_nothing_and_reports_unhealthy(fast: Settings, server: FeedServer) -> None:
    from streams.shell.localkafka import free_port

    server.routes["/f.xml"] = Route(rss(items("m", "n")))
    feeds = [FeedConfig(id="offline", url=server.url + "/f.xml")]
    dead = fast.with_bootstrap(f"127.0.0.1:{free_port()}")
    producer = make_producer(dead, api_version=(3, 0), max_block_ms=500, delivery_timeout_ms=1500,
                             request_timeout_ms=1000, linger_ms=0)
    runner = new_runner(fast, feeds, producer=producer, states={})
    asyncio.run(runner.run(asyncio.Event(), once=True))
    producer.close(timeout=1)
    assert runner.publisher.failed >= 1
    assert runner.metrics.registry.get_sample_value("wirewatch_connector_healthy") == 0
    assert runner.metrics.registry.get_sample_value("wirewatch_connector_publish_errors_total") >= 1
    assert runner.states["offline"].seen == () and runner.states["offline"].body_hash is None
    poll_once(fast, feeds)                       # the broker is back: the same articles go out
    articles(fast, 2)


def test_the_scheduler_keeps_polling_until_stopped(fast: Settings, server: FeedServer) -> None:
    server.routes["/live.xml"] = Route(rss(items("l1")), headers={"Cache-Control": "max-age=0"})
    feeds = [FeedConfig(id="live", url=server.url + "/live.xml", interval=0.1)]
    runner = new_runner(fast, feeds)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        deadline = time.monotonic() + 20
        while len(server.hits("/live.xml")) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    runner.publisher.producer.close()
    assert len(server.hits("/live.xml")) >= 4
    state = runner.states["live"]
    assert state.not_modified >= 3 and state.items_published == 1
    registry = runner.metrics.registry
    assert registry.get_sample_value("wirewatch_feed_fetches_total", {"feed": "live", "outcome": "not_modified"}) >= 3
    assert registry.get_sample_value("wirewatch_feeds", {"health": "ok"}) == 1
    assert registry.get_sample_value("wirewatch_feed_items_published_total", {"feed": "live"}) == 1


def _scrape(port: int) -> str:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            return response.read().decode()
    except OSError:
        return ""


def test_a_long_running_connector_serves_metrics_stops_cleanly_and_resumes(fast: Settings, server: FeedServer,
                                                                           tmp_path: Path) -> None:
    from streams.shell.localkafka import free_port

    server.routes["/run.xml"] = Route(rss(items("r1", "r2")))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - id: run\n    url: {server.url}/run.xml\n    interval: 0.2\n", "utf-8")
    port = free_port()
    env = settings_env(fast) | {"WIREWATCH_CONNECTOR_HOST_SPACING": "0", "WIREWATCH_CONNECTOR_MIN_INTERVAL": "0.1",
                                "WIREWATCH_CONNECTOR_METRICS_PORT": str(port)}
    wanted = 'wirewatch_feed_fetches_total{feed="run",outcome="not_modified"}'
    with wirewatch(["connect", "--feeds", str(feeds)], env, tmp_path / "run1.log") as proc:
        articles(fast, 2)
        deadline = time.monotonic() + 30
        while wanted not in (text := _scrape(port)):
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "run1.log").read_text()
            time.sleep(0.1)
        assert 'wirewatch_feeds{health="ok"} 1.0' in text and "127.0.0.1" not in text   # no URL labels
    assert proc.returncode == 0, (tmp_path / "run1.log").read_text()      # SIGTERM: flushed and exited
    server.routes["/run.xml"] = Route(rss(items("r1", "r2", "r3")))
    env["WIREWATCH_CONNECTOR_METRICS_PORT"] = "0"
    with wirewatch(["connect", "--feeds", str(feeds)], env, tmp_path / "run2.log"):
        read_until(fast, fast.topics.articles, lambda r: len(r) >= 3, timeout=30)
    assert sorted(ids(articles(fast, 3))) == sorted(set(ids(articles(fast, 3))))
