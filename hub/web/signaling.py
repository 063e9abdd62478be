"""The signaling protocol spoken on a participant's WebSocket: typed, validated JSON messages.

Pure and I/O-free. `parse_client_message` turns one text frame into a typed message or raises
`SignalingError` with a machine-readable code and a precise message; the socket answers that
error and goes on. Server messages are pydantic models serialised with `to_json`.

Media uses two peer connections per participant: "publish" (the browser offers its tracks, the
hub answers) and "subscribe" (the hub offers the others' tracks, the browser answers), so
neither side ever has to resolve offer glare. The full description is in docs/signaling.md.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_FRAME = 64 * 1024  # an SDP with a dozen m-lines is ~10 KB; 64 KB leaves room, bounds abuse
MAX_SDP = 60 * 1024
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


class Join(_Message):
    type: Literal["join"]
    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
    audio: bool = True
    video: bool = True


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
    sdp: Annotated[str, Field(min_length=1, max_length=MAX_SDP)]


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


class Leave(_Message):
    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


class Reconnect(_Message):
    """The browser lost its subscribe connection: the hub offers a fresh one."""

    type: Literal["reconnect"]


ClientMessage = Annotated[
    Join
    | PublishOffer
    | SubscribeAnswer
    | IceCandidate
    | MediaState
    | Chat
    | Hand
    | Leave
    | Ping
    | Reconnect,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
CLIENT_TYPES = frozenset(
    (
        "join",
        "publish_offer",
        "subscribe_answer",
        "ice",
        "media",
        "chat",
        "hand",
        "leave",
        "ping",
        "reconnect",
    )
)


def parse_client_message(frame: str | bytes) -> ClientMessage:
    """Validate one WebSocket frame from a browser; SignalingError says precisely what is wrong."""
    if isinstance(frame, bytes):
        raise SignalingError("binary_frame", "binary frames are not accepted; send JSON text")
    if len(frame) > MAX_FRAME:
        raise SignalingError("too_large", f"message is larger than {MAX_FRAME} bytes")
    try:
        data = json.loads(frame)
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
        where = ".".join(str(part) for part in first["loc"][1:]) or "message"
        detail = str(first["msg"]).removeprefix("Value error, ")
        raise SignalingError("invalid_field", f"{kind}: {where}: {detail}", kind) from None


# --- hub -> browser -------------------------------------------------------------------------


class ParticipantInfo(_Message):
    id: str
    name: str
    audio: bool
    video: bool
    screen: bool
    hand: bool
    is_self: bool = False


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


class ActiveSpeaker(_Message):
    type: Literal["active_speaker"] = "active_speaker"
    participant_id: str | None


class MeetingEnded(_Message):
    type: Literal["ended"] = "ended"
    reason: str


class Pong(_Message):
    type: Literal["pong"] = "pong"


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    request: str | None = None


ServerMessage = (
    Welcome
    | PublishAnswer
    | SubscribeOffer
    | ParticipantJoined
    | ParticipantUpdated
    | ParticipantLeft
    | ChatMessage
    | ActiveSpeaker
    | MeetingEnded
    | Pong
    | Error
)


def to_json(message: ServerMessage) -> str:
    return message.model_dump_json(exclude_none=True)
