"""The signaling protocol spoken on a participant's WebSocket: typed, validated JSON messages.

Pure and I/O-free. `parse_client_message` turns one text frame into a typed message or raises
`SignalingError` with a machine-readable code and a precise message; the socket answers that
error and goes on. Server messages are pydantic models serialised with `to_json`.

Media uses two peer connections per participant: "publish" (the browser offers its tracks, the
hub answers) and "subscribe" (the hub offers the others' tracks, the browser answers), so
neither side ever has to resolve offer glare. The full description is in docs/signaling.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from hub.bounded_json import TooDeep, loads
from hub.meetings.notes import Note
from hub.meetings.subtitles import SubtitleState

# A publish offer has a few m-sections (~10 KB). A subscribe answer has one per stream the
# page receives, up to MAX_RELAYED_SECTIONS (256): 1.0-1.6 KB each as aiortc writes them, so a
# 50-person meeting's answer is ~150 KB, and the cap is what 256 sections can need.
MAX_SDP = 60 * 1024
MAX_ANSWER_SDP = 400 * 1024
MAX_FRAME = MAX_ANSWER_SDP + 16 * 1024
# Any other message fits in this; a frame past it must say at its start that it is a
# subscribe answer (pages write "type" first), or it is refused before JSON is parsed.
MAX_SMALL_FRAME = 64 * 1024
MAX_CHAT = 2000
MAX_NAME = 120

Source = Literal["microphone", "camera", "screen", "screen_audio"]


class SignalingError(ValueError):
    """A message the hub cannot accept; `code` is stable, `message` says what to fix."""

    def __init__(self, code: str, message: str, request: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request = request


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- browser -> hub -------------------------------------------------------------------------


MAX_TOKEN = 4096
MAX_ID = 64
RoleName = Literal["owner", "moderator", "participant"]
MediaKind = Literal["audio", "video"]


class Join(_Message):
    type: Literal["join"]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    audio: bool = True
    video: bool = True
    # A join token (from the link's #token= fragment, never from the URL's query string).
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)] | None = None
    # The rejoin ticket of an earlier welcome to this meeting (hub/auth/tokens.py).
    rejoin: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN)] | None = None
    # For the moderators, should the person wait in the lobby ("who I am, why I come").
    message: Note | None = None


class TrackInfo(_Message):
    """What a transceiver of the publish connection carries, by its mid."""

    mid: Annotated[str, Field(min_length=1, max_length=32)]
    source: Source


class PublishOffer(_Message):
    type: Literal["publish_offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP)]
    tracks: Annotated[list[TrackInfo], Field(max_length=8)] = []


class SubscribeAnswer(_Message):
    type: Literal["subscribe_answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_SDP)]


class IceCandidate(_Message):
    type: Literal["ice"]
    pc: Literal["publish", "subscribe"]
    candidate: Annotated[str, Field(max_length=1024)]
    sdp_mid: Annotated[str, Field(max_length=32)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None


class MediaState(_Message):
    type: Literal["media"]
    audio: bool
    video: bool


class Chat(_Message):
    type: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_CHAT)]


class Hand(_Message):
    type: Literal["hand"]
    raised: bool


# The reactions a person may send: a fixed set, so nothing else is ever shown to the others.
ReactionEmoji = Literal["👍", "👏", "😂", "😮", "❤️", "🎉"]


class React(_Message):
    type: Literal["reaction"]
    emoji: ReactionEmoji


class Leave(_Message):
    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


class Reconnect(_Message):
    """The browser lost its subscribe connection: the hub offers a fresh one."""

    type: Literal["reconnect"]


MAX_TILES = 50
MAX_TILE_SIDE = 4096  # device pixels: larger than any layer the hub receives


def _clamp_side(value: int) -> int:
    return max(0, min(MAX_TILE_SIDE, value))


TileSide = Annotated[StrictInt, AfterValidator(_clamp_side)]


class Tile(_Message):
    """One person the page displays, and the size of their tile in device pixels."""

    participant: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    width: TileSide
    height: TileSide


class View(_Message):
    """What the page displays: the hub sends each person's video in the layer that fits their
    tile, and no video of anyone not listed, nor any while `visible` is false."""

    type: Literal["view"]
    tiles: Annotated[list[Tile], Field(max_length=MAX_TILES)]
    visible: bool

    @model_validator(mode="after")
    def _each_once(self) -> View:
        seen: set[str] = set()
        for tile in self.tiles:
            if tile.participant in seen:
                raise ValueError(f"participant {tile.participant[:MAX_ID]!r} is listed twice")
            seen.add(tile.participant)
        return self


# --- moderation (owner and moderators only) ---


class Admit(_Message):
    """Let a person waiting in the lobby in."""

    type: Literal["admit"]
    entry_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class Deny(_Message):
    """Refuse a person waiting in the lobby, perhaps saying why (they read it)."""

    type: Literal["deny"]
    entry_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    message: Note | None = None


class Mute(_Message):
    """Stop forwarding a participant's microphone or camera until they turn it on again."""

    type: Literal["mute"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    kind: MediaKind = "audio"


class Remove(_Message):
    """Disconnect a participant; coming back sends them to the lobby."""

    type: Literal["remove"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class Lock(_Message):
    """A locked meeting sends every newcomer (but moderators) to the lobby."""

    type: Literal["lock"]
    locked: bool


class SetRole(_Message):
    type: Literal["set_role"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    role: Literal["moderator", "participant"]


class EndMeeting(_Message):
    type: Literal["end_meeting"]


class LowerHands(_Message):
    """A moderator lowers one raised hand (`participant_id`) or every one (none given)."""

    type: Literal["lower_hands"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)] | None = None


class SetSubtitles(_Message):
    """Start or stop live subtitles, or recording, for everyone (shown to all, with who)."""

    type: Literal["subtitles", "recording"]
    on: bool


ClientMessage = Annotated[
    Join
    | PublishOffer
    | SubscribeAnswer
    | IceCandidate
    | MediaState
    | Chat
    | Hand
    | React
    | Leave
    | Ping
    | Reconnect
    | View
    | Admit
    | Deny
    | Mute
    | Remove
    | Lock
    | SetRole
    | EndMeeting
    | LowerHands
    | SetSubtitles,
    Field(discriminator="type"),
]
MODERATION_TYPES = frozenset((
    "admit", "deny", "mute", "remove", "lock", "set_role", "end_meeting", "lower_hands",
    "subtitles", "recording",
))  # fmt: skip
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset((
    "join", "publish_offer", "subscribe_answer", "ice", "media", "chat", "hand", "reaction",
    "leave", "ping", "reconnect", "view", *MODERATION_TYPES,
))  # fmt: skip


def parse_client_message(frame: str | bytes) -> ClientMessage:
    """Validate one WebSocket frame from a browser; SignalingError says precisely what is wrong."""
    if isinstance(frame, bytes):
        raise SignalingError("binary_frame", "binary frames are not accepted; send JSON text")
    if len(frame) > MAX_FRAME:
        raise SignalingError("too_large", f"message is larger than {MAX_FRAME} bytes")
    if len(frame) > MAX_SMALL_FRAME and '"subscribe_answer"' not in frame[:64]:
        raise SignalingError(
            "too_large",
            f"message is larger than {MAX_SMALL_FRAME} bytes (only a subscribe_answer, its "
            '"type" first, may be larger)',
        )
    try:
        data = loads(frame)
    except TooDeep as exc:
        raise SignalingError("json_too_deep", f"message is not acceptable: {exc}") from None
    except ValueError:
        raise SignalingError("invalid_json", "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise SignalingError("invalid_message", "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise SignalingError("invalid_message", "message has no string field 'type'")
    if kind not in CLIENT_TYPES:
        raise SignalingError("unknown_type", f"unknown message type {kind[:40]!r}", kind[:40])
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # Bounded: a field's name comes from the sender (a 50 KB key made a 50 KB log line).
        where = (".".join(str(part) for part in first["loc"][1:]) or "message")[:60]
        detail = str(first["msg"]).removeprefix("Value error, ")[:200]
        raise SignalingError("invalid_field", f"{kind}: {where}: {detail}", kind) from None


# --- hub -> browser -------------------------------------------------------------------------


class ParticipantInfo(_Message):
    id: str
    name: str
    audio: bool
    video: bool
    screen: bool
    hand: bool
    # Raised hands in turn: the lower, the earlier (absent when the hand is down).
    hand_order: int | None = None
    role: RoleName = "participant"
    is_self: bool = False
    reconnecting: bool = False


class IceServer(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    participant_id: str
    meeting_id: str
    title: str
    participants: list[ParticipantInfo]
    ice_servers: list[IceServer]
    role: RoleName = "participant"
    locked: bool = False
    # The hub asks for VP8 simulcast (docs/simulcast.md, `sfu.simulcast`): send the camera in
    # layers. Whatever this says, the SFU accepts a simulcast offer.
    simulcast: bool = False
    # Shown with the next join to this meeting, within the hour: enters without the lobby.
    rejoin: str | None = None
    # Live subtitles now, and whether this hub offers them at all (a moderator's control).
    subtitles: SubtitleState = "off"
    subtitles_allowed: bool = False
    # Recording now (everyone sees it), and whether this hub offers it (a moderator's control).
    recording: bool = False
    recording_allowed: bool = False


class LobbyEntryInfo(_Message):
    id: str
    name: str
    # guest: only a link; local / matrix / partner: who vouches for the person's identity.
    kind: Literal["guest", "local", "matrix", "partner"]
    since: str
    message: str | None = None  # what they wrote when knocking, cleaned (clean_note)


class Waiting(_Message):
    """To a person in the lobby: wait for a moderator. Nothing of the meeting comes with it."""

    type: Literal["waiting"] = "waiting"


class Admitted(_Message):
    """To a person in the lobby: a moderator let you in (a `welcome` follows)."""

    type: Literal["admitted"] = "admitted"


class Denied(_Message):
    """To a person in the lobby or a participant: you may not be (or stay) in the meeting.
    The socket is closed with 4003 right after."""

    type: Literal["denied"] = "denied"
    reason: Literal["denied", "removed"]
    message: str | None = None  # why, in the moderator's words, when they gave a reason


class Lobby(_Message):
    """To moderators: everyone waiting now, oldest first (sent on every change)."""

    type: Literal["lobby"] = "lobby"
    entries: list[LobbyEntryInfo]


class Muted(_Message):
    """To a participant: a moderator turned your microphone or camera off at the hub."""

    type: Literal["muted"] = "muted"
    kind: MediaKind
    by: str


class MeetingStateChanged(_Message):
    type: Literal["meeting_state"] = "meeting_state"
    locked: bool


class PublishAnswer(_Message):
    type: Literal["publish_answer"] = "publish_answer"
    sdp: str


class StreamInfo(_Message):
    """Which participant and source a transceiver of the subscribe connection carries."""

    mid: str
    participant_id: str
    source: Source
    kind: Literal["audio", "video"]


class SubscribeOffer(_Message):
    type: Literal["subscribe_offer"] = "subscribe_offer"
    sdp: str
    streams: list[StreamInfo]
    # True: apply this offer to a fresh RTCPeerConnection (the previous one is gone).
    restart: bool = False


class ParticipantJoined(_Message):
    type: Literal["participant_joined"] = "participant_joined"
    participant: ParticipantInfo


class ParticipantUpdated(_Message):
    type: Literal["participant_updated"] = "participant_updated"
    participant: ParticipantInfo


class ParticipantLeft(_Message):
    type: Literal["participant_left"] = "participant_left"
    participant_id: str


class ChatMessage(_Message):
    type: Literal["chat"] = "chat"
    participant_id: str
    name: str
    text: str
    at: str


class Reaction(_Message):
    """Someone's short reaction, shown a few seconds over their tile."""

    type: Literal["reaction"] = "reaction"
    participant_id: str
    emoji: str


class ActiveSpeaker(_Message):
    type: Literal["active_speaker"] = "active_speaker"
    participant_id: str | None


class MeetingEnded(_Message):
    """The meeting is over for this person, for good: `ended` for everyone, or
    `partner_removed` when the partner instance hosting it (`instance`, its label) took this
    hub off its allow-list."""

    type: Literal["ended"] = "ended"
    reason: Literal["ended", "partner_removed"]
    instance: str | None = None


class SubtitlesState(_Message):
    """Live subtitles started or stopped (`by`: the moderator's name), or (un)available."""

    type: Literal["subtitles_state"] = "subtitles_state"
    state: SubtitleState
    by: str | None = None


class RecordingState(_Message):
    """Recording started or stopped by a moderator (`by`: their name)."""

    type: Literal["recording_state"] = "recording_state"
    recording: bool
    by: str | None = None


class Subtitle(_Message):
    """Words someone said, as recognised (`final`: they will not change any more)."""

    type: Literal["subtitle"] = "subtitle"
    participant_id: str
    name: str
    text: str
    final: bool


class Pong(_Message):
    type: Literal["pong"] = "pong"


class CascadeState(_Message):
    """The link to the instance hosting this meeting was lost (its people are gone from view
    and we are reconnecting), is lost because that hub restarts, or is back."""

    type: Literal["cascade"] = "cascade"
    state: Literal["lost", "restarting", "restored"]
    instance: str


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    request: str | None = None
    retry_after: int | None = None


class ConnectionHealth(_Message):
    """What the hub sees of one of this page's media connections: its peer stopped answering
    (`suspect`), the connection is gone (`failed`: make a new one), or it is fine again."""

    type: Literal["media_state"] = "media_state"
    pc: Literal["publish", "subscribe"]
    state: Literal["connected", "suspect", "failed"]


class ReceivedVideo(_Message):
    participant_id: str
    source: Source
    quality: Literal["paused", "low", "medium", "high"]


class Reception(_Message):
    """What this page receives of each video it shows: the layer the hub forwards (`low`,
    `medium`, `high`; a single-layer stream is `high`), or `paused` when this page's
    connection cannot carry it (audio goes on). Sent when it changes."""

    type: Literal["reception"] = "reception"
    videos: list[ReceivedVideo]


class Encodings(_Message):
    """Encode only these simulcast layers (RIDs) of the track `mid`: nobody watches the
    others (the lowest is always kept); sent when it changes."""

    type: Literal["encodings"] = "encodings"
    mid: str
    rids: list[str]


class Restarting(_Message):
    """The hub is stopping (an upgrade, a restart): the socket closes next; come back."""

    type: Literal["restarting"] = "restarting"


ServerMessage = (
    Welcome
    | PublishAnswer
    | SubscribeOffer
    | ParticipantJoined
    | ParticipantUpdated
    | ParticipantLeft
    | ChatMessage
    | Reaction
    | ActiveSpeaker
    | MeetingEnded
    | Pong
    | CascadeState
    | ConnectionHealth
    | Reception
    | Encodings
    | Restarting
    | Error
    | Waiting
    | Admitted
    | Denied
    | Lobby
    | Muted
    | MeetingStateChanged
    | SubtitlesState
    | Subtitle
    | RecordingState
)


def to_json(message: ServerMessage) -> str:
    return message.model_dump_json(exclude_none=True)
