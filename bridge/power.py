"""Who holds how much power in a room, from its m.room.create and m.room.power_levels events.

Pure. Kept by the bot itself rather than read from matrix-nio's room objects because nio
(0.26) ignores room version 12's rule that a room's creators (the create event's sender and
`additional_creators`) outrank everyone without appearing in the power levels; Synapse creates
version 12 rooms by default, so without this a room's own creator would count as level 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CREATOR_POWER = 2**53  # "infinite": above any level a power_levels event can hold


def creators_are_privileged(room_version: str) -> bool:
    """Room versions 12 and later (and MSC4289's "hydra" test versions)."""
    if room_version.isascii() and room_version.isdigit():
        return int(room_version) >= 12
    return "hydra" in room_version


@dataclass
class RoomPowers:
    """One room's power state; `apply(event)` takes raw events in timeline order."""

    room_version: str = "1"
    creators: frozenset[str] = frozenset()
    users: dict[str, int] = field(default_factory=dict)
    users_default: int = 0
    known: bool = False  # a power_levels event was seen (else the creator rule of v1-11)

    def apply(self, event: Mapping[str, object]) -> None:
        if event.get("state_key") != "":
            return
        content = event.get("content")
        if not isinstance(content, Mapping):
            return
        if event.get("type") == "m.room.create":
            self._apply_create(event, content)
        elif event.get("type") == "m.room.power_levels":
            users = content.get("users")
            self.users = (
                {str(k): _level(v) for k, v in users.items()} if isinstance(users, Mapping) else {}
            )
            self.users_default = _level(content.get("users_default", 0))
            self.known = True

    def _apply_create(self, event: Mapping[str, object], content: Mapping[str, object]) -> None:
        self.room_version = str(content.get("room_version", "1"))
        creators = {str(event.get("sender", ""))}
        extra = content.get("additional_creators")
        if creators_are_privileged(self.room_version) and isinstance(extra, list):
            creators.update(str(user) for user in extra)
        creators.discard("")
        self.creators = frozenset(creators)

    def level(self, user_id: str) -> int:
        if user_id in self.creators:
            if creators_are_privileged(self.room_version):
                return CREATOR_POWER
            if not self.known:
                return 100  # before any power_levels event, the creator holds 100
        return self.users.get(user_id, self.users_default)


def _level(value: object) -> int:
    """Power levels are integers; old rooms may carry them as strings of digits."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return 0
