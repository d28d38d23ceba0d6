"""Per-feed headers, basic/bearer credentials (from the environment or a file), user agent and an
explicit egress proxy, against local servers on 127.0.0.1 (a proxy the test starts)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.feedserver import FeedServer, Route, rss
from helpers.proxy import ForwardProxy

from connectors.base import FeedConfig
from connectors.errors import BlockedAddress, ConfigError, NetworkError
from connectors.feeds import load_feeds
from connectors.fetcher import Fetcher, FetchLimits, PrivateAddressGuard
from connectors.registry import connector_for
from connectors.settings import ConnectorSettings

BODY = rss([("a", "Mon, 01 Mar 2021 10:00:00 GMT")])
FAST = FetchLimits(timeout_s=3.0, host_spacing_s=0.0, host_concurrency=8)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def feeds(tmp_path: Path, body: str, env: dict[str, str]) -> list[FeedConfig]:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n" + body, "utf-8")
    return load_feeds(path, env)


def fetch(feed: FeedConfig, **fetcher: Any) -> Any:
    async def main() -> Any:
        fetcher.setdefault("policy", PrivateAddressGuard(allow=["127.0.0.1"]))
        connector = connector_for(feed)
        connector.fetcher = Fetcher(FAST, **fetcher)
        try:
            from connectors.base import Cursor

            fetched = await connector.fetch(Cursor())
            return fetched, connector.parse(fetched)
        finally:
            await connector.fetcher.aclose()
    return asyncio.run(main())


def test_headers_credentials_and_user_agent_reach_the_feed(server: FeedServer, tmp_path: Path) -> None:
    server.routes.update({"/basic.xml": Route(BODY), "/bearer.xml": Route(BODY)})
    secret_file = tmp_path / "token"
    secret_file.write_text("t0ken-from-a-file\n", "utf-8")
    listed = feeds(tmp_path, f"""\
  - id: basic
    url: {server.url}/basic.xml
    user_agent: "wirewatch-test (ops@example.org)"
    headers: {{X-Api-Key: "${{API_KEY}}", X-Edition: world}}
    auth: {{basic: {{username: reader, password: "${{FEED_PASSWORD}}"}}}}
  - id: bearer
    url: {server.url}/bearer.xml
    auth: {{bearer: "${{FEED_TOKEN}}"}}
""", {"API_KEY": "k-123", "FEED_PASSWORD": "s3cret pass", "FEED_TOKEN_FILE": str(secret_file)})
    for feed in listed:
        _, articles = fetch(feed)
        assert articles, feed.id
    [basic] = server.hits("/basic.xml")
    assert basic["authorization"] == "Basic " + base64.b64encode(b"reader:s3cret pass").decode()
    assert (basic["x-api-key"], basic["x-edition"]) == ("k-123", "world")
    assert basic["user-agent"] == "wirewatch-test (ops@example.org)"
    [bearer] = server.hits("/bearer.xml")
    assert bearer["authorization"] == "Bearer t0ken-from-a-file"
    assert bearer["user-agent"].startswith("wirewatch/")
    # the secrets never show in a repr (logs, tracebacks)
    text = repr(listed)
    assert "s3cret" not in text and "t0ken" not in text and "k-123" not in text


def test_credentials_and_headers_stay_on_the_feeds_origin(tmp_path: Path) -> None:
    with FeedServer() as feed_host, FeedServer() as other:
        other.routes["/elsewhere.xml"] = Route(BODY)
        feed_host.routes["/feed.xml"] = Route(b"", status=302, headers={"Location": f"{other.url}/elsewhere.xml"})
        [feed] = feeds(tmp_path, f"""\
  - id: moved
    url: {feed_host.url}/feed.xml
    headers: {{X-Api-Key: "${{API_KEY}}"}}
    auth: {{bearer: "${{FEED_TOKEN}}"}}
""", {"API_KEY": "k-123", "FEED_TOKEN": "tok"})
        fetched, _ = fetch(feed)
        assert fetched.url.endswith("/elsewhere.xml")
        assert feed_host.hits("/feed.xml")[0]["authorization"] == "Bearer tok"
        [hop] = other.hits("/elsewhere.xml")
        assert "authorization" not in hop and "x-api-key" not in hop     # another port is another origin
        assert hop["user-agent"].startswith("wirewatch/")


@pytest.mark.parametrize(("entry", "key", "reason"), [
    ("auth: {basic: {username: reader, password: hunter2}}", "feeds[0].auth.basic.password",
     "from the environment or a file"),
    ("auth: {bearer: \"${NOT_SET}\"}", "feeds[0].auth.bearer", "NOT_SET is not set (nor NOT_SET_FILE)"),
    ("auth: {digest: x}", "feeds[0].auth", "{basic:"),
    ("headers: {Host: evil.example}", "feeds[0].headers.Host", "cannot be set here"),
    ("headers: {\"Bad Name\": x}", "feeds[0].headers.Bad Name", "cannot be set here"),
    ("user_agent: \"\"", "feeds[0].user_agent", "non-empty"),
    ("auth: {bearer: \"${EMPTY}\"}", "feeds[0].auth.bearer", "is empty"),
])
def test_bad_access_settings_name_file_line_and_key(tmp_path: Path, entry: str, key: str, reason: str) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text(f"feeds:\n  - id: f\n    url: https://news.example/rss\n    {entry}\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_feeds(path, {"EMPTY": ""})
    assert caught.value.key == key and caught.value.line == 4 and reason in str(caught.value)
    assert str(caught.value).startswith(f"{path}:4")


def test_the_egress_proxy_carries_the_requests_and_the_guard_still_vets_targets(server: FeedServer) -> None:
    server.routes["/feed.xml"] = Route(BODY)
    port = server.url.rsplit(":", 1)[1]

    async def no_dns(host: str, port: int) -> list[str]:
        if host == "feeds.example.test":                 # only the proxy knows this name
            raise NetworkError(f"cannot resolve {host}")
        return {"private.example.test": ["10.0.0.5"]}.get(host, [host])

    with ForwardProxy(hosts={"feeds.example.test": "127.0.0.1"}) as proxy:
        guard = PrivateAddressGuard(allow=[f"127.0.0.1:{port}"], resolver=no_dns, proxied=True)
        direct = FeedConfig(id="direct", url=f"{server.url}/feed.xml")
        fetched, articles = fetch(direct, policy=guard, proxy=proxy.url)
        assert articles and fetched.status == 200
        named = FeedConfig(id="named", url=f"http://feeds.example.test:{port}/feed.xml")
        _, articles = fetch(named, policy=guard, proxy=proxy.url)
        assert articles
        assert [url for url, _ in proxy.requests] == [f"{server.url}/feed.xml",
                                                      f"http://feeds.example.test:{port}/feed.xml"]
        # what this machine resolves to a private address is refused before the proxy sees it
        for url in ("http://10.0.0.5/feed.xml", "http://private.example.test/feed.xml",
                    "http://127.0.0.1:9/feed.xml"):
            with pytest.raises(BlockedAddress):
                fetch(FeedConfig(id="blocked", url=url), policy=guard, proxy=proxy.url)
        assert len(proxy.requests) == 2


def test_proxy_and_user_agent_settings_are_checked_at_start() -> None:
    cfg = ConnectorSettings.from_env({"WIREWATCH_FETCH_PROXY": "http://user:pw@proxy.internal:3128",
                                      "WIREWATCH_USER_AGENT": "newsdesk-monitor/1.0"})
    assert cfg.proxy == "http://user:pw@proxy.internal:3128" and "pw" not in repr(cfg)
    assert cfg.user_agent == "newsdesk-monitor/1.0"
    for bad in ("proxy.internal:3128", "socks5://proxy.internal:1080", "http://proxy.internal"):
        with pytest.raises(ConfigError, match="WIREWATCH_FETCH_PROXY"):
            ConnectorSettings.from_env({"WIREWATCH_FETCH_PROXY": bad})
