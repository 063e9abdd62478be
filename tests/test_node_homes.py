"""Who is a meeting's home, and where, read from its lease (hub/nodes/homes.py), with the
in-memory shared state standing in for Redis."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.ids import MeetingId
from hub.nodes.homes import MeetingHomes, read_token
from hub.shared.memory import MemoryState

MEETING = MeetingId("abc-defg-hij")


@given(
    address=st.sampled_from(
        ["", "http://10.0.0.5:8080", "https://node-1.internal", "http://[::1]:80"]
    ),
    secret=st.text("ABCdef0123456789-_", min_size=1, max_size=30),
)
def test_a_lease_token_says_which_node_is_home_and_where(address: str, secret: str) -> None:
    node = secrets.token_hex(6)
    holder = f"{node}.{address}" if address else node
    home = read_token(f"{holder}.{secret}")
    assert (home.node, home.address) == (node, address or None)


@pytest.mark.parametrize(
    "address",
    ["file:///etc/passwd", "http://10.0.0.5:8080/admin?x=1", "http://user:pw@10.0.0.5",
     "gopher://10.0.0.5:70", "http://10.0.0.5:99999", "http://"],
)  # fmt: skip
def test_a_lease_naming_no_node_origin_gives_no_address(address: str) -> None:
    """A lease token is read from Redis: whatever wrote it, only a node's origin (as
    `server.node_url` is checked) is ever used as an address."""
    home = read_token(f"0123456789ab.{address}.secret")
    assert (home.node, home.address) == ("0123456789ab", None)


async def test_another_node_learns_the_home_and_its_address() -> None:
    state = MemoryState()
    first = MeetingHomes(state, "0123456789ab", lambda _: None, address="http://10.0.0.5:8080")
    second = MeetingHomes(state, "ba9876543210", lambda _: None)
    mine = await first.claim(MEETING)
    assert (mine.node, mine.fresh) == ("0123456789ab", True)
    theirs = await second.claim(MEETING)
    assert (theirs.node, theirs.address, theirs.hold) == (
        "0123456789ab", "http://10.0.0.5:8080", None,
    )  # fmt: skip
    assert await second.where(MEETING) == "0123456789ab"
    await first.release(MEETING, mine)
    assert (await second.whereabouts(MEETING)).node is None
    again = await second.claim(MEETING)  # nobody home: the asking node is, with no address
    assert (again.node, again.fresh) == ("ba9876543210", True)
    assert (await first.whereabouts(MEETING)).address is None
    await second.close()
