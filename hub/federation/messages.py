"""What two hubs say to each other about one meeting: typed, validated JSON.

Pure and I/O-free, like the browser's signaling (hub/web/signaling.py). Two kinds of traffic:

- signed HTTP requests (hub/federation/routes.py): the host's view of a meeting, and the
  admission of a person the partner vouches for;
- the cascade link, one WebSocket per meeting and instance pair (hub/federation/link.py):
  presences, chat, moderation orders, lobby verdicts and the SDP of the two peer connections
  that carry media between the SFUs.

`parse_link_message` turns one frame into a typed message or raises `LinkError` with a
precise one-line reason; the link logs it once and goes on.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from hub import bounded_json
from hub.meetings.notes import Note

MAX_LINK_FRAME = 512 * 1024  # an offer carrying fifty people's streams is ~100 KB
MAX_SDP = 400 * 1024
MAX_PRESENCES = 500
MAX_STREAMS = 256
MAX_NAME_LENGTH = 120

Id = Annotated[str, Field(min_length=1, max_length=64)]
IdentityText = Annotated[str, Field(min_length=3, max_length=320)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
RoleName = Literal["owner", "moderator", "participant"]
Source = Literal["microphone", "camera", "screen", "screen_audio"]
MediaKind = Literal["audio", "video"]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP)]


class LinkError(ValueError):
    """A message from a partner that this hub does not accept."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- signed HTTP requests ------------------------------------------------------------------


class MeetingInfo(_Message):
    """The host's answer to GET /_hub/federation/v1/meetings/{id}."""

    id: Id
    title: Annotated[str, Field(min_length=1, max_length=200)]
    access_level: Literal["public", "trusted", "restricted"]
    locked: bool


class AdmissionRequest(_Message):
    """A partner vouches for one of its people who asks to join one of our meetings."""

    # Their identity on the partner: its own people only (never `partner:…`), short enough
    # to stay within limits once we add `partner:` and the partner's name.
    identity: Annotated[
        str, Field(min_length=3, max_length=256, pattern=r"^(local|guest|matrix):\S+$")
    ]
    name: Name
    authenticated: bool  # signed in there (a guest of theirs is not)
    # What they wrote for the moderators, should they wait (cleaned by the one rule of
    # hub/meetings/notes.py); absent from partners that predate it.
    message: Note | None = None


class AdmissionAnswer(_Message):
    verdict: Literal["enter", "lobby"]
    role: RoleName
    ticket: Id | None = None  # lobby: the verdict comes over the link with this ticket


# --- the cascade link ------------------------------------------------------------------------


class PresenceInfo(_Message):
    participant_id: Id
    identity: IdentityText
    name: Name
    role: RoleName
    audio: bool
    video: bool
    screen: bool = False
    hand: bool = False


class LinkStream(_Message):
    """One m-line of an offer: whose stream it carries, and what it is."""

    mid: Annotated[str, Field(min_length=1, max_length=32)]
    participant_id: Id
    source: Source
    kind: MediaKind


class Hello(_Message):
    """First message each way: the people of this side (and what it relays for others)."""

    type: Literal["hello"]
    presences: Annotated[list[PresenceInfo], Field(max_length=MAX_PRESENCES)]


class Joined(_Message):
    type: Literal["joined"]
    presence: PresenceInfo


class Updated(_Message):
    type: Literal["updated"]
    presence: PresenceInfo


class Left(_Message):
    type: Literal["left"]
    participant_id: Id


class Offer(_Message):
    """The sender's people's streams, offered to the other side's SFU (which answers)."""

    type: Literal["offer"]
    sdp: Sdp
    streams: Annotated[list[LinkStream], Field(max_length=MAX_STREAMS)]


class Answer(_Message):
    type: Literal["answer"]
    sdp: Sdp


class Chat(_Message):
    type: Literal["chat"]
    participant_id: Id
    text: Annotated[str, Field(min_length=1, max_length=2000)]
    at: Annotated[str, Field(max_length=40)]


class Mute(_Message):
    """A moderator on the other side (`actor`, one of the people that side brought) muted
    one of the receiver's people."""

    type: Literal["mute"]
    participant_id: Id
    kind: MediaKind
    actor: Id


class Remove(_Message):
    type: Literal["remove"]
    participant_id: Id
    actor: Id


class Verdict(_Message):
    """Host → partner: what the host's moderators decided about someone in the lobby."""

    type: Literal["verdict"]
    ticket: Id
    verdict: Literal["admitted", "denied", "ended"]


class Withdraw(_Message):
    """Partner → host: the person behind this lobby ticket stopped waiting."""

    type: Literal["withdraw"]
    ticket: Id


class Locked(_Message):
    type: Literal["locked"]
    locked: bool


class Ended(_Message):
    type: Literal["ended"]


class Restarting(_Message):
    """The hub that sends it is stopping for a restart: the link closes next; the partner
    tells its people and reconnects as usual."""

    type: Literal["restarting"]


LinkMessage = Annotated[
    Hello
    | Joined
    | Updated
    | Left
    | Offer
    | Answer
    | Chat
    | Mute
    | Remove
    | Verdict
    | Withdraw
    | Locked
    | Ended
    | Restarting,
    Field(discriminator="type"),
]
_LINK: TypeAdapter[LinkMessage] = TypeAdapter(LinkMessage)
LINK_TYPES = frozenset(
    ("hello", "joined", "updated", "left", "offer", "answer", "chat", "mute", "remove",
     "verdict", "withdraw", "locked", "ended", "restarting")
)  # fmt: skip


def parse_link_message(frame: str | bytes) -> LinkMessage:
    """One link frame as a typed message, or `LinkError` saying precisely what is wrong."""
    if len(frame) > MAX_LINK_FRAME:
        raise LinkError(f"link message is larger than {MAX_LINK_FRAME} bytes")
    try:
        data = bounded_json.loads(frame)
    except bounded_json.TooDeep as exc:
        raise LinkError(f"link message is not acceptable: {exc}") from None
    except ValueError:  # UnicodeDecodeError included
        raise LinkError("link message is not JSON") from None
    if not isinstance(data, dict):
        raise LinkError("link message is not a JSON object")
    kind = data.get("type")
    if kind not in LINK_TYPES:
        raise LinkError(f"unknown link message type {str(kind)[:40]!r}")
    try:
        return _LINK.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        raise LinkError(f"{kind}: {where}: {first['msg']}") from None


def to_json(message: _Message) -> str:
    return message.model_dump_json()
