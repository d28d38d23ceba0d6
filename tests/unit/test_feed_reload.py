"""The feed list watcher: a changed valid file is taken, a broken one keeps the feeds in force."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from connectors.reload import FeedListWatcher, load_checked

ONE = "feeds:\n  - id: a\n    url: https://a.example/rss\n"
TWO = ONE + "  - id: b\n    url: https://b.example/rss\n    tags: [world]\n"


def _write(path: Path, text: str, bump: int) -> None:
    path.write_text(text, "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))  # (same-second writes)


def test_changes_are_taken_and_broken_files_keep_the_list(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "feeds.yaml"
    _write(path, ONE, 0)
    watcher = FeedListWatcher(path, load_checked(path))
    assert watcher.check() is None                                    # nothing changed

    _write(path, TWO, 1)
    feeds = watcher.check()
    assert feeds is not None and [f.id for f in feeds] == ["a", "b"]
    watcher.applied(feeds)

    with caplog.at_level(logging.ERROR, logger="connectors.reload"):
        _write(path, TWO.replace("https://b.example/rss", "ftp://b.example/rss"), 2)
        assert watcher.check() is None
        assert watcher.check(force=True) is None                      # the same broken content: reported once
    [record] = caplog.records
    assert f"{path}:5" in record.getMessage() and "feeds[1].url" in record.getMessage()
    assert "keeping the 2 feeds in force" in record.getMessage()
    assert watcher.failures == 1 and [f.id for f in watcher.feeds] == ["a", "b"]

    _write(path, TWO.replace("tags: [world]", "kind: carrier-pigeon"), 3)
    assert watcher.check() is None and "carrier-pigeon" in str(watcher.last_error)   # unknown connector kind

    _write(path, ONE, 4)                                              # fixed: taken
    feeds = watcher.check()
    assert feeds is not None and [f.id for f in feeds] == ["a"] and watcher.last_error is None


def test_a_touched_file_with_the_same_content_is_not_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    _write(path, ONE, 0)
    watcher = FeedListWatcher(path, load_checked(path))
    _write(path, ONE, 5)
    assert watcher.check() is None and watcher.check(force=True) is None
