"""An endpoint with no socket behind it: it keeps what the conference told and asked it."""

from __future__ import annotations

from hub.meetings.endpoint import CloseReason
from hub.meetings.notices import Notice
from hub.meetings.presence import MediaKind, Presence


class Nowhere:
    """Hears every notice and order and only remembers them (for tests of the conference)."""

    def __init__(self) -> None:
        self.heard: list[Notice] = []
        self.muted: list[tuple[str, MediaKind, str]] = []  # (target, kind, by)
        self.removed: list[tuple[str, str]] = []  # (target, by)
        self.closed: list[CloseReason] = []

    async def deliver(self, notice: Notice) -> None:
        self.heard.append(notice)

    async def mute(self, target: Presence, kind: MediaKind, by: Presence) -> None:
        self.muted.append((target.participant_id, kind, by.participant_id))

    async def remove(self, target: Presence, by: Presence) -> None:
        self.removed.append((target.participant_id, by.participant_id))

    async def close(self, reason: CloseReason) -> None:
        self.closed.append(reason)
