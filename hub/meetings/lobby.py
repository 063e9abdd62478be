"""The lobby of one live meeting: who waits to be let in, numbered in the order they knocked.

`Conference` (hub/meetings/conference.py) owns one: it decides who may admit and tells the
moderators; this keeps the entries and settles their `decision`s. No other module changes it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

from hub.db.models import Role
from hub.ids import Identity

from .presence import LobbyEntry, WaitingPerson


class Lobby:
    """Made empty with its conference; emptied by `close` when the meeting ends."""

    def __init__(self) -> None:
        self._entries: dict[str, LobbyEntry] = {}
        self._knocks = 0  # how many people knocked: numbers the entries

    @property
    def entries(self) -> Mapping[str, LobbyEntry]:
        """Everyone waiting, by entry id (read only)."""
        return MappingProxyType(self._entries)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def waiting(self) -> tuple[WaitingPerson, ...]:
        """Everyone waiting, oldest first, as moderators see them."""
        entries = sorted(self._entries.values(), key=lambda entry: entry.since)
        return tuple(entry.shown() for entry in entries)

    def knock(
        self, identity: Identity, name: str, role: Role, since: datetime, message: str | None
    ) -> LobbyEntry:
        self._knocks += 1
        entry = LobbyEntry(
            entry_id=secrets.token_urlsafe(9),
            identity=identity,
            name=name,
            since=since,
            role=role,
            number=self._knocks,
            message=message or None,
        )
        self._entries[entry.entry_id] = entry
        return entry

    def take(self, entry_id: str) -> LobbyEntry | None:
        """The entry, out of the lobby, if it waits still (a verdict is to be given)."""
        entry = self._entries.pop(entry_id, None)
        return None if entry is None or entry.decision.done() else entry

    def withdraw(self, entry_ids: Iterable[str]) -> bool:
        """These people stopped waiting; True if any was still here."""
        gone = [entry for entry_id in entry_ids if (entry := self._entries.pop(entry_id, None))]
        for entry in gone:
            if not entry.decision.done():
                entry.decision.cancel()
        return bool(gone)

    def close(self) -> None:
        """The meeting ended: everyone waiting hears "ended"."""
        entries, self._entries = self._entries, {}
        for entry in entries.values():
            if not entry.decision.done():
                entry.decision.set_result("ended")
