"""The people of a live meeting as the others see them, and the people waiting in its lobby."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from hub.db.models import Role
from hub.ids import Identity, IdentityKind, ParticipantId

MediaKind = Literal["audio", "video"]
Verdict = Literal["admitted", "denied", "ended"]


@dataclass(frozen=True)
class Presence:
    """A connected participant's public state (what the others see)."""

    participant_id: ParticipantId
    identity: Identity
    name: str
    audio: bool
    video: bool
    screen: bool = False
    hand: bool = False
    role: Role = Role.PARTICIPANT
    reconnecting: bool = False  # their media connection is lost; the hub waits for it
    # Raised hands are taken in turn: the meeting's count of raises when this one went up.
    hand_order: int = 0


@dataclass(frozen=True)
class WaitingPerson:
    """What moderators are shown of someone waiting: plain data, so it can cross a socket
    (or, later, another hub node) as it is."""

    entry_id: str
    name: str
    kind: IdentityKind
    since: datetime
    number: int
    message: str | None


@dataclass
class LobbyEntry:
    """Someone waiting to be let in: reachable only through `decision`, never an endpoint."""

    entry_id: str
    identity: Identity
    name: str
    since: datetime
    role: Role  # the role they will have once admitted
    # Given in order of knocking and never reused while the meeting is live, so that
    # "admit 2" in a Matrix room means the person shown as 2, even after others left.
    number: int = 0
    message: str | None = None  # what they wrote for the moderators (already cleaned)
    refusal: str | None = None  # a moderator's reason, set with a "denied" decision
    decision: asyncio.Future[Verdict] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def kind(self) -> IdentityKind:
        return self.identity.kind

    def amend(self, message: str | None) -> None:
        """The person rewrote what they tell the moderators (already cleaned; "" or None: no
        message), while still waiting."""
        if not self.decision.done():
            self.message = message or None

    def shown(self) -> WaitingPerson:
        return WaitingPerson(
            self.entry_id, self.name, self.kind, self.since, self.number, self.message
        )
