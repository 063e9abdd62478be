"""The taps' batches on the control socket (hub/sfu/control.py): what an SFU worker's audio
and recording taps took in the last 40 ms, as `audio_packets` and `recording_packets` events,
so the hub's speech worker and recorder hear a meeting whose media is in a worker process.

Pure and I/O-free: `*_fields` make an event's fields (payloads in base64, the control
socket being JSON), `*_of` check a received event and raise `ControlError` with a precise
message. A packet's arrival crosses as its age when sent, not as a clock reading: the hub may
be on another machine, whose monotonic clock is another.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence

from hub.ids import ParticipantId
from hub.sfu.control import ControlError, Message
from hub.sfu.recording_tap import TappedPacket, TrackInfo

MAX_PAYLOAD = 4096  # bytes: an RTP payload is under the path MTU (~1200 for WebRTC)
MAX_NAME = 200  # characters of a participant id or track key
# Raw payload bytes per frame: base64 and the per-packet fields keep it well under MAX_FRAME.
FRAME_BUDGET = 512 * 1024
PACKET_OVERHEAD = 64  # bytes of JSON around one packet's payload, at most
KINDS = frozenset({"audio", "video"})
SOURCES = frozenset({"microphone", "camera", "screen"})
MIMES = frozenset({"audio/opus", "video/vp8"})

AudioPacket = tuple[str, int, bytes]  # participant id, RTP timestamp, Opus payload


def split(sizes: Sequence[int], budget: int = FRAME_BUDGET) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive runs whose payloads add up to at most `budget` bytes."""
    start, total = 0, 0
    for index, size in enumerate(sizes):
        cost = size + PACKET_OVERHEAD
        if index > start and total + cost > budget:
            yield start, index
            start, total = index, 0
        total += cost
    if start < len(sizes):
        yield start, len(sizes)


def audio_fields(packets: Sequence[AudioPacket]) -> list[list[object]]:
    return [[who, timestamp, _text(payload)] for who, timestamp, payload in packets]


def recording_fields(packets: Sequence[TappedPacket], now: float) -> list[list[object]]:
    return [
        [key, seq, timestamp, marker, _text(payload), round(max(0.0, now - arrival), 4)]
        for key, seq, timestamp, marker, payload, arrival in packets
    ]


def track_fields(tracks: Sequence[TrackInfo]) -> list[list[object]]:
    return [[t.key, t.participant_id, t.kind, t.source, t.mime, t.clock_rate] for t in tracks]


def counts_of(message: Message, names: Sequence[str]) -> dict[str, int]:
    counts = {name: message.integer(name) for name in names}
    for name, count in counts.items():
        if count < 0:
            raise ControlError(f"{message.type}: '{name}' is negative")
    return counts


def audio_packets_of(message: Message) -> list[AudioPacket]:
    """An `audio_packets` event's packets: [participant, RTP timestamp, base64 payload]."""
    packets: list[AudioPacket] = []
    for item in message.items("packets"):
        match item:
            case [str(who), int(timestamp), str(payload)] if _name(who) and _u32(timestamp):
                packets.append((who, timestamp, _bytes(message.type, payload)))
            case _:
                raise ControlError(
                    "audio_packets: a packet is not [participant, timestamp, payload]"
                )
    return packets


def recording_packets_of(message: Message, now: float) -> list[TappedPacket]:
    """A `recording_packets` event's packets, their arrival on this side's clock `now`."""
    packets: list[TappedPacket] = []
    for item in message.items("packets"):
        match item:
            case [str(key), int(seq), int(ts), bool(marker), str(payload), int(age) | float(age)]:
                if _name(key) and 0 <= seq <= 0xFFFF and _u32(ts) and 0 <= age < 60:
                    data = _bytes(message.type, payload)
                    packets.append((key, seq, ts, marker, data, now - float(age)))
                    continue
        raise ControlError(
            "recording_packets: a packet is not [track, seq, timestamp, marker, payload, age]"
        )
    return packets


def tracks_of(message: Message) -> list[TrackInfo]:
    """A `recording_packets` event's new tracks."""
    tracks: list[TrackInfo] = []
    for item in message.items("tracks"):
        match item:
            case [str(key), str(who), str(kind), str(source), str(mime), int(rate)] if (
                _name(key) and _name(who) and kind in KINDS and source in SOURCES
                and mime in MIMES and 0 < rate <= 1_000_000
            ):  # fmt: skip
                tracks.append(TrackInfo(key, ParticipantId(who), kind, source, mime, rate))
            case _:
                raise ControlError(
                    "recording_packets: a track is not [key, participant, kind, source, "
                    "mime, clock rate] of known values"
                )
    return tracks


def _text(payload: bytes) -> str:
    return base64.b64encode(payload).decode("ascii")


def _bytes(kind: str, text: str) -> bytes:
    if len(text) > MAX_PAYLOAD * 4 // 3 + 4:
        raise ControlError(f"{kind}: a payload is over {MAX_PAYLOAD} bytes")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(f"{kind}: a payload is not base64") from None


def _name(text: str) -> bool:
    return 0 < len(text) <= MAX_NAME


def _u32(value: int) -> bool:
    return 0 <= value <= 0xFFFFFFFF
