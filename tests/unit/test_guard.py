"""The SSRF guard: decisions on resolved addresses (pure), and the fetcher applying them to every
redirect hop and at connect time. Tests only ever connect to 127.0.0.1: other addresses come from
an injected resolver and must be refused before any connection is attempted."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.feedserver import FeedServer, Route

from connectors.errors import BlockedAddress, ConfigError
from connectors.fetcher import AllowAll, Fetcher, FetchLimits, PrivateAddressGuard
from connectors.guard import AllowList, decide
from connectors.settings import Settings

BODY = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
FAST = FetchLimits(timeout_s=5.0, host_spacing_s=0.0)


@pytest.mark.parametrize("address", [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
])
def test_public_addresses_pass(address: str) -> None:
    assert decide("news.example", [address], ())


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.0.0.5", "private"), ("172.16.3.4", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "cloud metadata"), ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("100.64.0.1", "CGNAT"), ("100.127.255.254", "CGNAT"),
    ("fd00::1", "unique-local"), ("fc12:3456::1", "unique-local"), ("fec0::1", "site-local"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.2.3", "private"), ("::ffff:169.254.169.254", "metadata"),
    ("2002:7f00:1::", "loopback"),            # 6to4 wrapping 127.0.0.1
    ("64:ff9b::a00:5", "private"),            # NAT64 wrapping 10.0.0.5
    ("192.0.2.7", "private"), ("198.18.0.1", "private"), ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"),
    ("2001:db8::1", "private"),
])
def test_non_public_addresses_are_refused_with_the_reason(address: str, why: str) -> None:
    decision = decide("feeds.example", [address], ())
    assert not decision
    assert why in decision.reason and "feeds.example" in decision.reason


def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    assert not decide("mixed.example", ["93.184.216.34", "10.0.0.1"], ())
    assert not decide("nothing.example", [], ())
    assert not decide("odd.example", ["not-an-ip"], ())


def test_the_allow_list_takes_host_names_ips_and_networks() -> None:
    allow = AllowList.parse(["Feeds.Local", "10.1.2.3", "192.168.0.0/16", "fd00:1::/32", "127.0.0.1:8080",
                             "[::1]:9090", "intranet.example:8443"])
    assert decide("feeds.local", ["10.9.9.9"], allow)                        # by name, whatever it resolves to
    assert decide("feeds.local.", ["127.0.0.1"], allow)                      # trailing dot is the same name
    assert decide("other.example", ["10.1.2.3"], allow)                      # by address
    assert not decide("other.example", ["10.1.2.4"], allow)
    assert decide("nas.example", ["192.168.7.7"], allow)                     # by network
    assert decide("v6.example", ["fd00:1:0:5::1"], allow)
    assert not decide("v6.example", ["fd00:2::1"], allow)
    assert decide("127.0.0.1", ["127.0.0.1"], allow, port=8080)              # address and port
    assert not decide("127.0.0.1", ["127.0.0.1"], allow, port=8081)
    assert decide("alias.example", ["127.0.0.1"], allow, port=8080)
    assert decide("::1", ["::1"], allow, port=9090)
    assert decide("intranet.example", ["10.0.0.1"], allow, port=8443)
    assert not decide("intranet.example", ["10.0.0.1"], allow, port=443)
    assert not decide("metadata.example", ["169.254.169.254"], allow)       # not in any entry
    # plain strings work too, and an allow-listed network never lets a different private one in
    assert not decide("x.example", ["10.0.0.1", "192.168.1.1"], ["192.168.0.0/16"])


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "host:port", "host:0", "[::1]x"])
def test_bad_allow_list_entries_fail_at_start_with_the_variable(bad: str) -> None:
    with pytest.raises(ConfigError, match="WIREWATCH_FETCH_ALLOW_HOSTS"):
        Settings.from_env({"WIREWATCH_FETCH_ALLOW_HOSTS": bad})


def test_the_guard_is_on_by_default_and_can_be_turned_off() -> None:
    assert Settings.from_env({}).connector.fetch_guard
    assert not Settings.from_env({"WIREWATCH_FETCH_GUARD": "off"}).connector.fetch_guard
    assert isinstance(PrivateAddressGuard.from_env({}), PrivateAddressGuard)
    assert isinstance(PrivateAddressGuard.from_env({"WIREWATCH_FETCH_GUARD": "off"}), AllowAll)


# --- the fetcher: every hop and every connection ------------------------------------------------

class FakeDNS:
    """Maps names to addresses; records every lookup. Unknown names are a test bug."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers, self.lookups = answers, []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host == "127.0.0.1":
            return [host]
        answers = self.answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        yield srv


def fetch(url: str, guard: PrivateAddressGuard) -> Any:
    async def main() -> Any:
        fetcher = Fetcher(FAST, guard)
        try:
            return await fetcher.get(url)
        finally:
            await fetcher.aclose()
    return asyncio.run(main())


def test_the_connection_goes_to_the_vetted_address(server: FeedServer) -> None:
    """feeds.example never reaches the system resolver: the transport connects to what the guard vetted."""
    port = int(server.url.rsplit(":", 1)[1])
    server.routes["/feed"] = Route(BODY)
    dns = FakeDNS({"feeds.example": [["127.0.0.1"]]})
    fetched = fetch(f"http://feeds.example:{port}/feed", PrivateAddressGuard([f"127.0.0.1:{port}"], resolver=dns))
    assert fetched.body == BODY
    assert server.requests[0][1]["host"] == f"feeds.example:{port}"   # Host header keeps the name
    assert dns.lookups == ["feeds.example", "feeds.example"]            # the hop check, then connect time


def test_a_redirect_to_a_private_address_is_refused_before_any_connection(server: FeedServer) -> None:
    port = int(server.url.rsplit(":", 1)[1])
    server.routes["/feed"] = Route(b"", status=302, headers={"Location": f"http://internal.example:{port}/admin"})
    server.routes["/admin"] = Route(b"secret")
    dns = FakeDNS({"feeds.example": [["127.0.0.1"]], "internal.example": [["10.0.0.5"]]})
    guard = PrivateAddressGuard([f"127.0.0.1:{port}"], resolver=dns)   # the origin's own server is allowed
    with pytest.raises(BlockedAddress, match=r"internal.example resolves to private address 10.0.0.5") as err:
        fetch(f"http://feeds.example:{port}/feed", guard)
    assert "WIREWATCH_FETCH_ALLOW_HOSTS" in str(err.value) and err.value.kind == "blocked"
    assert [path for path, _ in server.requests] == ["/feed"]            # /admin never requested


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/", "http://[::1]:1/x",
                                    "http://[::ffff:127.0.0.1]:1/x", "file:///etc/passwd", "gopher://x/"])
def test_redirects_to_literal_addresses_and_other_schemes_are_refused(server: FeedServer, target: str) -> None:
    server.routes["/feed"] = Route(b"", status=301, headers={"Location": target})
    with pytest.raises(BlockedAddress):
        fetch(server.url + "/feed", PrivateAddressGuard([server.url.split("://")[1]]))
    assert len(server.requests) == 1


def test_dns_rebinding_between_check_and_connect_is_caught(server: FeedServer) -> None:
    """First answer public (the hop check passes), second answer private: the connect-time check refuses
    and no connection is made to either address."""
    port = int(server.url.rsplit(":", 1)[1])
    server.routes["/feed"] = Route(BODY)
    dns = FakeDNS({"rebind.example": [["93.184.216.34"], ["10.0.0.5"]]})
    with pytest.raises(BlockedAddress, match="10.0.0.5"):
        fetch(f"http://rebind.example:{port}/feed", PrivateAddressGuard([], resolver=dns))
    assert dns.lookups == ["rebind.example", "rebind.example"] and not server.requests


def test_the_default_fetcher_refuses_loopback(server: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_FETCH_GUARD", raising=False)
    monkeypatch.delenv("WIREWATCH_FETCH_ALLOW_HOSTS", raising=False)
    server.routes["/feed"] = Route(BODY)

    async def main() -> None:
        fetcher = Fetcher(FAST)
        try:
            await fetcher.get(server.url + "/feed")
        finally:
            await fetcher.aclose()
    with pytest.raises(BlockedAddress, match="loopback"):
        asyncio.run(main())
    assert not server.requests
