"""Reloading the feed list while the connector runs: on SIGHUP and when the file changes.

`FeedListWatcher.check()` is cheap when nothing changed (one stat() of the file), never raises, and
keeps the feeds in force when the new file is broken (the error, with file, line, key and reason, is
logged once per broken content). The runner applies a new list with `Runner.apply_feeds`: new feeds
start from their saved state on the state topic (a feed removed and added back publishes nothing
twice), removed feeds stop being polled, changed feeds take their new settings (a changed URL
starts clean and re-enables a disabled feed).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from connectors.base import FeedConfig
from connectors.errors import ConfigError
from connectors.feeds import load_feeds

log = logging.getLogger(__name__)


def load_checked(path: Path) -> list[FeedConfig]:
    """The feed list, each feed also checked by its connector (kind known, options valid)."""
    from connectors.registry import connector_for

    feeds = load_feeds(path)
    for feed in feeds:
        connector_for(feed)
    return feeds


class FeedListWatcher:
    def __init__(self, path: str | Path, feeds: Sequence[FeedConfig],
                 loader: Callable[[Path], list[FeedConfig]] = load_checked) -> None:
        self.path = Path(path)
        self.feeds = list(feeds)
        self._loader = loader
        self._stamp = self._stat()
        self._digest = self._content()
        self._failed_digest: str | None = None
        self.last_error: ConfigError | None = None
        self.reloads = 0
        self.failures = 0

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _content(self) -> str:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as exc:
            return f"<unreadable: {exc.errno}>"

    def check(self, force: bool = False) -> list[FeedConfig] | None:
        """The new feed list when the file changed to a valid one, else None. `force` (SIGHUP) reads
        the file even when its size and time look unchanged."""
        stamp = self._stat()
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        digest = self._content()
        if digest == self._digest or digest == self._failed_digest:
            return None                          # same content as in force, or a broken one already reported
        try:
            feeds = self._loader(self.path)
        except ConfigError as exc:
            self._failed_digest, self.last_error = digest, exc
            self.failures += 1
            log.error("feed list reload failed, keeping the %d feeds in force: %s", len(self.feeds), exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a reload never takes the runner down
            self._failed_digest, self.last_error = digest, ConfigError(f"unexpected error: {exc!r}",
                                                                       file=str(self.path))
            self.failures += 1
            log.exception("feed list reload failed, keeping the %d feeds in force", len(self.feeds))
            return None
        self._digest, self._failed_digest, self.last_error = digest, None, None
        return feeds

    def applied(self, feeds: Sequence[FeedConfig]) -> None:
        """The runner took this list."""
        self.feeds = list(feeds)
        self.reloads += 1

    def retry(self) -> None:
        """The runner could not take the list now (Kafka away while reading new feeds' state): look again."""
        self._stamp, self._digest = None, ""
