"""One exception tree for all of wirewatch.

    WirewatchError
    ├── ConfigError              bad setting, feed list or rule file: raised at start, names file/key/reason
    │   └── RuleError            an escalation rule file that does not load
    ├── FetchError               a fetch failed; retry_after says when trying again makes sense
    │   ├── FeedGoneError        410 Gone or persistent 404: the feed is disabled until someone acts
    │   ├── HttpStatusError      any other 4xx/5xx answer
    │   │   └── RateLimitedError 429 / 503 (Retry-After honoured)
    │   ├── NetworkError         DNS, refused or reset connection, TLS, protocol errors
    │   ├── FetchTimeout         the whole fetch (all redirects, the whole body) took too long
    │   ├── TooManyRedirects     a redirect loop or chain longer than the limit
    │   ├── BodyTooLarge         the (decompressed) body passed the size cap while streaming
    │   └── BlockedAddress       the SSRF guard refused the URL or a redirect hop (connectors/guard.py)
    ├── ParseError               the bytes are not a feed we can read
    │   └── NotAFeedError        an HTML page; `alternates` holds the feeds it links to
    └── InvalidRecord            a record that breaks a message contract (goes to a DLQ)

Every fetch failure class maps to one error here; `kind` is its short name for metrics and health.
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
    kind = "error"

    def __init__(self, message: str, *, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class FeedGoneError(FetchError):
    kind = "gone"


class HttpStatusError(FetchError):
    kind = "http_error"


class RateLimitedError(HttpStatusError):
    kind = "rate_limited"


class NetworkError(FetchError):
    kind = "network"


class FetchTimeout(FetchError):
    kind = "timeout"


class TooManyRedirects(FetchError):
    kind = "redirects"


class BodyTooLarge(FetchError):
    kind = "too_large"


class BlockedAddress(FetchError):
    """The SSRF guard refused the URL (or a redirect hop): its host resolves to a loopback, private,
    link-local, CGNAT, unique-local, multicast or otherwise non-public address and is not in
    WIREWATCH_FETCH_ALLOW_HOSTS. Permanent until the allow-list or DNS changes; never retried sooner."""

    kind = "blocked"

    def __init__(self, message: str, *, host: str | None = None, port: int | None = None,
                 status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status=status, retry_after=retry_after)
        self.host, self.port = host, port


class ParseError(WirewatchError):
    kind = "parse_error"


class NotAFeedError(ParseError):
    kind = "not_a_feed"

    def __init__(self, message: str, alternates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.alternates = alternates

    def __reduce__(self) -> tuple[type, tuple[str, tuple[str, ...]]]:   # keeps alternates across processes
        return type(self), (str(self), self.alternates)


class InvalidRecord(WirewatchError):
    pass
