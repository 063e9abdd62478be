"""The one interface between a live meeting and whatever carries people into it.

A browser's socket (hub/web/ws.py) carries one person; a cascade link (hub/federation/link.py)
carries the people of a partner hub; a person whose socket is on another `hub serve` node is
a browser socket's `Connection` run at the meeting's home over the bus (hub/web/relay.py). The
conference tells each endpoint what happens (`deliver`) and hands it the orders for the
people it carries (`mute`, `remove`, `close`); the endpoint only translates them into its
wire format and its media path. Being in a meeting is written once, in the conference.
"""

from __future__ import annotations

from typing import Literal, Protocol

from .notices import Notice
from .presence import MediaKind, Presence

# Why the hub disconnects someone; a page's socket picks its close code from it.
CloseReason = Literal["ended", "removed"]


class Endpoint(Protocol):
    async def deliver(self, notice: Notice) -> None:
        """Hear what the meeting says (a notice the endpoint has no use for is ignored)."""
        ...

    async def mute(self, target: Presence, kind: MediaKind, by: Presence) -> None:
        """A moderator turned off a carried person's microphone or camera: stop it at once."""
        ...

    async def remove(self, target: Presence, by: Presence) -> None:
        """A moderator took a carried person out: nothing more reaches them."""
        ...

    async def close(self, reason: CloseReason) -> None:
        """Disconnect (the meeting ended, or the person was removed)."""
        ...
