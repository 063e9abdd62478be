"""Who is connected to each meeting right now, and their visible state (mute, hand, screen).

This is the state that lives as long as the connections do; what must survive a restart is in
the database (hub/meetings/service.py). Kept behind this one class so a multi-node deployment
can move it to Redis without touching the WebSocket handler or the SFU.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from hub.ids import Identity, MeetingId, ParticipantId

log = logging.getLogger(__name__)

Outbox = Callable[[str], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]


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


@dataclass
class LiveMeeting:
    """The participants of one meeting and how to reach each one's socket."""

    meeting_id: MeetingId
    presences: dict[ParticipantId, Presence] = field(default_factory=dict)
    outboxes: dict[ParticipantId, Outbox] = field(default_factory=dict)
    closers: dict[ParticipantId, Closer] = field(default_factory=dict)

    def update(
        self,
        participant_id: ParticipantId,
        *,
        audio: bool | None = None,
        video: bool | None = None,
        screen: bool | None = None,
        hand: bool | None = None,
    ) -> Presence | None:
        current = self.presences.get(participant_id)
        if current is None:
            return None
        updated = replace(
            current,
            audio=current.audio if audio is None else audio,
            video=current.video if video is None else video,
            screen=current.screen if screen is None else screen,
            hand=current.hand if hand is None else hand,
        )
        self.presences[participant_id] = updated
        return updated

    async def send(self, participant_id: ParticipantId, frame: str) -> None:
        outbox = self.outboxes.get(participant_id)
        if outbox is not None:
            await _deliver(outbox, frame, participant_id)

    async def broadcast(self, frame: str, *, exclude: ParticipantId | None = None) -> None:
        """Send to everyone (but `exclude`); a dead socket never blocks the others."""
        targets = [(pid, outbox) for pid, outbox in self.outboxes.items() if pid != exclude]
        await asyncio.gather(*(_deliver(outbox, frame, pid) for pid, outbox in targets))


async def _deliver(outbox: Outbox, frame: str, participant_id: ParticipantId) -> None:
    try:
        await outbox(frame)
    except (ConnectionError, RuntimeError) as exc:  # closing socket: its handler cleans up
        log.debug("dropped a message to %s: %s", participant_id, exc)


class LiveMeetings:
    """All live meetings of this hub process, created on first join, dropped when empty."""

    def __init__(self) -> None:
        self._meetings: dict[MeetingId, LiveMeeting] = {}

    def get(self, meeting_id: MeetingId) -> LiveMeeting | None:
        return self._meetings.get(meeting_id)

    def enter(
        self, meeting_id: MeetingId, presence: Presence, outbox: Outbox, closer: Closer
    ) -> LiveMeeting:
        """Register a connected participant: how to send to them and how to disconnect them."""
        meeting = self._meetings.setdefault(meeting_id, LiveMeeting(meeting_id))
        meeting.presences[presence.participant_id] = presence
        meeting.outboxes[presence.participant_id] = outbox
        meeting.closers[presence.participant_id] = closer
        return meeting

    async def disconnect_all(self, meeting_id: MeetingId, farewell: str) -> int:
        """Send `farewell` to everyone connected, then close their connections (meeting ended)."""
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            return 0
        await meeting.broadcast(farewell)
        closers = list(meeting.closers.values())
        await asyncio.gather(*(close() for close in closers), return_exceptions=True)
        return len(closers)

    def leave(self, meeting_id: MeetingId, participant_id: ParticipantId) -> Presence | None:
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            return None
        meeting.outboxes.pop(participant_id, None)
        meeting.closers.pop(participant_id, None)
        presence = meeting.presences.pop(participant_id, None)
        if not meeting.presences:
            del self._meetings[meeting_id]
        return presence

    def count(self) -> int:
        return sum(len(meeting.presences) for meeting in self._meetings.values())
