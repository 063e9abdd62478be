"""Who is connected to each meeting right now, and their visible state (mute, hand, screen).

This is the state that lives as long as the connections do; what must survive a restart is in
the database (hub/meetings/service.py). Kept behind this one class so a multi-node deployment
can move it to Redis without touching the WebSocket handler or the SFU.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, Protocol

from hub.db.models import Role
from hub.ids import Identity, IdentityKind, MeetingId, ParticipantId
from hub.meetings.events import EventBus, LobbyChanged

log = logging.getLogger(__name__)

Outbox = Callable[[str], Awaitable[None]]
# Disconnects a participant from the server side; the reason picks the WebSocket close code.
CloseReason = Literal["ended", "removed"]
Closer = Callable[[CloseReason], Awaitable[None]]


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


Verdict = Literal["admitted", "denied", "ended"]


class Message(Protocol):
    """A message to the meeting's people (hub/web/signaling.py's server messages)."""

    def model_dump_json(self, *, exclude_none: bool = False) -> str: ...


# A cascade link's view of what this meeting tells its people (hub/federation/link.py).
Relay = Callable[[Message], Awaitable[None]]


class RemoteControl(Protocol):
    """How moderation reaches someone whose socket is on a partner instance."""

    async def mute(self, target: Presence, kind: str, actor: Presence) -> None: ...

    async def remove(self, target: Presence, actor: Presence) -> None: ...


@dataclass
class LobbyEntry:
    """Someone waiting to be let in: reachable only through `decision`, never `outboxes`."""

    entry_id: str
    identity: Identity
    name: str
    kind: IdentityKind
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


@dataclass
class LiveMeeting:
    """The participants of one meeting and how to reach each one's socket, the people waiting
    in its lobby, and who was removed. Lives while anyone is connected or waiting."""

    meeting_id: MeetingId
    locked: bool = False
    presences: dict[ParticipantId, Presence] = field(default_factory=dict)
    outboxes: dict[ParticipantId, Outbox] = field(default_factory=dict)
    closers: dict[ParticipantId, Closer] = field(default_factory=dict)
    lobby: dict[str, LobbyEntry] = field(default_factory=dict)
    removed: set[Identity] = field(default_factory=set)
    # People connected through a partner instance: in `presences`, never in `outboxes`.
    remote: dict[ParticipantId, RemoteControl] = field(default_factory=dict)
    # Cascade links by partner server name: each hears every broadcast (and picks its part).
    relays: dict[str, Relay] = field(default_factory=dict)
    hands_raised: int = 0  # how many times a hand went up: orders the queue
    knocks: int = 0  # how many people knocked: numbers the lobby entries
    # Where lobby changes are published (the Matrix rooms linked to the meeting listen).
    events: EventBus | None = None

    def moderators(self) -> list[ParticipantId]:
        return [
            pid
            for pid, presence in self.presences.items()
            if presence.role in (Role.OWNER, Role.MODERATOR)
        ]

    async def send_to_moderators(self, frame: str) -> None:
        await asyncio.gather(
            *(
                _deliver(self.outboxes[pid], frame, pid)
                for pid in self.moderators()
                if pid in self.outboxes
            )
        )

    def knock(
        self,
        identity: Identity,
        name: str,
        kind: IdentityKind,
        role: Role,
        since: datetime,
        message: str | None = None,
    ) -> LobbyEntry:
        self.knocks += 1
        entry = LobbyEntry(
            entry_id=secrets.token_urlsafe(9),
            identity=identity,
            name=name,
            kind=kind,
            since=since,
            role=role,
            number=self.knocks,
            message=message or None,
        )
        self.lobby[entry.entry_id] = entry
        return entry

    def decide(
        self, entry_id: str, verdict: Verdict, refusal: str | None = None
    ) -> LobbyEntry | None:
        """Admit or deny a waiting person (a denial may say why); None if they are no longer
        waiting."""
        entry = self.lobby.pop(entry_id, None)
        if entry is None or entry.decision.done():
            return None
        if verdict == "denied":
            entry.refusal = refusal or None
        entry.decision.set_result(verdict)
        if verdict == "admitted":
            self.removed.discard(entry.identity)
        return entry

    def waiting_by_number(self, number: int) -> LobbyEntry | None:
        return next((e for e in self.lobby.values() if e.number == number), None)

    async def lobby_changed(self, at: datetime) -> None:
        """Tell the meeting's subscribers (the bridge) that the lobby changed."""
        if self.events is not None:
            await self.events.publish(LobbyChanged(self.meeting_id, at))

    def set_role(self, participant_id: ParticipantId, role: Role) -> Presence | None:
        current = self.presences.get(participant_id)
        if current is None:
            return None
        updated = replace(current, role=role)
        self.presences[participant_id] = updated
        return updated

    def update(
        self,
        participant_id: ParticipantId,
        *,
        audio: bool | None = None,
        video: bool | None = None,
        screen: bool | None = None,
        hand: bool | None = None,
        reconnecting: bool | None = None,
    ) -> Presence | None:
        current = self.presences.get(participant_id)
        if current is None:
            return None
        hand_order = current.hand_order
        if hand is not None and hand != current.hand:
            if hand:
                self.hands_raised += 1
            hand_order = self.hands_raised if hand else 0
        updated = replace(
            current,
            audio=current.audio if audio is None else audio,
            video=current.video if video is None else video,
            screen=current.screen if screen is None else screen,
            hand=current.hand if hand is None else hand,
            hand_order=hand_order,
            reconnecting=current.reconnecting if reconnecting is None else reconnecting,
        )
        self.presences[participant_id] = updated
        return updated

    async def send(self, participant_id: ParticipantId, frame: str) -> None:
        outbox = self.outboxes.get(participant_id)
        if outbox is not None:
            await _deliver(outbox, frame, participant_id)

    async def broadcast(self, message: Message, *, exclude: ParticipantId | None = None) -> None:
        """Send to everyone (but `exclude`), serialised once; a dead socket never blocks the
        others. Cascade links get the message itself and pick what concerns them."""
        frame = message.model_dump_json(exclude_none=True)
        targets = [(pid, outbox) for pid, outbox in self.outboxes.items() if pid != exclude]
        await asyncio.gather(
            *(_deliver(outbox, frame, pid) for pid, outbox in targets),
            *(_relay(relay, message, name) for name, relay in list(self.relays.items())),
        )

    def enter_remote(self, presence: Presence, control: RemoteControl) -> None:
        """Someone connected through a partner instance (their own hub holds their socket).
        Unlike `enter`, a removal stands: the link refuses removed people before this."""
        self.presences[presence.participant_id] = presence
        self.remote[presence.participant_id] = control


async def _deliver(outbox: Outbox, frame: str, participant_id: ParticipantId) -> None:
    try:
        await outbox(frame)
    except (ConnectionError, RuntimeError) as exc:  # closing socket: its handler cleans up
        log.debug("dropped a message to %s: %s", participant_id, exc)


async def _relay(relay: Relay, message: Message, partner: str) -> None:
    try:
        await relay(message)
    except Exception:  # one partner's trouble must not stop this meeting's own messages
        log.exception("cascade relay to %s failed", partner)


class LiveMeetings:
    """All live meetings of this hub process, created on first join, dropped when empty."""

    def __init__(self, events: EventBus | None = None) -> None:
        self._meetings: dict[MeetingId, LiveMeeting] = {}
        self._events = events

    def get(self, meeting_id: MeetingId) -> LiveMeeting | None:
        return self._meetings.get(meeting_id)

    def open(self, meeting_id: MeetingId, *, locked: bool) -> LiveMeeting:
        """The live meeting, created (with the stored lock state) if nobody was there."""
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            meeting = LiveMeeting(meeting_id, locked=locked, events=self._events)
            self._meetings[meeting_id] = meeting
        return meeting

    def discard_if_empty(self, meeting_id: MeetingId) -> None:
        meeting = self._meetings.get(meeting_id)
        if meeting is None or meeting.presences or meeting.lobby or meeting.relays:
            return
        del self._meetings[meeting_id]

    def enter(
        self,
        meeting_id: MeetingId,
        presence: Presence,
        outbox: Outbox,
        closer: Closer,
        *,
        locked: bool,
    ) -> LiveMeeting:
        """Register a connected participant: how to send to them and how to disconnect them.
        `locked` is the stored lock state, used if the meeting was not live."""
        meeting = self.open(meeting_id, locked=locked)
        meeting.removed.discard(presence.identity)
        meeting.presences[presence.participant_id] = presence
        meeting.outboxes[presence.participant_id] = outbox
        meeting.closers[presence.participant_id] = closer
        return meeting

    async def disconnect_all(self, meeting_id: MeetingId, farewell: Message) -> int:
        """Send `farewell` to everyone connected, then close their connections (meeting ended)."""
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            return 0
        await meeting.broadcast(farewell)
        for entry in list(meeting.lobby.values()):
            meeting.decide(entry.entry_id, "ended")
        closers = list(meeting.closers.values())
        await asyncio.gather(*(close("ended") for close in closers), return_exceptions=True)
        return len(closers)

    def leave(self, meeting_id: MeetingId, participant_id: ParticipantId) -> Presence | None:
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            return None
        meeting.outboxes.pop(participant_id, None)
        meeting.closers.pop(participant_id, None)
        meeting.remote.pop(participant_id, None)
        presence = meeting.presences.pop(participant_id, None)
        self.discard_if_empty(meeting_id)
        return presence
