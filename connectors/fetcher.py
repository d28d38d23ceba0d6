"""HTTP for every connector: one shared httpx client, conditional GET, politeness and hard limits.

The fetcher owns HTTP so parsers only ever see bytes. Every failure becomes one named FetchError
(connectors/errors.py). Limits that keep one bad feed from hurting the others:

- a total time budget per fetch (all redirect hops, headers and the whole body);
- a body-size cap applied while streaming, to the decompressed bytes (compression bombs stop at
  the cap, never in memory);
- a redirect limit with loop detection, every hop checked by the address policy: the SSRF guard
  (connectors/guard.py), on by default, which also vets at connect time and pins the connection
  to the vetted address;
- per-host concurrency and minimum spacing between request starts (feeds and full-text pages alike).

Per feed (`Access`, from the feed list): extra headers, basic or bearer credentials and a user agent.
Headers and credentials go to the feed's own origin only (scheme, host and port of its configured URL),
never to a redirect or a moved URL on another origin. An explicit egress proxy
(WIREWATCH_FETCH_PROXY) carries every request; the guard then vets the target as this machine resolves
it, but the proxy resolves and connects by itself (docs/connectors.md, "Egress proxy").
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from connectors.article import rfc3339
from connectors.errors import (
    BlockedAddress,
    BodyTooLarge,
    FeedGoneError,
    FetchError,
    FetchTimeout,
    HttpStatusError,
    NetworkError,
    RateLimitedError,
    TooManyRedirects,
)
from connectors.guard import AllowList, decide, hint


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: bytes and response metadata, or `not_modified`.

    `headers` have lower-case names. `permanent_url` is set when every redirect hop was permanent.
    """

    url: str
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    not_modified: bool = False
    fetched_at: str = ""
    duration: float = 0.0
    permanent_url: str | None = None

def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("wirewatch")
    except PackageNotFoundError:
        release = "dev"
    return f"wirewatch/{release} (+https://github.com/wirewatch/wirewatch)"


USER_AGENT = _user_agent()
FEED_ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
               "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
_REDIRECTS = (301, 302, 303, 307, 308)


@dataclass(frozen=True)
class Access:
    """How to reach one feed (feed list keys `headers`, `auth`, `user_agent`). Secrets are
    connectors.settings.Secret strings: masked in repr(), so in logs and tracebacks too."""

    origin: str = ""                                   # scheme://host:port the headers and credentials go to
    headers: tuple[tuple[str, str], ...] = ()
    basic: tuple[str, str] | None = None               # (username, password)
    bearer: str | None = None
    user_agent: str | None = None

    def for_url(self, url: str) -> dict[str, str]:
        """The headers this access adds to a request for `url`."""
        added = {"User-Agent": self.user_agent} if self.user_agent else {}
        if not self.origin or origin(url) != self.origin:
            return added
        added.update(self.headers)
        if self.basic is not None:
            import base64

            pair = f"{self.basic[0]}:{self.basic[1]}".encode()
            added["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif self.bearer is not None:
            added["Authorization"] = f"Bearer {self.bearer}"
        return added


def origin(url: str) -> str:
    """scheme://host:port of a URL (default ports written out), lower case."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return ""
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True)
class FetchLimits:
    timeout_s: float = 30.0            # total budget per fetch, redirects and body included
    connect_timeout_s: float = 10.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    host_concurrency: int = 2          # requests in flight per host:port
    host_spacing_s: float = 1.0        # minimum time between request starts on one host:port
    max_connections: int = 200


class AddressPolicy(Protocol):
    """Decides whether a URL may be fetched (every redirect hop is checked): raise BlockedAddress."""

    async def check(self, url: str) -> None: ...


class AllowAll:
    """No address checks at all: only for tests that inject their own transport."""

    async def check(self, url: str) -> None:
        return None


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (IP literals resolve to themselves), in resolver order."""
    literal = host[1:-1] if host.startswith("[") else host
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(literal, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NetworkError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PrivateAddressGuard:
    """The SSRF guard (connectors/guard.py): refuses hosts that resolve to loopback, private,
    link-local (cloud metadata), CGNAT, unique-local, multicast or other non-public addresses
    unless the host, `host:port`, address or network is allow-listed.

    `check(url)` runs on every redirect hop before any request; `vet(host, port)` runs again at
    connect time inside the transport (GuardedTransport), which then connects to the vetted
    address itself, so a second, different DNS answer (rebinding) is never used.
    """

    def __init__(self, allow: Iterable[str] | AllowList = (), resolver: Resolver | None = None, *,
                 proxied: bool = False) -> None:
        self.allow = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
        self.resolver = resolver or system_resolver
        # Behind an egress proxy this machine may not resolve outside names at all (the proxy does):
        # a name that does not resolve here is left to the proxy; one that does is vetted as usual.
        self.proxied = proxied

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AddressPolicy:
        """WIREWATCH_FETCH_GUARD (on unless off), WIREWATCH_FETCH_ALLOW_HOSTS, WIREWATCH_FETCH_PROXY."""
        from connectors.settings import ConnectorSettings

        cfg = ConnectorSettings.from_env(os.environ if environ is None else environ)
        return cls(cfg.allow_hosts, proxied=bool(cfg.proxy)) if cfg.fetch_guard else AllowAll()

    async def vet(self, host: str, port: int) -> list[str]:
        """The addresses this host may be reached at; BlockedAddress when the guard refuses it."""
        try:
            addresses = await self.resolver(host, port)
        except NetworkError:
            if self.proxied:
                return []
            raise
        decision = decide(host, addresses, self.allow, port)
        if not decision:
            raise BlockedAddress(f"{decision.reason}; {hint(host, port)}", host=host, port=port)
        return addresses

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise BlockedAddress(f"only http and https URLs are fetched, not {scheme or 'no scheme'!r}: {url[:200]}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise NetworkError(f"bad port in {url[:200]}: {exc}") from exc
        if not parts.hostname:
            raise NetworkError(f"no host in {url[:200]}")
        await self.vet(parts.hostname, port)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves and vets at connect time, then connects to the vetted address (TLS SNI and the
    Host header keep the name: httpcore takes both from the URL, not from this socket)."""

    def __init__(self, guard: PrivateAddressGuard) -> None:
        self.guard, self.inner = guard, httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self.guard.vet(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the guard at connect time and the connection pinned to the vetted address."""

    def __init__(self, guard: PrivateAddressGuard, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        pool = self._pool
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=pool._ssl_context, max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections, keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PinnedBackend(guard))


class HostGate:
    """Per-host concurrency and minimum spacing between request starts (politeness)."""

    def __init__(self, concurrency: int, spacing_s: float) -> None:
        self.concurrency, self.spacing_s = concurrency, spacing_s
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[float]]] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        parts = urlsplit(url)
        key = f"{(parts.hostname or '').lower()}:{parts.port or parts.scheme}"
        entry = self._hosts.get(key)
        if entry is None:
            entry = self._hosts[key] = (asyncio.Semaphore(self.concurrency), [0.0])
        semaphore, next_start = entry
        async with semaphore:
            now = time.monotonic()
            start = max(now, next_start[0])
            next_start[0] = start + self.spacing_s   # reserved before awaiting: no lock needed
            if start > now:
                await asyncio.sleep(start - now)
            yield


class Fetcher:
    """Shared by every connector of a runner; `get` is safe to call concurrently."""

    def __init__(self, limits: FetchLimits | None = None, policy: AddressPolicy | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, user_agent: str | None = None,
                 proxy: str | None = None) -> None:
        self.limits = limits or FetchLimits()
        # No policy given: the SSRF guard as the environment configures it (on unless WIREWATCH_FETCH_GUARD=off).
        self.policy = policy if policy is not None else PrivateAddressGuard.from_env()
        self.gate = HostGate(self.limits.host_concurrency, self.limits.host_spacing_s)
        pool_limits = httpx.Limits(max_connections=self.limits.max_connections,
                                   max_keepalive_connections=self.limits.max_connections)
        if transport is None and proxy:
            # Every connection goes to the proxy, which the operator named: it is not vetted (it is
            # usually on a private network); each target still is, before every hop (check()).
            transport = httpx.AsyncHTTPTransport(proxy=httpx.Proxy(proxy), limits=pool_limits, trust_env=False)
        elif transport is None and isinstance(self.policy, PrivateAddressGuard):
            transport = GuardedTransport(self.policy, pool_limits)
        self._client = httpx.AsyncClient(
            transport=transport, follow_redirects=False, trust_env=False,
            headers={"User-Agent": user_agent or USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(self.limits.timeout_s, connect=self.limits.connect_timeout_s),
            limits=pool_limits)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
                  accept: str = FEED_ACCEPT, access: Access | None = None) -> Fetched:
        """GET with validators; follow redirects; return the body or `not_modified`, else raise.
        `access` adds the feed's headers and credentials (to its own origin only) and user agent."""
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        deadline = started + self.limits.timeout_s
        seen, permanent = {url}, True
        for _hop in range(self.limits.max_redirects + 1):
            await self.policy.check(url)
            hop_headers = {**headers, **access.for_url(url)} if access is not None else headers
            async with self.gate.slot(url):
                status, response_headers, body = await self._one(url, hop_headers, deadline)
            if status in _REDIRECTS and response_headers.get("location"):
                permanent = permanent and status in (301, 308)
                url = urljoin(url, response_headers["location"])
                if url in seen:
                    raise TooManyRedirects(f"redirect loop back to {url}", status=status)
                seen.add(url)
                continue
            return self._outcome(url, status, response_headers, body, started, permanent and len(seen) > 1)
        raise TooManyRedirects(f"more than {self.limits.max_redirects} redirects")

    async def _one(self, url: str, headers: dict[str, str], deadline: float) -> tuple[int, dict[str, str], bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(f"no response within {self.limits.timeout_s:g} s")
        try:
            async with asyncio.timeout(remaining), self._client.stream("GET", url, headers=headers) as response:
                response_headers = {k.lower(): v for k, v in response.headers.items()}
                if not 200 <= response.status_code < 300:
                    return response.status_code, response_headers, b""
                return response.status_code, response_headers, await self._body(response, response_headers)
        except TimeoutError:
            raise FetchTimeout(f"no complete response within {self.limits.timeout_s:g} s") from None
        except httpx.TimeoutException as exc:
            raise FetchTimeout(f"{type(exc).__name__} after {time.monotonic() - deadline + self.limits.timeout_s:.1f} s"
                               ) from exc
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise NetworkError(f"{type(exc).__name__}: {exc}") from exc

    async def _body(self, response: httpx.Response, headers: dict[str, str]) -> bytes:
        cap = self.limits.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise BodyTooLarge(f"Content-Length {declared} is over the {cap} byte cap", status=response.status_code)
        decoder = _decoder(headers.get("content-encoding", ""))
        body = bytearray()
        raw_total = 0
        async for chunk in response.aiter_raw():
            raw_total += len(chunk)
            if raw_total > cap:
                raise BodyTooLarge(f"body over the {cap} byte cap", status=response.status_code)
            body += decoder(chunk, cap - len(body) + 1)
            if len(body) > cap:
                raise BodyTooLarge(f"decompressed body over the {cap} byte cap", status=response.status_code)
        return bytes(body)

    @staticmethod
    def _outcome(url: str, status: int, headers: dict[str, str], body: bytes, started: float,
                 permanent: bool) -> Fetched:
        now = datetime.now(UTC)
        duration = time.monotonic() - started
        if status == 304:
            return Fetched(url, 304, headers=headers, not_modified=True, fetched_at=rfc3339(now), duration=duration,
                           permanent_url=url if permanent else None)
        if 200 <= status < 300:
            return Fetched(url, status, body, headers, False, rfc3339(now), duration, url if permanent else None)
        retry_after = retry_after_seconds(headers.get("retry-after"), now)
        if status == 410:
            raise FeedGoneError("HTTP 410 Gone", status=status)
        if status in (429, 503):
            raise RateLimitedError(f"HTTP {status}" + (f", retry after {retry_after:.0f} s" if retry_after else ""),
                                   status=status, retry_after=retry_after)
        if status in _REDIRECTS:
            raise HttpStatusError(f"HTTP {status} without a Location header", status=status)
        if status >= 400:
            raise HttpStatusError(f"HTTP {status}", status=status, retry_after=retry_after)
        raise FetchError(f"unexpected HTTP status {status}", status=status)


def _decoder(encoding: str) -> Callable[[bytes, int], bytes]:
    """A chunk decoder that never produces more than `limit` bytes per call (bomb-safe)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda chunk, limit: chunk
    if encoding in ("gzip", "x-gzip", "deflate"):
        state: dict[str, zlib._Decompress] = {}

        def decode(chunk: bytes, limit: int) -> bytes:
            if "d" not in state:  # deflate is zlib-wrapped per the RFC, raw in practice: sniff once
                wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else (
                    zlib.MAX_WBITS if chunk[:1] == b"\x78" else -zlib.MAX_WBITS)
                state["d"] = zlib.decompressobj(wbits)
            try:
                return state["d"].decompress(chunk, max(limit, 1))
            except zlib.error as exc:
                raise NetworkError(f"corrupt {encoding} body: {exc}") from exc
        return decode
    raise NetworkError(f"unsupported Content-Encoding {encoding!r}")


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds from `now` (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
