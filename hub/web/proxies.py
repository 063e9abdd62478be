"""Who the client really is behind the operator's reverse proxies (X-Forwarded-For, RFC 7239).

Pure and I/O-free. A forwarding header is believed only when the TCP peer is a trusted proxy;
the chain is then walked from the right (the entry the nearest proxy appended) over trusted
addresses, and the first address that is not a trusted proxy is the client. Entries to its
left were written by the client and are never read. An entry that is not an address (garbage,
`unknown`, an obfuscated name) ends the walk: the client is the last address believed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from multidict import MultiMapping

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Which header the trusted proxies write: nginx, HAProxy `option forwardfor`, Traefik and Caddy
# write X-Forwarded-For; HAProxy `option forwarded` writes RFC 7239 Forwarded. Only one is read:
# a proxy passes the other one through from the client untouched, so believing it would let
# anyone claim any address.
ForwardedHeader = Literal["x-forwarded-for", "forwarded"]
SCHEMES = ("http", "https")

_PORT = re.compile(r"[0-9]{1,5}|_[A-Za-z0-9._-]+")  # RFC 7239 node-port (a number or obfport)
_RFC7230_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(rf'\s*({_RFC7230_TCHARS})=({_RFC7230_TCHARS}|"(?:[^"\\]|\\.)*")\s*')
_ESCAPE = re.compile(r"\\(.)")


def parse_node(text: str) -> IpAddress:
    """An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
    `[2001:db8::1]:4711`. IPv4-mapped IPv6 addresses become IPv4 (one client, one key)."""
    node = text.strip()
    port: str | None = None
    host, bracketed = node, node.startswith("[")
    if bracketed:
        host, bracket, rest = node[1:].partition("]")
        if not bracket or rest[:1] not in ("", ":"):
            raise ValueError(f"{text!r} is not an address: unbalanced brackets")
        port = rest[1:] if rest else None
    elif node.count(":") == 1:  # IPv4 with a port; bare IPv6 has at least two colons
        host, port = node.split(":")
    if port is not None and not _PORT.fullmatch(port):
        raise ValueError(f"{text!r} is not an address: bad port {port!r}")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    if bracketed and address.version != 6:
        raise ValueError(f"{text!r} is not an address: brackets are for IPv6 only")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class ForwardedElement:
    """One proxy's element of an RFC 7239 Forwarded header: whom it received the request from
    (`for=`) and over which scheme (`proto=`). Other parameters are ignored."""

    for_node: str | None
    proto: str | None

    @classmethod
    def parse(cls, text: str) -> ForwardedElement:
        """One element (the part between commas): `for=192.0.2.1;proto=https`."""
        pairs: dict[str, str] = {}
        for part in text.split(";"):
            if not part.strip():
                continue  # RFC 7239 allows empty pairs
            match = _PAIR.fullmatch(part)
            if match is None:
                raise ValueError(f"Forwarded element {text!r}: {part.strip()!r} is not name=value")
            name, value = match[1].lower(), match[2]
            if name in pairs:
                raise ValueError(f"Forwarded element {text!r}: {name} appears twice")
            if value.startswith('"'):
                value = _ESCAPE.sub(r"\1", value[1:-1])
            pairs[name] = value
        return cls(for_node=pairs.get("for"), proto=pairs.get("proto"))


@dataclass(frozen=True, slots=True)
class Client:
    """The real client: its address (canonical text: the key of rate limits and log lines)
    and the scheme it used to reach the hub (what its browser's Origin says)."""

    address: str
    scheme: str


def _scheme(value: str | None) -> str | None:
    scheme = (value or "").strip().lower()
    return scheme if scheme in SCHEMES else None


def _elements(values: Sequence[str]) -> list[str]:
    """The comma-separated entries of one header, possibly sent on several lines, right-most
    first. Commas inside quoted strings are not special-cased: no address contains one, and
    a broken entry only ends the walk."""
    return [entry for value in reversed(values) for entry in reversed(value.split(","))]


class TrustedProxies:
    """The networks of the operator's reverse proxies and the header they write; decides who
    the client of each request is. Built once from config.server."""

    def __init__(self, networks: Iterable[str], header: ForwardedHeader = "x-forwarded-for"):
        self.networks: tuple[IpNetwork, ...] = tuple(ipaddress.ip_network(n) for n in networks)
        self.header = header

    def trusts(self, address: IpAddress) -> bool:
        return any(address in network for network in self.networks)

    def client(self, peer: str | None, scheme: str, headers: MultiMapping[str]) -> Client:
        """The client of a request that came over TCP from `peer` with `scheme`."""
        try:
            address = parse_node(peer or "")
        except ValueError:
            return Client(peer or "-", scheme)  # not an IP connection: nothing to walk
        if not self.trusts(address):
            return Client(str(address), scheme)  # its headers are whatever the client wrote
        if self.header == "forwarded":
            return self._walk_forwarded(address, scheme, headers.getall("Forwarded", []))
        proto_values = _elements(headers.getall("X-Forwarded-Proto", []))
        scheme = _scheme(proto_values[0] if proto_values else None) or scheme
        for entry in _elements(headers.getall("X-Forwarded-For", [])):
            if not self.trusts(address):
                break
            try:
                address = parse_node(entry)
            except ValueError:
                break
        return Client(str(address), scheme)

    def _walk_forwarded(self, address: IpAddress, scheme: str, values: Sequence[str]) -> Client:
        # Each element's proto= is the scheme its proxy was reached over: the last element
        # believed tells how the client itself came in.
        for entry in _elements(values):
            if not self.trusts(address):
                break
            try:
                element = ForwardedElement.parse(entry)
                address = parse_node(element.for_node or "")
            except ValueError:
                break
            scheme = _scheme(element.proto) or scheme
        return Client(str(address), scheme)
