"""The signaling protocol spoken on a participant's WebSocket: typed, validated JSON messages.

Pure and I/O-free. `parse_client_message` turns one text frame into a typed message or raises
`SignalingError` with a machine-readable code and a precise message; the socket answers that
error and goes on. What the hub sends back is in hub/web/page_messages.py.

Media uses two peer connections per participant: "publish" (the browser offers its tracks, the
hub answers) and "subscribe" (the hub offers the others' tracks, the browser answers), so
neither side ever has to resolve offer glare. The full description is in docs/signaling.md.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

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


class Message(BaseModel):
    """Base of every message of the protocol, both ways: unknown fields refused, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


# --- browser -> hub -------------------------------------------------------------------------


MAX_TOKEN = 4096
MAX_ID = 64
RoleName = Literal["owner", "moderator", "participant"]
MediaKind = Literal["audio", "video"]


class Join(Message):
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
    lang: Annotated[str, Field(max_length=35)] | None = None  # the page's: the hub's answers


class Knock(Message):
    """While waiting in the lobby: the message for the moderators, written or rewritten (a
    Matrix widget joins without a pre-join page, so it is typed on the waiting screen)."""

    type: Literal["knock"]
    message: Note | None = None


class TrackInfo(Message):
    """What a transceiver of the publish connection carries, by its mid."""

    mid: Annotated[str, Field(min_length=1, max_length=32)]
    source: Source


class PublishOffer(Message):
    type: Literal["publish_offer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP)]
    tracks: Annotated[list[TrackInfo], Field(max_length=8)] = []


class SubscribeAnswer(Message):
    type: Literal["subscribe_answer"]
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_ANSWER_SDP)]


class IceCandidate(Message):
    type: Literal["ice"]
    pc: Literal["publish", "subscribe"]
    candidate: Annotated[str, Field(max_length=1024)]
    sdp_mid: Annotated[str, Field(max_length=32)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None


class MediaState(Message):
    type: Literal["media"]
    audio: bool
    video: bool


class Chat(Message):
    type: Literal["chat"]
    text: Annotated[str, Field(min_length=1, max_length=MAX_CHAT)]


class Hand(Message):
    type: Literal["hand"]
    raised: bool


# The reactions a person may send: a fixed set, so nothing else is ever shown to the others.
ReactionEmoji = Literal["👍", "👏", "😂", "😮", "❤️", "🎉"]


class React(Message):
    type: Literal["reaction"]
    emoji: ReactionEmoji


class Leave(Message):
    type: Literal["leave"]


class Ping(Message):
    type: Literal["ping"]


class Reconnect(Message):
    """The browser lost its subscribe connection: the hub offers a fresh one."""

    type: Literal["reconnect"]


MAX_TILES = 50
MAX_TILE_SIDE = 4096  # device pixels: larger than any layer the hub receives


def _clamp_side(value: int) -> int:
    return max(0, min(MAX_TILE_SIDE, value))


TileSide = Annotated[StrictInt, AfterValidator(_clamp_side)]


class Tile(Message):
    """One person the page displays, and the size of their tile in device pixels."""

    participant: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    width: TileSide
    height: TileSide


class View(Message):
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


class Admit(Message):
    """Let a person waiting in the lobby in."""

    type: Literal["admit"]
    entry_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class Deny(Message):
    """Refuse a person waiting in the lobby, perhaps saying why (they read it)."""

    type: Literal["deny"]
    entry_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    message: Note | None = None


class Mute(Message):
    """Stop forwarding a participant's microphone or camera until they turn it on again."""

    type: Literal["mute"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    kind: MediaKind = "audio"


class Remove(Message):
    """Disconnect a participant; coming back sends them to the lobby."""

    type: Literal["remove"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]


class Lock(Message):
    """A locked meeting sends every newcomer (but moderators) to the lobby."""

    type: Literal["lock"]
    locked: bool


class SetRole(Message):
    type: Literal["set_role"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)]
    role: Literal["moderator", "participant"]


class EndMeeting(Message):
    type: Literal["end_meeting"]


class LowerHands(Message):
    """A moderator lowers one raised hand (`participant_id`) or every one (none given)."""

    type: Literal["lower_hands"]
    participant_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)] | None = None


class SetSubtitles(Message):
    """Start or stop live subtitles, or recording, for everyone (shown to all, with who)."""

    type: Literal["subtitles", "recording"]
    on: bool


ClientMessage = Annotated[
    Join
    | Knock
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
CLIENT_TYPES = frozenset(
    name for model in get_args(get_args(ClientMessage)[0])
    for name in get_args(model.model_fields["type"].annotation)
)  # fmt: skip


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
