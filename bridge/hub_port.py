"""The one interface between the Matrix bot and the hub: what the bot may ask, what it is told.

The bot never reaches into hub internals. Inside the hub process the hub implements `HubPort`
directly (hub/web/bridge.py); a bot run alone (`hub bridge`) gets the same interface over the
hub's HTTP API (bridge/http_port.py). Everything here is plain data keyed by Matrix room id:
the hub keeps which meeting belongs to which room.

A refusal the room should read (no meeting here, nobody waits as number 3) is a
`HubRefusal` carrying a sentence of the hub's one catalog (hub/i18n/bot.py, `bot.refusal.*`),
which the bot says in the room's language; a hub that cannot be asked (over HTTP) raises
`HubFailure`; anything else is an internal error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from hub.i18n import Text, in_both, say

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "en")
DEFAULT_LANGUAGE: Language = "fr"
EVERYONE_NUMBERS = None  # `admit(numbers=None)`: everyone waiting
# Where someone waiting in the lobby comes from, as the room reads it: an agent logged in at
# this hub, a guest with only the link, a Matrix user, someone vouched for by a partner hub.
WaitingKind = Literal["agent", "guest", "matrix", "partner"]


class HubRefusal(Exception):
    """The hub said no for a reason the room should read: `text`, a catalog sentence."""

    def __init__(self, text: Text) -> None:
        super().__init__(in_both(text))
        self.text = text

    def notice(self, language: Language) -> str:
        """The refusal as the room reads it, in its language."""
        return say(language, self.text)


class HubFailure(RuntimeError):
    """The hub could not be asked (unreachable, or an answer out of protocol): not the room's
    doing, and usually passing; its message is one line for the log."""


def no_meeting(prefix: str) -> HubRefusal:
    """The refusal of a command that needs the room's meeting when none is on."""
    return HubRefusal(Text("bot.refusal.no_meeting", {"prefix": prefix}))


@dataclass(frozen=True)
class PartnerLink:
    """Where the room's members of a partner ministry join: their own hub's link."""

    label: str  # the partner instance, as people know it ("Finances")
    url: str


@dataclass(frozen=True)
class Waiting:
    """Someone in the lobby, under the number moderators admit or refuse them by."""

    number: int
    name: str
    kind: WaitingKind
    message: str | None = None  # what they wrote for the moderators when knocking


@dataclass(frozen=True)
class RoomMeeting:
    """A room's live meeting as the room sees it."""

    room_id: str
    meeting_id: str
    title: str
    url: str  # the link to give people
    widget_url: str  # the same page in widget mode, with Matrix URL template variables
    widget_id: str
    locked: bool
    started_at: datetime | None
    participants: tuple[str, ...]  # display names of the people in the call now, once each
    waiting: tuple[Waiting, ...]  # the lobby, by number; nobody who is also in the call
    status_event_id: str | None  # the room message the bot edits as people come and go
    # Members whose homeserver a partner instance serves join through that instance.
    partner_links: tuple[PartnerLink, ...] = ()


@dataclass(frozen=True)
class TranscriptFile:
    """A meeting's transcript as the file posted in the room (what moderators also download
    from the hub)."""

    name: str  # transcript-abc-defg-hij.md
    mimetype: str
    text: str


@dataclass(frozen=True)
class MeetingSummary:
    """What the room is told once its meeting has ended."""

    room_id: str
    meeting_id: str
    title: str
    widget_id: str
    status_event_id: str | None
    started_at: datetime | None
    ended_at: datetime
    participant_count: int
    names: tuple[str, ...]
    # What was said while subtitles ran (None: they never ran, or nothing was recognised).
    transcript: TranscriptFile | None = None


@dataclass(frozen=True)
class PresenceChanged:
    """Someone joined or left the room's meeting, or entered or left its lobby."""

    meeting: RoomMeeting


@dataclass(frozen=True)
class MeetingClosed:
    summary: MeetingSummary


@dataclass(frozen=True)
class ChatFromMeeting:
    """A message written in the meeting's chat, for the linked room."""

    room_id: str
    name: str
    text: str


@dataclass(frozen=True)
class TranscriptReady:
    """The room's meeting stayed empty: its transcript is complete, to post as a file. (When
    a meeting ends, its transcript comes in `MeetingClosed`'s summary instead.)"""

    room_id: str
    meeting_id: str
    transcript: TranscriptFile


@dataclass(frozen=True)
class TranscriptDigest:
    """The summary the operator's service wrote of the transcript just posted (None: the
    service failed; the transcript stands alone)."""

    room_id: str
    meeting_id: str
    text: str | None


BridgeEvent = PresenceChanged | MeetingClosed | ChatFromMeeting | TranscriptReady | TranscriptDigest
Listener = Callable[[BridgeEvent], Awaitable[None]]


class HubPort(Protocol):
    """What the bot asks of the hub. `by` is always the Matrix user id of the person asking;
    the bot has already checked their power in the room for moderator commands."""

    async def start_meeting(self, room_id: str, *, by: str, title: str | None) -> RoomMeeting:
        """The room's live meeting, created and linked if it has none (one per room)."""
        ...

    async def room_meeting(self, room_id: str) -> RoomMeeting | None: ...

    async def end_meeting(self, room_id: str, *, by: str) -> None:
        """End the room's meeting for everyone; the summary arrives as `MeetingClosed`."""
        ...

    async def set_locked(self, room_id: str, locked: bool, *, by: str) -> RoomMeeting: ...

    async def admit(self, room_id: str, numbers: tuple[int, ...] | None, *, by: str) -> list[str]:
        """Let in the people waiting under these numbers (None: everyone waiting), through the
        hub's own lobby decision; their names. An unknown number changes nothing."""
        ...

    async def refuse(self, room_id: str, number: int, *, by: str, reason: str | None = None) -> str:
        """Turn away the person waiting under that number, telling them `reason` if given;
        their name. A reason the hub will not pass on is refused and changes nothing."""
        ...

    async def room_language(self, room_id: str) -> Language:
        """The language the bot writes in, in that room (French unless set)."""
        ...

    async def set_room_language(self, room_id: str, language: Language, *, by: str) -> None: ...

    async def set_subtitles(self, room_id: str, on: bool, *, by: str) -> None:
        """Start or stop the live meeting's subtitles (everyone in it is told); HubRefusal if
        nobody is in it, the hub disables them, or they already are so."""

    async def set_recording(self, room_id: str, on: bool, *, by: str) -> None:
        """Start or stop recording the live meeting (everyone in it is told); HubRefusal as
        for subtitles."""

    async def mute(self, room_id: str, name: str, *, by: str) -> str:
        """Mute the one participant of that name; returns their name."""
        ...

    async def invite(self, room_id: str, user_id: str, *, by: str) -> RoomMeeting:
        """Let that Matrix user into the room's meeting without waiting in the lobby."""
        ...

    async def post_chat(self, room_id: str, *, sender: str, name: str, text: str) -> bool:
        """A message of the room, shown in the meeting's chat; False if no meeting is live."""
        ...

    async def remember_status(self, room_id: str, meeting_id: str, event_id: str) -> None:
        """Keep the id of the status message, so a restarted bot edits the same one."""
        ...

    async def update_room(self, room_id: str, members: Mapping[str, int]) -> None:
        """Who is joined to the room now, with their power level: members pass the lobby of
        its restricted meeting, power ≥ 50 makes a moderator in the call."""
        ...

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Deliver bridge events to `listener` until the returned function is called."""
        ...
