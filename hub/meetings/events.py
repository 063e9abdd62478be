"""Typed meeting events and the bus that carries them to the SFU, bridge and federation.

The meeting domain publishes; it imports none of its subscribers. A failing subscriber is
logged once per event and never stops the others or the publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from hub.ids import Identity, MeetingId, ParticipantId

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParticipantJoined:
    meeting_id: MeetingId
    participant_id: ParticipantId
    identity: Identity
    display_name: str
    at: datetime


@dataclass(frozen=True)
class ParticipantLeft:
    meeting_id: MeetingId
    participant_id: ParticipantId
    display_name: str
    at: datetime


@dataclass(frozen=True)
class MeetingEnded:
    meeting_id: MeetingId
    at: datetime
    participant_names: tuple[str, ...] = field(default=())
    participant_count: int = 0  # distinct identities that joined


@dataclass(frozen=True)
class ChatPosted:
    meeting_id: MeetingId
    participant_id: ParticipantId
    display_name: str
    text: str
    at: datetime


@dataclass(frozen=True)
class LobbyChanged:
    """Someone knocked, was let in or refused, or stopped waiting: the lobby is not the same."""

    meeting_id: MeetingId
    at: datetime


@dataclass(frozen=True)
class TranscriptReleased:
    """The meeting stayed empty long enough: its transcript (Markdown) is complete. (When a
    meeting ends, its transcript goes with `MeetingEnded`'s summary instead.)"""

    meeting_id: MeetingId
    at: datetime
    file_name: str
    markdown: str


@dataclass(frozen=True)
class TranscriptSummarised:
    """The summary service answered about a complete transcript (`text`), or failed (None)."""

    meeting_id: MeetingId
    at: datetime
    text: str | None


MeetingEvent = (
    ParticipantJoined | ParticipantLeft | MeetingEnded | ChatPosted | LobbyChanged
    | TranscriptReleased | TranscriptSummarised
)  # fmt: skip
Subscriber = Callable[[MeetingEvent], Awaitable[None]]


class EventBus:
    """Delivers each event to every subscriber, concurrently, isolating their failures."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    async def publish(self, event: MeetingEvent) -> None:
        if not self._subscribers:
            return
        results = await asyncio.gather(
            *(subscriber(event) for subscriber in list(self._subscribers)),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, Exception):
                log.error(
                    "event subscriber failed on %s",
                    type(event).__name__,
                    exc_info=result,
                    extra={"meeting_id": event.meeting_id},
                )
