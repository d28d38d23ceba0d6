"""Polling benchmark: N feeds (default 10,000) on a local server spread over many ports ("hosts").

The server (a separate process, asyncio, 127.0.0.1 only) serves realistic feeds: 10-50 items of a few
hundred bytes each, gzipped, with ETags. The mix per 100 feeds: 5 answer 500, 3 answer 404, 1 answers
429 + Retry-After, 1 is slow (3 s), 5 send no validators (unchanged body: the hash skip), 10 gain two
items before the second pass, the rest answer the second pass with 304.

Two passes with the real runner (fetcher, politeness, parsing, contract validation, state records):
pass 1 is cold (every feed downloads and parses), pass 2 is the steady state (mostly 304s).
Articles and state go to a null producer by default (`--kafka` sends them to KAFKA_BOOTSTRAP_SERVERS).

    .venv/bin/python bench/poll_feeds.py [--feeds 10000] [--hosts 200] [--kafka]
    WIREWATCH_CONNECTOR_PARSE_WORKERS=1 .venv/bin/python bench/poll_feeds.py     # parse in a second process
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import multiprocessing
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry  # noqa: E402

from connectors.base import FeedConfig  # noqa: E402
from connectors.metrics import ConnectorMetrics  # noqa: E402
from connectors.runner import Runner  # noqa: E402
from connectors.settings import Settings  # noqa: E402

_TEXT = ("council harbour minister storm bridge market rail court police election budget school hospital river "
         "festival strike talks ceasefire parliament ministry border airport energy water union")
WORDS = tuple(_TEXT.split(" "))


def feed_body(i: int, version: int) -> bytes:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    count = 10 + (i * 7) % 41 + (2 if version > 1 else 0)
    items = []
    for n in range(count):
        words = " ".join(WORDS[(i + n * k) % len(WORDS)] for k in range(1, 60))
        stamp = format_datetime(now - timedelta(minutes=37 * (count - n)), usegmt=True)
        items.append(f"<item><title>Story {n} of feed {i}: {WORDS[(i + n) % len(WORDS)]} news</title>"
                     f"<link>https://host{i % 997}.test/news/{i}/{n}?utm_source=rss</link>"
                     f"<guid isPermaLink=\"false\">f{i}-{n}</guid><pubDate>{stamp}</pubDate>"
                     f"<description>{words}.</description></item>")
    return (f"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>Feed {i}</title>"
            f"<link>https://host{i % 997}.test/</link><description>bench</description><language>en</language>"
            f"{''.join(items)}</channel></rss>").encode()


def behaviour(i: int) -> str:
    r = i % 100
    return ("error500" if r < 5 else "missing" if r < 8 else "limited" if r == 8 else "slow" if r == 9
            else "novalidators" if r < 15 else "changes" if r < 25 else "etag")


def serve(feeds: int, ports: list[int], ready: Any) -> None:
    """Server process: pre-built gzipped bodies, keep-alive HTTP/1.1, one listener per port."""
    bodies = {(i, v): gzip.compress(feed_body(i, v), 5) for i in range(feeds) for v in (1, 2)
              if behaviour(i) in ("novalidators", "changes", "etag", "slow") and (v == 1 or behaviour(i) == "changes")}
    hits = [0] * feeds

    def response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Content-Length": str(len(body))}.items())
        return f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                i = int(path.rsplit("/", 1)[1].split(".")[0])
                hits[i] += 1
                kind = behaviour(i)
                version = 2 if kind == "changes" and hits[i] > 1 else 1
                if kind == "error500":
                    out = response("500 Internal Server Error", {}, b"oops")
                elif kind == "missing":
                    out = response("404 Not Found", {}, b"no")
                elif kind == "limited":
                    out = response("429 Too Many Requests", {"Retry-After": "600"})
                else:
                    if kind == "slow":
                        await asyncio.sleep(3)
                    etag = f'"{i}-{version}"'
                    base = {"Content-Type": "application/rss+xml; charset=utf-8", "Content-Encoding": "gzip"}
                    if kind != "novalidators":
                        base["ETag"] = etag
                    if kind != "novalidators" and headers.get("if-none-match") == etag:
                        out = response("304 Not Modified", {"ETag": etag})
                    else:
                        out = response("200 OK", base, bodies[(i, version)])
                writer.write(out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, "127.0.0.1", port, backlog=512) for port in ports]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


class NullProducer:
    """Accepts everything at once (the bench measures polling, not the broker)."""

    class _Done:
        def add_callback(self, fn: Any) -> Any:
            fn(None)
            return self

        def add_errback(self, fn: Any) -> Any:
            return self

    def __init__(self) -> None:
        self.sent = 0

    def send(self, topic: str, **kw: Any) -> Any:
        self.sent += 1
        return self._Done()

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self, timeout: float | None = None) -> None:
        pass


def cpu() -> float:
    """CPU seconds of this process plus its finished children (parse workers end with each pass)."""
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=200, help="server ports, i.e. distinct host:port keys")
    parser.add_argument("--kafka", action="store_true", help="publish to KAFKA_BOOTSTRAP_SERVERS")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    ports = free_ports(args.hosts)
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.feeds, ports, ready), daemon=True)
    started = time.monotonic()
    server.start()
    ready.wait(300)
    print(f"server: {args.feeds} feeds on {args.hosts} ports, ready in {time.monotonic() - started:.1f} s")

    # The feeds are on this machine's loopback: allow it past the SSRF guard (on by default).
    os.environ.setdefault("WIREWATCH_FETCH_ALLOW_HOSTS", "127.0.0.1")
    settings = Settings.from_env()
    feeds = [FeedConfig(id=f"f{i}", url=f"http://127.0.0.1:{ports[i % len(ports)]}/feed/{i}.xml")
             for i in range(args.feeds)]
    if args.kafka:
        from connectors.publisher import make_producer
        from streams.shell.topics import ensure_topics

        ensure_topics(settings)
    c = settings.connector
    print(f"runner: concurrency {c.concurrency}, parse workers {c.parse_workers}, "
          f"per host {c.host_concurrency} in flight and "
          f"{c.host_spacing_s:g} s between starts, timeout {c.timeout_s:g} s")
    states: dict[str, Any] = {}
    for number in (1, 2):
        producer = make_producer(settings) if args.kafka else NullProducer()
        runner = Runner(feeds, settings, producer, metrics=ConnectorMetrics(CollectorRegistry()), states=states)
        cpu0, wall0 = cpu(), time.monotonic()
        asyncio.run(runner.run(asyncio.Event(), once=True))
        wall, used = time.monotonic() - wall0, cpu() - cpu0
        states = runner.states
        outcomes: dict[str, int] = {}
        for s in states.values():
            key = s.last_error_kind or ("304/unchanged" if s.last_status == 304 or s.not_modified and number > 1
                                        else "200")
            outcomes[key] = outcomes.get(key, 0) + 1
        published = sum(s.items_published for s in states.values())
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"pass {number}: {len(feeds)} feeds in {wall:.1f} s = {len(feeds) / wall:.0f} feeds/s; "
              f"poller CPU {used:.1f} s ({100 * used / wall:.0f}% of one core); peak RSS {rss_mb:.0f} MB; "
              f"articles published so far {published}; outcomes {dict(sorted(outcomes.items()))}")
        producer.close()
    server.terminate()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
