"""The JSON shape of the bridge interface over HTTP (hub/web/bridge_api.py ↔ bridge/http_port.py).

Both sides use only this module: request bodies are pydantic models carrying their limits,
answers and events are the dataclasses of bridge/hub_port.py dumped as they are (datetimes in
ISO 8601, tuples as arrays), events tagged with a `type`. Pure and I/O-free; a bad document
raises `ValueError` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictBool, TypeAdapter, ValidationError

from bridge.hub_port import (
    BridgeEvent,
    ChatFromMeeting,
    HubRefusal,
    Language,
    MeetingClosed,
    PresenceChanged,
    RoomMeeting,
    TranscriptDigest,
    TranscriptReady,
)
from bridge.power import CREATOR_POWER
from hub.i18n import CATALOG, Text, in_both, placeholders

PREFIX: Final = "/api/v1/bridge"
MAX_MATRIX_ID = 255  # the Matrix spec's limit for user, room and event ids
MAX_NAME = 120
MAX_TEXT = 2000
MAX_MEMBERS = 10_000
MAX_MEETING_ID = 64
# Power levels are canonical-JSON integers; room creators (room version 12) rank above them.
MIN_POWER = -(2**53 - 1)
REFUSED = "refused"  # the `code` of a 409 answer carrying a `HubRefusal`
REFUSAL_KEYS = "bot.refusal."  # the only sentences a refusal over HTTP may make the bot say

UserId = Annotated[str, Field(max_length=MAX_MATRIX_ID, pattern=r"^@[^:\s]+:\S+$")]
EventId = Annotated[str, Field(max_length=MAX_MATRIX_ID, pattern=r"^\$\S+$")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Power = Annotated[int, Field(ge=MIN_POWER, le=CREATOR_POWER, strict=True)]


def check_room_id(room_id: str) -> str:
    """A Matrix room id as the path carries it (room version 12 ids have no server part)."""
    if len(room_id) > MAX_MATRIX_ID:
        raise ValueError(f"room id: longer than {MAX_MATRIX_ID} characters")
    if not room_id.startswith("!") or len(room_id) < 2 or any(c.isspace() for c in room_id):
        raise ValueError("room id: must look like !opaque:server")
    return room_id


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartMeeting(_Body):
    by: UserId
    # Longer titles are cut by the hub, as in process; this only bounds the request.
    title: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


class EndMeeting(_Body):
    by: UserId


class SetLocked(_Body):
    locked: StrictBool
    by: UserId


class Switch(_Body):
    """Turn something on or off (subtitles, recording)."""

    on: StrictBool
    by: UserId


class NamedPerson(_Body):
    """Mute the one person of that display name."""

    name: Name
    by: UserId


LobbyNumber = Annotated[int, Field(ge=1, le=2**31, strict=True)]


class AdmitWaiting(_Body):
    """Admit the people waiting under these numbers; null: everyone waiting."""

    numbers: Annotated[list[LobbyNumber], Field(min_length=1, max_length=100)] | None
    by: UserId


class RefuseWaiting(_Body):
    number: LobbyNumber
    by: UserId
    # Checked by the hub, as in process (a bad reason gets the room's precise refusal).
    reason: Annotated[str, Field(max_length=MAX_TEXT)] | None = None


class SetLanguage(_Body):
    language: Language
    by: UserId


class LanguageReply(_Body):
    language: Language


class NamesReply(_Body):
    names: list[str]


class Invite(_Body):
    user_id: UserId
    by: UserId


class PostChat(_Body):
    sender: UserId
    name: Name
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]


class RememberStatus(_Body):
    meeting_id: Annotated[str, Field(min_length=1, max_length=MAX_MEETING_ID)]
    event_id: EventId


class UpdateRoom(_Body):
    members: Annotated[dict[UserId, Power], Field(max_length=MAX_MEMBERS)]


class MeetingReply(_Body):
    meeting: RoomMeeting | None


class NameReply(_Body):
    name: str


class PostedReply(_Body):
    posted: bool


def validation_message(exc: ValidationError) -> str:
    """`members.@a:b: Input should be a valid integer` (the first error, with where)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {str(first['msg']).removeprefix('Value error, ')}"


_MEETING = TypeAdapter(RoomMeeting)


def meeting_to_json(meeting: RoomMeeting) -> dict[str, Any]:
    return _MEETING.dump_python(meeting, mode="json")  # type: ignore[no-any-return]


def meeting_from_json(data: object) -> RoomMeeting:
    try:
        return _MEETING.validate_python(data)
    except ValidationError as exc:
        raise ValueError(f"room meeting: {validation_message(exc)}") from None


# -- events ---------------------------------------------------------------------------------

_EVENT_TYPES: Final[dict[str, type[BridgeEvent]]] = {
    "presence_changed": PresenceChanged,
    "meeting_closed": MeetingClosed,
    "chat_from_meeting": ChatFromMeeting,
    "transcript_ready": TranscriptReady,
    "transcript_digest": TranscriptDigest,
}
_EVENT_NAMES = {kind: name for name, kind in _EVENT_TYPES.items()}
_EVENT_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(kind) for name, kind in _EVENT_TYPES.items()
}


def event_to_json(event: BridgeEvent) -> dict[str, Any]:
    name = _EVENT_NAMES[type(event)]
    return {"type": name, **_EVENT_ADAPTERS[name].dump_python(event, mode="json")}


def event_from_json(data: object) -> BridgeEvent:
    if not isinstance(data, dict):
        raise ValueError("bridge event: not a JSON object")
    name = data.get("type")
    if not isinstance(name, str) or name not in _EVENT_TYPES:
        raise ValueError(f"bridge event: unknown type {name!r}")
    fields = {key: value for key, value in data.items() if key != "type"}
    try:
        event = _EVENT_ADAPTERS[name].validate_python(fields)
    except ValidationError as exc:
        raise ValueError(f"bridge event {name}: {validation_message(exc)}") from None
    assert isinstance(event, _EVENT_TYPES[name])
    return event


# -- event frames ---------------------------------------------------------------------------
# On hub nodes the event socket carries the bot's stream: each event frame then has an `ack`
# number, and the bridge answers `{"ack": n}` once its listeners have carried the event, so the
# hub acknowledges the stream entry only then. Frames without one need no answer.

ACK: Final = "ack"
MAX_ACK = 2**53 - 1


def event_frame(event: BridgeEvent, ack: int | None = None) -> dict[str, Any]:
    """An event as the event socket sends it, with the number to acknowledge it by."""
    frame = event_to_json(event)
    if ack is not None:
        frame[ACK] = ack
    return frame


def event_frame_from_json(data: object) -> tuple[BridgeEvent, int | None]:
    """The event of a frame and its `ack` number (None: no answer wanted)."""
    if not isinstance(data, dict):
        raise ValueError("bridge event: not a JSON object")
    fields = dict(data)
    ack = fields.pop(ACK, None)
    if ack is not None:
        ack = _ack_number(ack)
    return event_from_json(fields), ack


def ack_to_json(ack: int) -> dict[str, Any]:
    return {ACK: ack}


def ack_from_json(data: object) -> int:
    """The number of an `{"ack": n}` answer from the bridge."""
    if not isinstance(data, dict) or set(data) != {ACK}:
        raise ValueError('bridge answer: not {"ack": number}')
    return _ack_number(data[ACK])


def _ack_number(value: object) -> int:
    if type(value) is not int or not 0 <= value <= MAX_ACK:
        raise ValueError(f"ack: not a number from 0 to {MAX_ACK}")
    return value


# -- refusals -------------------------------------------------------------------------------


def refusal_to_json(refusal: HubRefusal) -> dict[str, Any]:
    """A problem document (like every hub error), with the refusal's catalog key and values:
    the bot says it in the room's language from its own copy of the catalog."""
    values = refusal.text.values
    return {
        "status": 409,
        "code": REFUSED,
        "title": in_both(Text("bot.refusal.title")),
        "detail": in_both(refusal.text),
        "key": refusal.text.key,
        "values": {name: str(value) for name, value in values.items()},
    }


def refusal_from_json(data: object) -> HubRefusal | None:
    """The refusal in a 409 answer; None if the answer is another kind of conflict, or names
    a sentence this bot's catalog has no refusal for or leaves one of its placeholders empty
    (a hub newer than the bot: the room is told of an internal error, the log says which)."""
    if not isinstance(data, dict) or data.get("code") != REFUSED:
        return None
    key, values = data.get("key"), data.get("values")
    if not isinstance(key, str) or not key.startswith(REFUSAL_KEYS) or key not in CATALOG["fr"]:
        return None
    if not isinstance(values, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in values.items()
    ):
        return None
    if not placeholders(key) <= values.keys():
        return None
    return HubRefusal(Text(key, values))
