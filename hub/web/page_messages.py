"""What the hub sends a page on its meeting WebSocket: pydantic models, serialised with
`to_json`. What the page sends is in hub/web/signaling.py (with the parser); the whole
protocol is described in docs/signaling.md."""

from __future__ import annotations

from typing import Literal

from hub.meetings.subtitles import SubtitleState
from hub.web.signaling import MediaKind, Message, RoleName, Source

# --- hub -> browser -------------------------------------------------------------------------


class ParticipantInfo(Message):
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


class IceServer(Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(Message):
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


class LobbyEntryInfo(Message):
    id: str
    name: str
    # guest: only a link; local / matrix / partner: who vouches for the person's identity.
    kind: Literal["guest", "local", "matrix", "partner"]
    since: str
    message: str | None = None  # what they wrote when knocking, cleaned (clean_note)


class Waiting(Message):
    """To a person in the lobby: wait for a moderator. Nothing of the meeting comes with it."""

    type: Literal["waiting"] = "waiting"


class Admitted(Message):
    """To a person in the lobby: a moderator let you in (a `welcome` follows)."""

    type: Literal["admitted"] = "admitted"


class Denied(Message):
    """To a person in the lobby or a participant: you may not be (or stay) in the meeting.
    The socket is closed with 4003 right after."""

    type: Literal["denied"] = "denied"
    reason: Literal["denied", "removed"]
    message: str | None = None  # why, in the moderator's words, when they gave a reason


class Lobby(Message):
    """To moderators: everyone waiting now, oldest first (sent on every change)."""

    type: Literal["lobby"] = "lobby"
    entries: list[LobbyEntryInfo]


class Muted(Message):
    """To a participant: a moderator turned your microphone or camera off at the hub."""

    type: Literal["muted"] = "muted"
    kind: MediaKind
    by: str


class MeetingStateChanged(Message):
    type: Literal["meeting_state"] = "meeting_state"
    locked: bool


class PublishAnswer(Message):
    type: Literal["publish_answer"] = "publish_answer"
    sdp: str


class StreamInfo(Message):
    """Which participant and source a transceiver of the subscribe connection carries."""

    mid: str
    participant_id: str
    source: Source
    kind: Literal["audio", "video"]


class SubscribeOffer(Message):
    type: Literal["subscribe_offer"] = "subscribe_offer"
    sdp: str
    streams: list[StreamInfo]
    # True: apply this offer to a fresh RTCPeerConnection (the previous one is gone).
    restart: bool = False


class ParticipantJoined(Message):
    type: Literal["participant_joined"] = "participant_joined"
    participant: ParticipantInfo


class ParticipantUpdated(Message):
    type: Literal["participant_updated"] = "participant_updated"
    participant: ParticipantInfo


class ParticipantLeft(Message):
    type: Literal["participant_left"] = "participant_left"
    participant_id: str


class ChatMessage(Message):
    type: Literal["chat"] = "chat"
    participant_id: str
    name: str
    text: str
    at: str


class Reaction(Message):
    """Someone's short reaction, shown a few seconds over their tile."""

    type: Literal["reaction"] = "reaction"
    participant_id: str
    emoji: str


class ActiveSpeaker(Message):
    type: Literal["active_speaker"] = "active_speaker"
    participant_id: str | None


class MeetingEnded(Message):
    """The meeting is over for this person, for good: `ended` for everyone, or
    `partner_removed` when the partner instance hosting it (`instance`, its label) took this
    hub off its allow-list."""

    type: Literal["ended"] = "ended"
    reason: Literal["ended", "partner_removed"]
    instance: str | None = None


class SubtitlesState(Message):
    """Live subtitles started or stopped (`by`: the moderator's name), or (un)available."""

    type: Literal["subtitles_state"] = "subtitles_state"
    state: SubtitleState
    by: str | None = None


class RecordingState(Message):
    """Recording started or stopped by a moderator (`by`: their name); `failed` (moderators
    only): the recording that stopped could not be stored, its files stay on the hub."""

    type: Literal["recording_state"] = "recording_state"
    recording: bool
    by: str | None = None
    failed: bool | None = None


class Subtitle(Message):
    """Words someone said, as recognised (`final`: they will not change any more)."""

    type: Literal["subtitle"] = "subtitle"
    participant_id: str
    name: str
    text: str
    final: bool


class Pong(Message):
    type: Literal["pong"] = "pong"


class CascadeState(Message):
    """The link to the instance hosting this meeting was lost (its people are gone from view
    and we are reconnecting), is lost because that hub restarts, or is back."""

    type: Literal["cascade"] = "cascade"
    state: Literal["lost", "restarting", "restored"]
    instance: str


class Error(Message):
    type: Literal["error"] = "error"
    code: str
    message: str
    request: str | None = None
    retry_after: int | None = None


class ConnectionHealth(Message):
    """What the hub sees of one of this page's media connections: its peer stopped answering
    (`suspect`), the connection is gone (`failed`: make a new one), or it is fine again."""

    type: Literal["media_state"] = "media_state"
    pc: Literal["publish", "subscribe"]
    state: Literal["connected", "suspect", "failed"]


class ReceivedVideo(Message):
    participant_id: str
    source: Source
    quality: Literal["paused", "low", "medium", "high"]


class Reception(Message):
    """What this page receives of each video it shows: the layer the hub forwards (`low`,
    `medium`, `high`; a single-layer stream is `high`), or `paused` when this page's
    connection cannot carry it (audio goes on). Sent when it changes."""

    type: Literal["reception"] = "reception"
    videos: list[ReceivedVideo]


class Encodings(Message):
    """Encode only these simulcast layers (RIDs) of the track `mid`: nobody watches the
    others (the lowest is always kept); sent when it changes."""

    type: Literal["encodings"] = "encodings"
    mid: str
    rids: list[str]


class Restarting(Message):
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
