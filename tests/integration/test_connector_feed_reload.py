"""A running `wirewatch connect` takes feed list changes on file change and on SIGHUP; a broken list
keeps the feeds in force (and says why, with file and line)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from helpers.feedserver import FeedServer, Route, rss
from helpers.procs import read_until, settings_env, wirewatch

from connectors.settings import Settings
from streams.shell.topics import ensure_topics

FAST = {"WIREWATCH_CONNECTOR_MIN_INTERVAL": "0.2", "WIREWATCH_CONNECTOR_HOST_SPACING": "0",
        "WIREWATCH_CONNECTOR_HOST_CONCURRENCY": "8", "WIREWATCH_CONNECTOR_TIMEOUT": "3",
        "WIREWATCH_LOG_FORMAT": "json", "WIREWATCH_LOG_LEVEL": "warning"}


def _feed_list(path: Path, server: FeedServer, names: list[str], broken: bool = False) -> None:
    lines = ["feeds:"]
    for name in names:
        lines += [f"  - id: {name}", f"    url: {server.url}/{name}.xml", "    interval: 0.3"]
    if broken:
        lines += ["  - id: broken", "    url: gopher://nowhere.example/"]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def _published(settings: Settings, feed: str, alive: tuple[object, ...]) -> None:
    read_until(settings, settings.topics.articles, lambda r: any(a["feed"] == feed for a in r), timeout=60,
               alive=alive)  # type: ignore[arg-type]


def _logged(log: Path, condition: Callable[[dict[str, object]], bool], timeout: float = 30) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log.read_text("utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if condition(record):
                return record
        time.sleep(0.1)
    raise AssertionError(f"no such log record within {timeout}s:\n{log.read_text('utf-8')[-3000:]}")


def test_the_feed_list_reloads_on_change_and_keeps_a_broken_one_out(settings: Settings, tmp_path: Path) -> None:
    ensure_topics(settings)
    with FeedServer() as server:
        for name in ("a", "b", "c"):
            server.routes[f"/{name}.xml"] = Route(rss([(f"{name}1", "Mon, 01 Mar 2021 10:00:00 GMT")]),
                                                  headers={"Cache-Control": "max-age=0"})
        feeds, log = tmp_path / "feeds.yaml", tmp_path / "connect.log"
        _feed_list(feeds, server, ["a"])
        env = {**settings_env(settings), **FAST, "WIREWATCH_FEEDS_RELOAD": "0.2"}
        with wirewatch(["connect", "--feeds", str(feeds)], env, log) as connect:
            _published(settings, "a", (connect,))

            _feed_list(feeds, server, ["a", "b"])                     # added: polled, published
            _published(settings, "b", (connect,))

            _feed_list(feeds, server, ["a", "b"], broken=True)        # broken: the two stay in force
            failure = _logged(log, lambda r: "feed list reload failed" in str(r["message"]))
            assert f"{feeds}:9" in str(failure["message"]) and "feeds[2].url" in str(failure["message"])
            hits = len(server.hits("/b.xml"))
            _until(lambda: len(server.hits("/b.xml")) > hits + 2, "b still polled after the broken reload")

            _feed_list(feeds, server, ["a"])                          # removed: no longer polled
            _logged(log, lambda r: "(0 added, 1 removed, 0 changed)" in str(r["message"]))
            settled = len(server.hits("/b.xml"))
            a_hits = len(server.hits("/a.xml"))
            _until(lambda: len(server.hits("/a.xml")) > a_hits + 3, "a polled on")
            assert len(server.hits("/b.xml")) <= settled + 1           # (one poll may have been in flight)
            assert connect.poll() is None

        # with WIREWATCH_FEEDS_RELOAD=0 only SIGHUP reloads
        env = {**env, "WIREWATCH_FEEDS_RELOAD": "0"}
        log = tmp_path / "connect-2.log"
        with wirewatch(["connect", "--feeds", str(feeds)], env, log) as connect:
            _until(lambda: len(server.hits("/a.xml")) > a_hits + 6, "the second connector polling")
            _feed_list(feeds, server, ["a", "c"])
            connect.send_signal(signal.SIGHUP)
            _published(settings, "c", (connect,))
            assert connect.poll() is None


def _until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
