"""Messages between the hub and its recorder process (hub/recording/recorder.py), over the
recorder's stdin and stdout, framed as the speech worker's are (hub/pipes/frames.py: a frame
holding a msgpack map whose "t" names the kind). Pure: no I/O.

Hub to recorder: Begin (a recording and its folder), Track (a track to write, and its file),
Packets (tapped RTP packets), Finish (close the recording's files). Recorder to hub: Finished
(what was written of each track).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.pipes import frames
from hub.pipes.frames import FrameError as WireError
from hub.pipes.frames import field as _field
from hub.pipes.frames import pack_map, unpack_map

__all__ = ["MAX_FRAME", "Message", "WireError", "decode", "encode", "frame_length"]

MAX_FRAME = 4 * 1024 * 1024  # a batch of 2,000 video packets is ~2.5 MB; bounds a broken peer


def frame_length(head: bytes) -> int:
    """The body length a 4-byte head announces; WireError past MAX_FRAME."""
    return frames.frame_length(head, MAX_FRAME)


@dataclass(frozen=True, slots=True)
class Begin:
    recording: str
    folder: str


@dataclass(frozen=True, slots=True)
class Track:
    recording: str
    key: str
    file: str  # a bare file name inside the recording's folder
    mime: str
    clock_rate: int


@dataclass(frozen=True, slots=True)
class Packets:
    recording: str
    # (track key, sequence number, RTP timestamp, marker, payload, arrival monotonic seconds)
    packets: tuple[tuple[str, int, int, bool, bytes, float], ...]


@dataclass(frozen=True, slots=True)
class Finish:
    recording: str


@dataclass(frozen=True, slots=True)
class Written:
    """What was written of one track."""

    key: str
    frames: int
    width: int
    height: int
    first_arrival: float | None  # monotonic seconds (one clock for the whole machine)
    duration: float
    error: str | None


@dataclass(frozen=True, slots=True)
class Finished:
    recording: str
    tracks: tuple[Written, ...]


Message = Begin | Track | Packets | Finish | Finished


def encode(message: Message) -> bytes:
    match message:
        case Begin(recording=rid, folder=folder):
            body: dict[str, Any] = {"t": "begin", "r": rid, "folder": folder}
        case Track(recording=rid, key=key, file=file, mime=mime, clock_rate=rate):
            body = {"t": "track", "r": rid, "k": key, "file": file, "mime": mime, "rate": rate}
        case Packets(recording=rid, packets=packets):
            body = {"t": "packets", "r": rid, "p": [list(packet) for packet in packets]}
        case Finish(recording=rid):
            body = {"t": "finish", "r": rid}
        case Finished(recording=rid, tracks=tracks):
            body = {
                "t": "finished", "r": rid,
                "tracks": [
                    [w.key, w.frames, w.width, w.height, w.first_arrival, w.duration, w.error]
                    for w in tracks
                ],
            }  # fmt: skip
    return pack_map(body)


def _packet(item: object) -> tuple[str, int, int, bool, bytes, float]:
    if not (
        isinstance(item, list)
        and len(item) == 6
        and isinstance(item[0], str)
        and isinstance(item[1], int)
        and isinstance(item[2], int)
        and isinstance(item[3], bool)
        and isinstance(item[4], bytes)
        and isinstance(item[5], int | float)
    ):
        raise WireError("packets: each is [key, seq, timestamp, marker, payload, arrival]")
    return (item[0], item[1], item[2], item[3], item[4], float(item[5]))


def _written(item: object) -> Written:
    if not (
        isinstance(item, list)
        and len(item) == 7
        and isinstance(item[0], str)
        and all(isinstance(n, int) for n in item[1:4])
        and (item[4] is None or isinstance(item[4], int | float))
        and isinstance(item[5], int | float)
        and (item[6] is None or isinstance(item[6], str))
    ):
        raise WireError("finished: each track is [key, frames, w, h, first, duration, error]")
    first = None if item[4] is None else float(item[4])
    return Written(item[0], item[1], item[2], item[3], first, float(item[5]), item[6])


def decode(data: bytes) -> Message:
    """The message in one frame body; WireError if it is not one."""
    body = unpack_map(data, MAX_FRAME)
    kind = body.get("t")
    rid = _field(body, "r", str)
    if kind == "begin":
        return Begin(rid, _field(body, "folder", str))
    if kind == "track":
        return Track(
            rid, _field(body, "k", str), _field(body, "file", str), _field(body, "mime", str),
            _field(body, "rate", int),
        )  # fmt: skip
    if kind == "packets":
        return Packets(rid, tuple(_packet(item) for item in _field(body, "p", list)))
    if kind == "finish":
        return Finish(rid)
    if kind == "finished":
        return Finished(rid, tuple(_written(item) for item in _field(body, "tracks", list)))
    raise WireError(f"unknown message kind {str(kind)[:40]!r}")
