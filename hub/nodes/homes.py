"""Which node is home of each live meeting: the one holding the lease `meeting:{id}:home`.

The first node where someone of a meeting arrives takes the lease and runs the meeting there
(its conference and its SFU room); every other node relays its sockets of that meeting to
the home (hub/web/relay.py). A node holds the lease while it has at least one socket of the
meeting (its own or relayed), renewing it every second; the key lives 3 s, so when the home
dies another node can take the meeting over within 3 s. A home that cannot renew in time is
told (`on_lost`) before its key can expire, and lets its people go so they reconnect to the
new home.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from yarl import URL

from hub.ids import MeetingId
from hub.shared.lease import Lease
from hub.shared.port import SharedState

log = logging.getLogger(__name__)

TTL = 3.0
RENEW_EVERY = 1.0
MARGIN = 1.0


def lease_name(meeting: MeetingId) -> str:
    return f"meeting:{meeting}:home"


class _Hold:
    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.users = 0


@dataclass(frozen=True)
class Home:
    """Where a meeting lives: `node`, or nowhere yet (None: the lease is being let go or it
    just expired; ask again). `fresh`: this node took it just now (no home before). When it
    is this node, `hold` is what `release` gives back. `address`: the home node's direct
    address, when it published one."""

    node: str | None
    fresh: bool = False
    hold: _Hold | None = None
    address: str | None = None


def node_origin(value: str) -> str:
    """A node's direct address, `http(s)://host[:port]` with no path (a trailing '/' cut);
    ValueError otherwise. Checks `server.node_url` and what a lease says of it."""
    try:
        url = URL(value.rstrip("/"))
        port = url.port  # an impossible port raises here
    except (ValueError, TypeError):
        port = None
        url = URL()
    bare = not (url.user or url.password or url.query_string or url.fragment)
    if (
        url.scheme not in ("http", "https")
        or not url.host
        or not port
        or not bare
        or url.path not in ("", "/")
        or any(c.isspace() for c in value)
    ):
        raise ValueError("must be http(s)://host[:port] with no path, e.g. http://10.0.0.5:8080")
    return value.rstrip("/")


def lease_holder(node: str, address: str = "") -> str:
    """What a node's lease tokens start with (`Lease` adds `.{secret}`): the node's id, and
    its direct address when it has one; `read_token` reads it back."""
    return f"{node}.{address}" if address else node


def read_token(token: str) -> Home:
    """Who holds a home lease, from its token `{node}[.{address}].{secret}` (the node id and
    the secret hold no '.'). An address that is not a node's origin (a lease written by
    anyone but a node) is no address: nothing is ever sent to it."""
    node, _, rest = token.partition(".")
    address = rest.rpartition(".")[0]
    if address:
        try:
            address = node_origin(address)
        except ValueError:
            address = ""
    return Home(node or None, address=address or None)


class MeetingHomes:
    """The home leases this node holds, each with how many sockets use it. `claim` makes
    this node the meeting's home if nobody is, or says who is; each claim that answered this
    node is balanced by one `release`. `close()` lets every lease go."""

    def __init__(
        self,
        state: SharedState,
        node: str,
        on_lost: Callable[[MeetingId], None],
        *,
        address: str = "",
        ttl: float = TTL,
        renew_every: float = RENEW_EVERY,
        margin: float = MARGIN,
    ) -> None:
        self.node = node
        self._holder = lease_holder(node, address)
        self._state = state
        self._on_lost = on_lost
        self._timing = (ttl, renew_every, margin)
        self._holds: dict[MeetingId, _Hold] = {}
        self._claiming = asyncio.Lock()
        self._handed_over = False  # draining: this node takes no meeting any more

    @property
    def held(self) -> int:
        """How many meetings are at home on this node now."""
        return len(self.at_home())

    def holds(self, meeting: MeetingId) -> bool:
        hold = self._holds.get(meeting)
        return hold is not None and hold.lease.held

    async def claim(self, meeting: MeetingId) -> Home:
        """This node, counted as one more user of the lease, or the node that is home."""
        async with self._claiming:  # two sockets of one meeting arriving together: one lease
            hold = self._holds.get(meeting)
            if hold is not None and hold.lease.held:
                hold.users += 1
                return Home(self.node, hold=hold)
            if not self._handed_over:  # a drained node only says who is home
                ttl, renew_every, margin = self._timing
                lease = Lease(
                    self._state, lease_name(meeting), ttl=ttl, renew_every=renew_every,
                    margin=margin, holder=self._holder,
                    on_lost=lambda: self._lost(meeting, lease),
                )  # fmt: skip
                if await lease.try_acquire():
                    hold = self._holds[meeting] = _Hold(lease)
                    hold.users = 1
                    return Home(self.node, fresh=True, hold=hold)
        home = await self.whereabouts(meeting)
        return home if home.node != self.node else Home(None)

    async def whereabouts(self, meeting: MeetingId) -> Home:
        """The meeting's home now, with its address (without claiming it)."""
        token = await self._state.lease_holder(lease_name(meeting))
        return Home(None) if token is None else read_token(token)

    async def where(self, meeting: MeetingId) -> str | None:
        """The node that is the meeting's home now, if any (without claiming it)."""
        return (await self.whereabouts(meeting)).node

    async def release(self, meeting: MeetingId, home: Home) -> None:
        """One user less; the lease is let go with its last user (a lease lost meanwhile is
        gone already: nothing to do)."""
        hold = self._holds.get(meeting)
        if hold is None or hold is not home.hold:
            return
        hold.users -= 1
        if hold.users <= 0:
            del self._holds[meeting]
            await hold.lease.release()

    def _lost(self, meeting: MeetingId, lease: Lease) -> None:
        hold = self._holds.get(meeting)
        if hold is not None and hold.lease is lease:
            del self._holds[meeting]
        self._on_lost(meeting)

    def at_home(self) -> list[MeetingId]:
        """The meetings at home on this node now."""
        return [meeting for meeting, hold in self._holds.items() if hold.lease.held]

    def stop_taking(self) -> None:
        """From now on this node takes no meeting: `claim` only says who is home (a drain)."""
        self._handed_over = True

    async def close(self) -> None:
        """Let every lease go, whoever still uses it (their meetings go to other nodes)."""
        holds, self._holds = list(self._holds.values()), {}
        await asyncio.gather(*(hold.lease.release() for hold in holds))
