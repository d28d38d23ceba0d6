"""The SSRF guard: which resolved addresses a feed URL may reach.

Feed URLs come from feed lists, redirects and (for full text) links inside feeds, so any of them
can point at the machine itself, the cluster network or a cloud metadata service. The guard is on
by default: a host whose resolved addresses include anything that is not a public unicast address
is refused, unless the host or the address is allow-listed (WIREWATCH_FETCH_ALLOW_HOSTS).

`decide()` is pure (host, resolved addresses, allow-list -> Decision) so the policy is tested on
addresses without opening connections. `connectors.fetcher` applies it to every redirect hop and
again inside the transport, at connect time, where the connection is then made to the vetted
address itself (pinning: no second DNS answer can swap in a private address).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from connectors.errors import ConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True)
class AllowList:
    """Allow-list entries: host names (`feeds.local`), `host:port`, IPs (`10.1.2.3`, `::1`,
    `127.0.0.1:8080`, `[::1]:8080`) and networks (`10.0.0.0/8`, `fd00::/8`)."""

    hosts: frozenset[str] = frozenset()                         # names, matched on the URL host
    host_ports: frozenset[tuple[str, int]] = frozenset()        # (name or IP, port)
    networks: tuple[IPNetwork, ...] = ()                        # IPs (as /32, /128) and CIDRs
    address_ports: tuple[tuple[IPAddress, int], ...] = field(default=())

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts: set[str] = set()
        host_ports: set[tuple[str, int]] = set()
        networks: list[IPNetwork] = []
        address_ports: list[tuple[IPAddress, int]] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if "/" in entry:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ConfigError(f"{raw!r} is not a network (CIDR)", key="WIREWATCH_FETCH_ALLOW_HOSTS") from None
                continue
            host, port = _split_port(entry, raw)
            address = _ip(host)
            if address is not None:
                if port is None:
                    networks.append(ipaddress.ip_network(address))
                else:
                    address_ports.append((address, port))
                    host_ports.add((str(address), port))
            elif port is None:
                hosts.add(host)
            else:
                host_ports.add((host, port))
        return cls(frozenset(hosts), frozenset(host_ports), tuple(networks), tuple(address_ports))

    def __bool__(self) -> bool:
        return bool(self.hosts or self.host_ports or self.networks or self.address_ports)

    def allows_host(self, host: str, port: int | None) -> bool:
        host = _norm_host(host)
        return host in self.hosts or (port is not None and (host, port) in self.host_ports)

    def allows_address(self, address: IPAddress, port: int | None) -> bool:
        if any(address in network for network in self.networks if network.version == address.version):
            return True
        return port is not None and (address, port) in self.address_ports


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Decision(True)


def non_public_reason(address: IPAddress) -> str | None:
    """Why this address is not a public unicast address (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or (address.sixtofour if address.sixtofour is not None else None)
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]        # the client's (obfuscation removed) address
        if embedded is not None:
            inner = non_public_reason(embedded)
            if inner:
                return f"{inner} (embedded in {address})"
        if address.scope_id:
            return "scoped (link-local zone)"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local" + (" (cloud metadata)" if str(address) in ("169.254.169.254", "fd00:ec2::254") else "")
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "shared (CGNAT 100.64.0.0/10)"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "unique-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "not globally routable"
    return None


def decide(host: str, addresses: Iterable[str | IPAddress], allow: AllowList | Iterable[str] = (),
           port: int | None = None) -> Decision:
    """May a URL whose host is `host` (port `port`) be fetched when it resolves to `addresses`?

    Every address must be public or allow-listed (a name that resolves to one public and one
    private address is refused: the client could pick either). An allow-listed host name passes
    whatever it resolves to.
    """
    if not isinstance(allow, AllowList):
        allow = AllowList.parse(allow)
    if allow.allows_host(host, port):
        return ALLOWED
    parsed: list[IPAddress] = []
    for value in addresses:
        address = value if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address) else _ip(str(value))
        if address is None:
            return Decision(False, f"{host} resolved to something that is not an IP address: {value!r}")
        parsed.append(address)
    if not parsed:
        return Decision(False, f"{host} did not resolve to any address")
    for address in parsed:
        if allow.allows_address(address, port):
            continue
        reason = non_public_reason(address)
        if reason:
            return Decision(False, f"{host} resolves to {reason} address {address}")
    return ALLOWED


def hint(host: str, port: int | None) -> str:
    """How to let this host through (for error messages and `feeds check`)."""
    target = f"{host}:{port}" if port else host
    return f"add {target} (or its address/network) to WIREWATCH_FETCH_ALLOW_HOSTS to allow it"


def _norm_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(_norm_host(text))
    except ValueError:
        return None


def _split_port(entry: str, raw: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `1.2.3.4:port`, `::1`, `[::1]:port` -> (host, port)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ConfigError(f"{raw!r} is not host[:port]", key="WIREWATCH_FETCH_ALLOW_HOSTS")
    elif entry.count(":") == 1:
        host, port_text = entry.split(":")
    else:                       # a name, an IPv4 address or a bare IPv6 address
        host, port_text = entry, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{raw!r} has a bad port", key="WIREWATCH_FETCH_ALLOW_HOSTS")
    return host, int(port_text)
