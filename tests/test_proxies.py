"""Who the client is behind trusted proxies: exact cases, and properties over any header text."""

from __future__ import annotations

import contextlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from hub.web.proxies import Client, ForwardedElement, IpAddress, TrustedProxies, parse_node

NGINX = "10.0.0.2"  # the operator's proxy, in the trusted network below
PROXIES = TrustedProxies(["10.0.0.0/24", "fd00::/64"])
FORWARDED = TrustedProxies(["10.0.0.0/24", "fd00::/64"], "forwarded")


def headers(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        (" 192.0.2.1 ", "192.0.2.1"),
        ("192.0.2.1:4711", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:4711", "2001:db8::1"),
        ("[2001:db8::1]:_port", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("[::ffff:192.0.2.1]:80", "192.0.2.1"),
    ],
)
def test_nodes_as_proxies_write_them(text: str, address: str) -> None:
    assert str(parse_node(text)) == address


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "'' is not an IP address"),
        ("unknown", "'unknown' is not an IP address"),
        ("_hidden", "'_hidden' is not an IP address"),
        ("192.0.2.1:", "'192.0.2.1:' is not an address: bad port ''"),
        ("192.0.2.1:http", "'192.0.2.1:http' is not an address: bad port 'http'"),
        ("[2001:db8::1", "'[2001:db8::1' is not an address: unbalanced brackets"),
        ("[2001:db8::1]x", "'[2001:db8::1]x' is not an address: unbalanced brackets"),
        ("[2001:db8::1]:", "'[2001:db8::1]:' is not an address: bad port ''"),
        ("[192.0.2.1]", "'[192.0.2.1]' is not an address: brackets are for IPv6 only"),
        ("192.0.2.256", "'192.0.2.256' is not an IP address"),
        ("example.gouv.fr", "'example.gouv.fr' is not an IP address"),
    ],
)
def test_bad_nodes_say_why(text: str, error: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_node(text)
    assert str(caught.value) == error


def test_forwarded_elements_per_rfc_7239() -> None:
    parse = ForwardedElement.parse
    assert parse("for=192.0.2.60;proto=http;by=203.0.113.43") == ForwardedElement(
        "192.0.2.60", "http"
    )
    assert parse('For="[2001:db8:cafe::17]:4711"') == ForwardedElement(
        "[2001:db8:cafe::17]:4711", None
    )
    assert parse(r'for="a\"b";;proto=https') == ForwardedElement('a"b', "https")
    assert parse("") == ForwardedElement(None, None)
    for text, error in [
        ("for=192.0.2.1;for=192.0.2.2", "for appears twice"),
        ("for=[2001:db8::1]", "'for=[2001:db8::1]' is not name=value"),
        ('for="unterminated', "'for=\"unterminated' is not name=value"),
        ("192.0.2.1", "'192.0.2.1' is not name=value"),
    ]:
        with pytest.raises(ValueError, match=f"^Forwarded element .*: {re.escape(error)}$"):
            parse(text)


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    forged = headers(("X-Forwarded-For", "192.0.2.9"), ("X-Forwarded-Proto", "https"))
    assert PROXIES.client("198.51.100.4", "http", forged) == Client("198.51.100.4", "http")


def test_the_walk_skips_trusted_hops_from_the_right() -> None:
    chain = headers(("X-Forwarded-For", "192.0.2.9, 198.51.100.4, 10.0.0.7"))
    # 10.0.0.7 is a trusted outer proxy; 198.51.100.4 is not, so what it wrote is not read.
    assert PROXIES.client(NGINX, "http", chain).address == "198.51.100.4"
    # Several header lines are one list, in order.
    lines = headers(("X-Forwarded-For", "192.0.2.9"), ("X-Forwarded-For", "10.0.0.7"))
    assert PROXIES.client(NGINX, "http", lines).address == "192.0.2.9"
    # Only trusted addresses: the client is the left-most (a loopback monitor behind nginx).
    assert PROXIES.client(NGINX, "http", headers(("X-Forwarded-For", "10.0.0.9"))).address == (
        "10.0.0.9"
    )
    assert PROXIES.client(NGINX, "http", headers()).address == NGINX


def test_malformed_entries_end_the_walk_at_the_last_address_believed() -> None:
    for value in ("", "garbage", "unknown", "192.0.2.9,", "192.0.2.9;x"):
        client = PROXIES.client(NGINX, "http", headers(("X-Forwarded-For", value)))
        assert client.address == NGINX, value
    # What the client wrote left of the entry nginx appended is never read, broken or not.
    spoof = headers(("X-Forwarded-For", "garbage, ]], 10.0.0.9, 198.51.100.4"))
    assert PROXIES.client(NGINX, "http", spoof).address == "198.51.100.4"


def test_scheme_comes_from_the_trusted_proxy_only() -> None:
    https = headers(("X-Forwarded-For", "192.0.2.9"), ("X-Forwarded-Proto", "HTTPS"))
    assert PROXIES.client(NGINX, "http", https).scheme == "https"
    assert PROXIES.client("192.0.2.1", "http", https).scheme == "http"
    # The right-most value is the nearest proxy's; anything but http(s) leaves the scheme be.
    for value, scheme in [("gopher", "https"), ("", "https"), ("https, http", "http")]:
        answer = PROXIES.client(NGINX, "https", headers(("X-Forwarded-Proto", value)))
        assert answer.scheme == scheme, value


def test_peers_that_are_not_ip_connections_are_kept() -> None:
    assert PROXIES.client(None, "http", headers()).address == "-"
    assert PROXIES.client("/run/hub.sock", "http", headers()).address == "/run/hub.sock"
    # A dual-stack listener sees IPv4 peers as IPv4-mapped IPv6: still the same proxy.
    mapped = PROXIES.client("::ffff:10.0.0.2", "http", headers(("X-Forwarded-For", "192.0.2.9")))
    assert mapped.address == "192.0.2.9"


def test_forwarded_header_walk_and_proto() -> None:
    value = 'for=192.0.2.60;proto=https, for="[fd00::5]:80";proto=http'
    client = FORWARDED.client(NGINX, "http", headers(("Forwarded", value)))
    assert client == Client("192.0.2.60", "https")
    # In that mode X-Forwarded-For is the client's own text, passed through by the proxy.
    spoof = headers(("X-Forwarded-For", "192.0.2.1"), ("Forwarded", "for=198.51.100.4"))
    assert FORWARDED.client(NGINX, "http", spoof).address == "198.51.100.4"
    assert PROXIES.client(NGINX, "http", spoof).address == "192.0.2.1"
    broken = headers(("Forwarded", "for=192.0.2.60;for=192.0.2.61"))
    assert FORWARDED.client(NGINX, "http", broken) == Client(NGINX, "http")


# Properties. Clients are outside the trusted networks; proxies inside.
def _untrusted(address: IpAddress) -> bool:
    return not PROXIES.trusts(parse_node(str(address)))


clients = st.ip_addresses().filter(_untrusted)
proxies = st.one_of(st.ip_addresses(network="10.0.0.0/24"), st.ip_addresses(network="fd00::/64"))
ports = st.integers(min_value=0, max_value=65535)


@st.composite
def written(draw: st.DrawFn, address: IpAddress) -> str:
    """An address the way some proxy writes it (with or without port, brackets, spaces)."""
    port = draw(ports)
    if address.version == 4:
        text = draw(st.sampled_from([f"{address}", f"{address}:{port}"]))
    else:
        text = draw(st.sampled_from([f"{address}", f"[{address}]", f"[{address}]:{port}"]))
    return draw(st.sampled_from(["", " ", "  "])) + text + draw(st.sampled_from(["", " "]))


def canonical(address: IpAddress) -> str:
    return str(parse_node(str(address)))


@given(st.text(), st.text(), st.text(), st.sampled_from([PROXIES, FORWARDED]))
def test_any_header_text_gives_an_answer_never_an_error(
    xff: str, proto: str, forwarded: str, trusted: TrustedProxies
) -> None:
    sent = headers(("X-Forwarded-For", xff), ("X-Forwarded-Proto", proto), ("Forwarded", forwarded))
    client = trusted.client(NGINX, "http", sent)
    assert client.scheme in ("http", "https")
    # The answer is the peer or an address the header names: never one made up.
    assert client.address == NGINX or client.address in named(trusted, xff, forwarded)


def named(trusted: TrustedProxies, xff: str, forwarded: str) -> set[str]:
    nodes = (
        xff.split(",")
        if trusted.header == "x-forwarded-for"
        else [element.for_node or "" for element in _elements(forwarded)]
    )
    return {str(address) for node in nodes if (address := _address(node)) is not None}


def _elements(value: str) -> list[ForwardedElement]:
    found = []
    for text in value.split(","):
        with contextlib.suppress(ValueError):
            found.append(ForwardedElement.parse(text))
    return found


def _address(node: str) -> IpAddress | None:
    try:
        return parse_node(node)
    except ValueError:
        return None


@given(clients, st.text(), st.text())
def test_an_untrusted_peer_is_never_overridden(peer: IpAddress, xff: str, forwarded: str) -> None:
    sent = headers(("X-Forwarded-For", xff), ("Forwarded", forwarded), ("X-Forwarded-Proto", "x"))
    for trusted in (PROXIES, FORWARDED):
        assert trusted.client(str(peer), "http", sent) == Client(canonical(peer), "http")


# What a client may write itself: anything, including addresses of its choice.
client_text = st.lists(st.one_of(st.text(), st.ip_addresses().map(str)), max_size=4).map(",".join)


@given(client_text, clients, st.lists(proxies, max_size=3), st.data())
def test_whatever_the_client_writes_the_proxy_appended_address_wins(
    prefix: str, client: IpAddress, hops: list[IpAddress], data: st.DataObject
) -> None:
    """The client controls everything left of what the first trusted proxy appended."""
    appended = [data.draw(written(client)), *(data.draw(written(hop)) for hop in hops)]
    xff = ",".join([prefix, *appended])
    assert PROXIES.client(NGINX, "http", headers(("X-Forwarded-For", xff))).address == canonical(
        client
    )
    elements = ", ".join(f'for="{node.strip()}"' for node in appended)
    answer = FORWARDED.client(NGINX, "http", headers(("Forwarded", f"{prefix}, {elements}")))
    assert answer.address == canonical(client)
