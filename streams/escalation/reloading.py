"""Rules in force, and reloading them at run time: load and validate the new files first, swap only then."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from connectors.errors import RuleError
from streams.escalation.model import DEFAULT_RULES, Escalation
from streams.escalation.rules import Rules

log = logging.getLogger(__name__)


def _load_prepared(path: Path) -> Rules:
    """The rules of `path`, every matcher compiled (the reloader runs off the worker's event loop)."""
    return Rules.load(path).prepared()


class RulesHolder:
    """The rules in force, swapped as one attribute assignment (readers never see a half-loaded set).

    Scoring code keeps the holder and calls `holder.score(...)` / reads `holder.rules`, so a swap
    takes effect on the next article.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    @property
    def version(self) -> str:
        return self.rules.version

    def score(self, normed: Mapping[str, Any]) -> Escalation:
        return self.rules.score(normed)

    def swap(self, rules: Rules) -> Rules:
        old, self.rules = self.rules, rules
        return old


class RuleReloader(RulesHolder):
    """Reload a rule file (and its includes) when it changes; a broken file keeps the old rules.

    `maybe_reload(now)` is pure with respect to time (the caller passes its clock), cheap when
    nothing changed (at most one stat() per file every `interval` seconds) and never raises:

      - the files' (mtime, size) are compared with the last look; unchanged -> nothing to do;
      - changed -> their content hash; same content (touched, copied over) -> nothing to do;
      - new content -> Rules.load; on RuleError the old rules stay, the error is logged once per
        broken content as `file:line, key '...': reason` and kept in `last_error`;
      - on success the new rules are swapped in and `maybe_reload` returns True.

    The first load happens in the constructor and raises: a worker must not start without rules.
    """

    def __init__(self, path: str | Path = DEFAULT_RULES, interval: float = 5.0, *,
                 rules: Rules | None = None, loader: Any = None) -> None:
        self.path = Path(path)
        self.interval = max(0.0, float(interval))
        self._loader = loader or _load_prepared
        super().__init__(rules if rules is not None else self._loader(self.path))
        self._files = self._watched(self.rules)
        self._stamp = self._stamps(self._files)
        self._digest = self._content_digest(self._files)
        self._failed_digest: str | None = None
        self._next_check = float("-inf")
        self.last_error: RuleError | None = None
        self.reloads = 0
        self.failures = 0

    def _watched(self, rules: Rules) -> list[Path]:
        files = [Path(f) for f in getattr(rules, "files", [])]
        return files if self.path in files else [self.path, *files]

    @staticmethod
    def _stamps(files: list[Path]) -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                out.append(None)
            else:
                out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)

    @staticmethod
    def _content_digest(files: list[Path]) -> str:
        h = hashlib.sha256()
        for f in files:
            h.update(str(f).encode() + b"\0")
            try:
                h.update(f.read_bytes())
            except OSError as exc:
                h.update(f"<unreadable: {exc.errno}>".encode())
            h.update(b"\0")
        return h.hexdigest()

    def maybe_reload(self, now: float) -> bool:
        """Check (at most once per interval) and reload if the files changed. True when swapped."""
        if now < self._next_check:
            return False
        self._next_check = now + self.interval
        return self.check()

    def check(self) -> bool:
        """Check now, ignoring the interval. True when new rules were swapped in."""
        stamp = self._stamps(self._files)
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        digest = self._content_digest(self._files)
        if digest == self._digest or digest == self._failed_digest:
            return False  # same content as in force, or the broken content already reported
        try:
            rules = self._loader(self.path)
        except RuleError as exc:
            self._failed_digest = digest
            self.last_error = exc
            self.failures += 1
            log.error("rule reload failed, keeping rules %s: %s", self.rules.version, exc)
            return False
        except Exception as exc:  # never take the worker down for a reload
            self._failed_digest = digest
            self.last_error = RuleError(f"unexpected error: {exc!r}", file=str(self.path))
            self.failures += 1
            log.exception("rule reload failed, keeping rules %s", self.rules.version)
            return False
        old = self.swap(rules)
        # includes may have changed: watch the new file list from now on
        self._files = self._watched(rules)
        self._stamp = self._stamps(self._files)
        self._digest = self._content_digest(self._files)
        self._failed_digest = None
        self.last_error = None
        self.reloads += 1
        log.info("rules reloaded: version %s -> %s (%s)", old.version, rules.version, self.path)
        return True
