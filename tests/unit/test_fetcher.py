"""The fetcher against a real local HTTP server: every failure class maps to one named error."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.feedserver import FeedServer, Route, rss

from connectors.errors import (
    BlockedAddress,
    BodyTooLarge,
    FeedGoneError,
    FetchTimeout,
    HttpStatusError,
    NetworkError,
    RateLimitedError,
    TooManyRedirects,
)
from connectors.fetcher import Fetcher, FetchLimits, PrivateAddressGuard

BODY = rss([("a", "Mon, 01 Mar 2021 10:00:00 GMT")])
FAST = FetchLimits(timeout_s=2.0, host_spacing_s=0.0, host_concurrency=8, max_body_bytes=64 * 1024)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def run(coro_fn: Any, limits: FetchLimits = FAST, **kw: Any) -> Any:
    async def main() -> Any:
        kw.setdefault("policy", PrivateAddressGuard(allow=["127.0.0.1"]))   # the test server is local
        fetcher = Fetcher(limits, **kw)
        try:
            return await coro_fn(fetcher)
        finally:
            await fetcher.aclose()
    return asyncio.run(main())


def test_etag_round_trip_gives_304(server: FeedServer) -> None:
    server.routes["/f"] = Route(BODY)
    first, second = run(lambda f: _twice(f, server.url + "/f"))
    assert first.status == 200 and first.body == BODY and first.headers["etag"]
    assert second.not_modified and second.status == 304
    assert server.hits("/f")[1]["if-none-match"] == first.headers["etag"]
    assert "wirewatch" in server.hits("/f")[0]["user-agent"]


async def _twice(fetcher: Fetcher, url: str) -> tuple[Any, Any]:
    first = await fetcher.get(url)
    return first, await fetcher.get(url, etag=first.headers.get("etag"),
                                     last_modified=first.headers.get("last-modified"))


def test_last_modified_round_trip_gives_304(server: FeedServer) -> None:
    server.routes["/lm"] = Route(BODY, etag=False, last_modified="Mon, 01 Mar 2021 10:00:00 GMT")
    first, second = run(lambda f: _twice(f, server.url + "/lm"))
    assert first.headers["last-modified"] == "Mon, 01 Mar 2021 10:00:00 GMT"
    assert second.not_modified
    assert server.hits("/lm")[1]["if-modified-since"] == "Mon, 01 Mar 2021 10:00:00 GMT"


@pytest.mark.parametrize(("status", "headers", "error", "retry_after"), [
    (429, {"Retry-After": "120"}, RateLimitedError, 120.0),
    (503, {"Retry-After": "Fri, 31 Dec 1999 23:59:59 GMT"}, RateLimitedError, 0.0),
    (500, {}, HttpStatusError, None),
    (404, {}, HttpStatusError, None),
    (410, {}, FeedGoneError, None),
])
def test_error_statuses_map_to_named_errors(server: FeedServer, status: int, headers: dict[str, str],
                                            error: type[Exception], retry_after: float | None) -> None:
    server.routes["/e"] = Route(b"no", status=status, headers=headers, etag=False)
    with pytest.raises(error) as caught:
        run(lambda f: f.get(server.url + "/e"))
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert caught.value.retry_after == retry_after  # type: ignore[attr-defined]


def _redirect(to: str, status: int = 301) -> Any:
    return lambda h: h.reply(status, b"", {"Location": to})


def test_permanent_redirects_are_followed_and_reported(server: FeedServer) -> None:
    server.routes.update({"/old": _redirect("/older"), "/older": _redirect(server.url + "/new", 308),
                          "/new": Route(BODY)})
    fetched = run(lambda f: f.get(server.url + "/old"))
    assert fetched.body == BODY and fetched.url == server.url + "/new"
    assert fetched.permanent_url == server.url + "/new"


def test_a_temporary_redirect_is_not_permanent(server: FeedServer) -> None:
    server.routes.update({"/tmp": _redirect("/new", 302), "/new": Route(BODY)})
    assert run(lambda f: f.get(server.url + "/tmp")).permanent_url is None


def test_redirect_loops_and_endless_chains_stop(server: FeedServer) -> None:
    server.routes.update({"/a": _redirect("/b"), "/b": _redirect("/a")})
    with pytest.raises(TooManyRedirects, match="loop"):
        run(lambda f: f.get(server.url + "/a"))
    for i in range(10):
        server.routes[f"/chain/{i}"] = _redirect(f"/chain/{i + 1}", 302)
    with pytest.raises(TooManyRedirects, match="more than 5"):
        run(lambda f: f.get(server.url + "/chain/0"))


def _slow(handler: Any) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100):                       # a trickle: never finishes within the budget
        try:
            handler.wfile.write(b"<" * 10)
            handler.wfile.flush()
        except OSError:
            return
        time.sleep(0.1)


def test_a_slow_server_hits_the_total_timeout_without_stalling_other_feeds(server: FeedServer) -> None:
    server.routes.update({"/slow": _slow, "/fast": Route(BODY)})
    limits = FetchLimits(timeout_s=1.0, host_spacing_s=0.0, host_concurrency=8)

    async def both(fetcher: Fetcher) -> tuple[Any, float, BaseException | None]:
        slow = asyncio.create_task(fetcher.get(server.url + "/slow"))
        started = time.monotonic()
        fast = await fetcher.get(server.url + "/fast")
        fast_took = time.monotonic() - started
        try:
            await slow
        except FetchTimeout as exc:
            return fast, fast_took, exc
        return fast, fast_took, None

    fast, fast_took, error = run(both, limits)
    assert fast.body == BODY and fast_took < 0.9
    assert isinstance(error, FetchTimeout)


def test_oversized_bodies_stop_at_the_cap(server: FeedServer) -> None:
    server.routes["/declared"] = Route(b"x" * 100_000)

    def chunked(handler: Any) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        try:
            for _ in range(200):
                handler.wfile.write(b"2000\r\n" + b"y" * 0x2000 + b"\r\n")
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    server.routes["/chunked"] = chunked
    with pytest.raises(BodyTooLarge, match="Content-Length"):
        run(lambda f: f.get(server.url + "/declared"))
    with pytest.raises(BodyTooLarge):
        run(lambda f: f.get(server.url + "/chunked"))


def test_gzip_is_decoded_and_a_compression_bomb_stops_at_the_cap(server: FeedServer) -> None:
    server.routes["/gz"] = Route(BODY, gzip=True)
    assert run(lambda f: f.get(server.url + "/gz")).body == BODY
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))          # 50 MB in about 50 kB
    server.routes["/bomb"] = lambda h: h.reply(200, bomb, {"Content-Encoding": "gzip"})
    with pytest.raises(BodyTooLarge, match="decompressed"):
        run(lambda f: f.get(server.url + "/bomb"))


def test_refused_connections_are_network_errors() -> None:
    with FeedServer() as srv:
        url = srv.url
    with pytest.raises(NetworkError):
        run(lambda f: f.get(url + "/gone"))


def test_the_address_policy_sees_every_redirect_hop(server: FeedServer) -> None:
    server.routes.update({"/r": _redirect("http://localhost:9/private"), "/ok": Route(BODY)})
    guard = PrivateAddressGuard(allow=[server.url.split("://")[1]])   # only this server's host:port
    assert run(lambda f: f.get(server.url + "/ok"), policy=guard).body == BODY
    with pytest.raises(BlockedAddress, match="localhost"):
        run(lambda f: f.get(server.url + "/r"), policy=guard)
    with pytest.raises(BlockedAddress):
        run(lambda f: f.get(server.url + "/ok"), policy=PrivateAddressGuard())


def test_requests_to_one_host_are_spaced(server: FeedServer) -> None:
    server.routes["/f"] = Route(BODY)
    limits = FetchLimits(timeout_s=5, host_spacing_s=0.2, host_concurrency=4)

    async def three(fetcher: Fetcher) -> float:
        started = time.monotonic()
        await asyncio.gather(*(fetcher.get(server.url + "/f") for _ in range(3)))
        return time.monotonic() - started

    assert run(three, limits) >= 0.4
