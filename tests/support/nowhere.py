"""An endpoint that carries a presence with no socket behind it (for tests of the roster)."""

from __future__ import annotations

from hub.meetings.endpoint import CloseReason
from hub.meetings.notices import Notice
from hub.meetings.presence import MediaKind, Presence


class Nowhere:
    """Hears every notice and every order, and does nothing with them."""

    def __init__(self) -> None:
        self.heard: list[Notice] = []

    async def deliver(self, notice: Notice) -> None:
        self.heard.append(notice)

    async def mute(self, target: Presence, kind: MediaKind, by: Presence) -> None:
        pass

    async def remove(self, target: Presence, by: Presence) -> None:
        pass

    async def close(self, reason: CloseReason) -> None:
        pass
