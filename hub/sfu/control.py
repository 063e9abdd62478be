"""The control protocol between `hub serve` and its SFU workers (hub/sfu/worker.py).

A stream of frames (hub/pipes/frames.py), each holding a UTF-8 JSON object with a `type`.
The hub sends requests (the calls of hub/sfu/port.py `MediaRoom`, each with an integer `id`);
the worker sends a `reply` per request and, unasked, events (subscribe offers, peer states,
reception, encodings, the active speaker) and a `load` report every second. Nothing per packet
crosses, but for the taps: while a meeting has subtitles on or is recorded, what its taps took
goes to the hub every 40 ms (hub/sfu/tap_wire.py); otherwise SDP dominates, a few per join.

Pure and I/O-free except `read_frame`: `parse` checks a frame's fields against `REQUESTS` or
`EVENTS` and raises `ControlError` with a precise message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

from hub.bounded_json import loads
from hub.ids import MeetingId, ParticipantId
from hub.pipes import frames
from hub.pipes.frames import FrameError
from hub.sfu.media import Source

MAX_FRAME = 1 << 20  # an SDP of 100 m-lines is ~60 kB; nothing legitimate comes near this

Field = Literal["str", "str?", "bool", "int", "int?", "num", "list", "dict", "dict?"]
_CHECKS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "str": (str, False),
    "str?": (str, True),
    "bool": (bool, False),
    "int": (int, False),
    "int?": (int, True),
    "num": ((int, float), False),
    "list": (list, False),
    "dict": (dict, False),
    "dict?": (dict, True),
}

_ROOM: dict[str, Field] = {"meeting": "str"}
_PERSON: dict[str, Field] = {"meeting": "str", "participant": "str"}
_SWITCHES: dict[str, Field] = {"audio": "bool", "video": "bool"}

# hub -> worker, each with an `id`; answered by a `reply` with the same id.
REQUESTS: dict[str, dict[str, Field]] = {
    "configure": {"ice_servers": "list", "candidate_addresses": "list", "relay_addresses": "list"},
    "watch": {**_PERSON, "reception": "bool", "encodings": "bool"},
    "publish": {**_PERSON, "sdp": "str", "sources": "dict", "owners": "dict?"},
    "add_subscriber": {**_PERSON, "restart": "bool"},
    "subscribe_answer": {**_PERSON, "sdp": "str"},
    "add_candidate": {
        **_PERSON,
        "which": "str",
        "candidate": "str",
        "sdp_mid": "str?",
        "sdp_mline_index": "int?",
    },
    "restart_subscriber": _PERSON,
    "set_forwarding": {**_PERSON, **_SWITCHES},
    "set_view": {**_PERSON, "tiles": "list", "visible": "bool", "known": "list"},
    "set_owner_forwarding": {**_ROOM, "owner": "str", **_SWITCHES},
    "remove_participant": _PERSON,
    "close_room": _ROOM,
    "snapshot": _ROOM,
    # Subtitles (audio tap) and recording (recording tap) on or off (hub/sfu/worker_taps.py).
    "set_taps": {**_ROOM, "audio": "bool", "recording": "bool"},
}

# worker -> hub.
EVENTS: dict[str, dict[str, Field]] = {
    "reply": {"id": "int?", "ok": "bool", "result": "dict?", "error": "str?", "kind": "str?"},
    "offer": {**_PERSON, "sdp": "str", "streams": "list", "restart": "bool"},
    "peer_state": {**_PERSON, "which": "str", "state": "str"},
    "reception": {**_PERSON, "videos": "list"},
    "encodings": {**_PERSON, "mid": "str", "rids": "list"},
    "speaker": {**_ROOM, "participant": "str?"},
    # A tap's batch (hub/sfu/tap_wire.py); the counts are those since the last batch.
    "audio_packets": {
        **_ROOM,
        "packets": "list",
        "taken": "int",
        "dropped": "int",
        "silent": "int",
    },
    "recording_packets": {
        **_ROOM,
        "tracks": "list",
        "packets": "list",
        "taken": "int",
        "dropped": "int",
    },
    "load": {
        "pid": "int",
        "forwarded_per_second": "num",
        "packets_forwarded": "int",
        "cpu_seconds": "num",
        "meetings": "int",
        "legs": "int",
        "relay_streams": "int",
        "relay_packets": "int",
    },
}

SOURCES = frozenset(get_args(Source))


class ControlError(FrameError):
    """A frame that is not a message of the protocol; the text says what is wrong."""


@dataclass(frozen=True)
class Message:
    """One checked message: its type, request id (requests and replies) and fields."""

    type: str
    id: int | None
    fields: Mapping[str, object]

    def text(self, key: str) -> str:
        return cast(str, self.fields[key])

    def maybe_text(self, key: str) -> str | None:
        return cast(str | None, self.fields.get(key))

    def flag(self, key: str) -> bool:
        return cast(bool, self.fields[key])

    def number(self, key: str) -> float:
        return float(cast(float, self.fields[key]))

    def integer(self, key: str) -> int:
        return cast(int, self.fields[key])

    def maybe_integer(self, key: str) -> int | None:
        return cast(int | None, self.fields.get(key))

    def items(self, key: str) -> list[object]:
        return cast(list[object], self.fields[key])

    def mapping(self, key: str) -> dict[str, object] | None:
        return cast(dict[str, object] | None, self.fields.get(key))

    @property
    def meeting(self) -> MeetingId:
        return MeetingId(self.text("meeting"))

    @property
    def participant(self) -> ParticipantId:
        return ParticipantId(self.text("participant"))


def encode(type_: str, id_: int | None = None, **fields: object) -> bytes:
    """One frame: the length, then the JSON object (`id` only when given)."""
    message: dict[str, object] = {"type": type_, **fields}
    if id_ is not None:
        message["id"] = id_
    body = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
    if len(body) > MAX_FRAME:
        raise ControlError(f"{type_} message of {len(body)} bytes is over {MAX_FRAME}")
    return frames.frame(body)


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's body; None at a clean end of stream; FrameError for a frame over the
    limit or cut short (the stream cannot be trusted after it: the caller closes it)."""
    return await frames.read_frame(reader, MAX_FRAME)


def parse(body: bytes, kinds: Mapping[str, Mapping[str, Field]], *, need_id: bool) -> Message:
    """Check one frame's body: a JSON object whose `type` is one of `kinds`, with each of
    that kind's fields of the right JSON type, and an integer `id` when `need_id`."""
    try:
        value = loads(body)
    except ValueError as exc:
        raise ControlError(f"not JSON: {str(exc)[:80]}") from None
    if not isinstance(value, dict):
        raise ControlError(f"a JSON {type(value).__name__} where an object was expected")
    type_ = value.get("type")
    if not isinstance(type_, str):
        raise ControlError("no string 'type'")
    schema = kinds.get(type_)
    if schema is None:
        raise ControlError(f"unknown message type {type_[:40]!r}")
    id_ = value.get("id")
    if id_ is not None and (not isinstance(id_, int) or isinstance(id_, bool) or id_ < 0):
        raise ControlError(f"{type_}: 'id' is not a non-negative integer")
    if need_id and id_ is None:
        raise ControlError(f"{type_}: no 'id'")
    for key, field in schema.items():
        expected, optional = _CHECKS[field]
        item = value.get(key)
        if item is None and optional:
            continue
        if not isinstance(item, expected) or (isinstance(item, bool) and expected is not bool):
            raise ControlError(f"{type_}: '{key}' is missing or not of type {field.rstrip('?')}")
    unknown = set(value) - set(schema) - {"type", "id"}
    if unknown:
        raise ControlError(f"{type_}: unknown fields {sorted(unknown)[:5]}")
    return Message(type_, id_, {key: value.get(key) for key in schema})


def sources_of(message: Message) -> dict[str, Source]:
    """A publish request's `sources`: mid -> one of the known track sources."""
    sources = message.mapping("sources") or {}
    for mid, source in sources.items():
        if source not in SOURCES:
            raise ControlError(f"publish: source {str(source)[:20]!r} of mid {mid[:20]!r}")
    return cast(dict[str, Source], sources)


def owners_of(message: Message) -> dict[str, ParticipantId] | None:
    owners = message.mapping("owners")
    if owners is None:
        return None
    if not all(isinstance(owner, str) for owner in owners.values()):
        raise ControlError("publish: 'owners' maps mids to something else than ids")
    return {mid: ParticipantId(cast(str, owner)) for mid, owner in owners.items()}


def tiles_of(message: Message) -> dict[ParticipantId, tuple[int, int]]:
    """A set_view request's `tiles`: [participant, width, height] triples."""
    tiles: dict[ParticipantId, tuple[int, int]] = {}
    for item in message.items("tiles"):
        match item:
            case [str(person), int(width), int(height)] if width >= 0 and height >= 0:
                tiles[ParticipantId(person)] = (width, height)
            case _:
                raise ControlError("set_view: a tile is not [participant, width, height]")
    return tiles


def strings_of(message: Message, key: str) -> list[str]:
    items = message.items(key)
    if not all(isinstance(item, str) for item in items):
        raise ControlError(f"{message.type}: '{key}' holds something else than strings")
    return cast(list[str], items)
