"""What a live meeting tells the people in it: typed notices, which each endpoint writes in
its own wire format (a page's socket: hub/web/frames.py; a partner hub's cascade link:
hub/federation/link.py). The conference decides who hears which; it knows no wire format.

Compared by identity (`eq=False`): one notice is one happening, written once per wire however
many endpoints hear it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.ids import ParticipantId

from .presence import Presence, WaitingPerson
from .subtitles import SubtitleState


@dataclass(frozen=True, eq=False)
class PersonJoined:
    presence: Presence


@dataclass(frozen=True, eq=False)
class PersonUpdated:
    presence: Presence


@dataclass(frozen=True, eq=False)
class PersonLeft:
    participant_id: ParticipantId


@dataclass(frozen=True, eq=False)
class ChatSaid:
    # A participant's id, or the identity of someone writing in a linked Matrix room.
    participant_id: str
    name: str
    text: str
    at: str  # ISO 8601, to the second


@dataclass(frozen=True, eq=False)
class Reacted:
    participant_id: ParticipantId
    emoji: str


@dataclass(frozen=True, eq=False)
class LockChanged:
    locked: bool


@dataclass(frozen=True, eq=False)
class Speaking:
    participant_id: ParticipantId | None


@dataclass(frozen=True, eq=False)
class LinkState:
    """The link to the partner hub hosting this meeting was lost, its hub restarts, or it is
    back."""

    state: Literal["lost", "restarting", "restored"]
    instance: str  # the host's label


@dataclass(frozen=True, eq=False)
class Ended:
    """The meeting is over for good: ended, or closed to us by the partner hosting it."""

    reason: Literal["ended", "partner_removed"]
    instance: str | None = None


@dataclass(frozen=True, eq=False)
class LobbyNow:
    """To moderators only: everyone waiting now, oldest first."""

    entries: tuple[WaitingPerson, ...]


@dataclass(frozen=True, eq=False)
class SubtitlesNow:
    """Subtitles started, stopped (`by`: the moderator's name), or became (un)available."""

    state: SubtitleState
    by: str | None = None


@dataclass(frozen=True, eq=False)
class SubtitleSaid:
    """Words someone said, as recognised: `final` once they will not change any more."""

    participant_id: ParticipantId
    name: str
    text: str
    final: bool


@dataclass(frozen=True, eq=False)
class RecordingNow:
    """A moderator (`by`: their name) started or stopped recording the meeting; or (`failed`,
    to its moderators only) the recording that stopped could not be stored."""

    on: bool
    by: str | None = None
    failed: bool = False


Notice = (
    PersonJoined
    | PersonUpdated
    | PersonLeft
    | ChatSaid
    | Reacted
    | LockChanged
    | Speaking
    | LinkState
    | Ended
    | LobbyNow
    | SubtitlesNow
    | SubtitleSaid
    | RecordingNow
)
