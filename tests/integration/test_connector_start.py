"""A connector started while the broker is down waits for it, then fails clearly, never with a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers.procs import REPO, settings_env

from connectors.settings import Settings
from streams.shell.localkafka import free_port


def test_connector_without_a_broker_fails_with_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n  - id: f\n    url: http://127.0.0.1:9/feed.xml\n", "utf-8")
    env = {**settings_env(settings), "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = subprocess.run([sys.executable, "-c", "import sys, streams.shell.processes as r; r._until_kafka_answers."
                             "__defaults__ = (5.0,); from streams.shell.cli import main; sys.exit(main(sys.argv[1:]))",
                             "connect", "--feeds", str(feeds), "--once"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "did not answer" in result.stderr and "Traceback" not in result.stderr


def test_a_second_connector_with_the_same_instance_stops_the_first(settings: Settings, tmp_path: Path) -> None:
    """Two runners with one transactional id must not both publish: the older one is fenced and exits 3
    with a line that says why (and they must not keep fencing each other)."""
    import time

    from helpers.feedserver import FeedServer, Route, rss
    from helpers.procs import read_until, wirewatch

    from streams.shell.topics import ensure_topics

    ensure_topics(settings)
    env = {**settings_env(settings), "WIREWATCH_CONNECTOR_MIN_INTERVAL": "0.1",
           "WIREWATCH_CONNECTOR_HOST_SPACING": "0", "WIREWATCH_CONNECTOR_BACKOFF_BASE": "0.2"}
    with FeedServer() as server:
        server.routes["/f.xml"] = Route(rss([("one", "Mon, 23 Nov 2026 10:00:00 GMT")]),
                                        headers={"Cache-Control": "max-age=0"})
        feeds = tmp_path / "feeds.yaml"
        feeds.write_text(f"feeds:\n  - id: f\n    url: {server.url}/f.xml\n    interval: 0.2\n", "utf-8")
        with wirewatch(["-v", "connect", "--feeds", str(feeds)], env, tmp_path / "first.log") as first:
            read_until(settings, settings.topics.articles, lambda r: len(r) >= 1, timeout=60, alive=(first,))
            with wirewatch(["-v", "connect", "--feeds", str(feeds)], env, tmp_path / "second.log") as second:
                assert first.wait(timeout=60) == 3
                log = (tmp_path / "first.log").read_text("utf-8")
                assert "another connector took over the transactional id" in log and "Traceback" not in log
                polls = len(server.hits("/f.xml"))
                time.sleep(3)                          # the survivor keeps polling and committing
                assert second.poll() is None and len(server.hits("/f.xml")) > polls
                assert "took over" not in (tmp_path / "second.log").read_text("utf-8")
    assert len(read_until(settings, settings.topics.articles, lambda r: len(r) >= 1, timeout=30)) == 1
