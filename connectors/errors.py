"""One exception tree for all of wirewatch.

    WirewatchError
    ├── ConfigError          bad setting, feed list or rule file: raised at start, names file/key/reason
    ├── RuleError            (ConfigError) an escalation rule file that does not load
    ├── FetchError           a fetch failed; retry_after says when trying again makes sense
    │   └── FeedGoneError    410 Gone or persistent 404: the feed is disabled until someone acts
    ├── ParseError           the bytes are not a feed we can read
    └── InvalidRecord        a record that breaks a message contract (goes to a DLQ)
"""

from __future__ import annotations


class WirewatchError(Exception):
    """Base class of every error wirewatch raises on purpose."""


class ConfigError(WirewatchError):
    def __init__(self, reason: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.reason, self.file, self.key, self.line = reason, file, key, line
        where = ":".join(str(p) for p in (file, line) if p is not None)
        parts = [p for p in (where, key and f"key {key!r}") if p]
        super().__init__(f"{', '.join(parts)}: {reason}" if parts else reason)


class RuleError(ConfigError):
    pass


class FetchError(WirewatchError):
    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedGoneError(FetchError):
    pass


class ParseError(WirewatchError):
    pass


class InvalidRecord(WirewatchError):
    pass
