"""Messages between the hub and its speech worker process (hub/speech/worker.py), over the
worker's stdin and stdout: each one a frame (hub/pipes/frames.py) holding a msgpack map whose
"t" names the kind. Pure: no I/O. A speaker is named by a key the hub chooses ("meeting/person").

Hub to worker: Setup (the speech settings, secrets included: a pipe, never argv or the
environment), Packets (Opus payloads with their RTP timestamps), Hush (a speaker stops: flush
and close). Worker to hub: Started (the backend is ready or not), Said (a segment of text),
Trouble (one speaker's stream is unavailable or failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.pipes import frames
from hub.pipes.frames import FrameError as WireError
from hub.pipes.frames import field as _field
from hub.pipes.frames import pack_map

__all__ = ["MAX_FRAME", "Message", "WireError", "decode", "encode"]

MAX_FRAME = 4 * 1024 * 1024  # a batch of packets is ~100 KB at most; bounds a broken peer


@dataclass(frozen=True, slots=True)
class Setup:
    speech: dict[str, Any]  # SpeechConfig fields, secrets in clear


@dataclass(frozen=True, slots=True)
class Packets:
    # (speaker key, RTP timestamp, Opus payload), in arrival order
    packets: tuple[tuple[str, int, bytes], ...]


@dataclass(frozen=True, slots=True)
class Hush:
    key: str


@dataclass(frozen=True, slots=True)
class Started:
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Said:
    key: str
    text: str
    final: bool
    start: float  # seconds since the speaker's stream began
    end: float


@dataclass(frozen=True, slots=True)
class Trouble:
    key: str
    health: str  # "unavailable" or "failed" (hub/speech/port.py Health)
    reason: str


Message = Setup | Packets | Hush | Started | Said | Trouble


def encode(message: Message) -> bytes:
    """One frame: the length, then the msgpack map."""
    match message:
        case Setup(speech=speech):
            body: dict[str, Any] = {"t": "setup", "speech": speech}
        case Packets(packets=packets):
            body = {"t": "packets", "p": [list(packet) for packet in packets]}
        case Hush(key=key):
            body = {"t": "hush", "k": key}
        case Started(ok=ok, reason=reason):
            body = {"t": "started", "ok": ok, "reason": reason}
        case Said(key=key, text=text, final=final, start=start, end=end):
            body = {"t": "said", "k": key, "text": text, "final": final, "s": start, "e": end}
        case Trouble(key=key, health=health, reason=reason):
            body = {"t": "trouble", "k": key, "health": health, "reason": reason}
    return pack_map(body)


def decode(data: bytes) -> Message:
    """The message in one frame body; WireError if it is not one."""
    body = frames.unpack_map(data, MAX_FRAME)
    kind = body.get("t")
    if kind == "setup":
        return Setup(speech=_field(body, "speech", dict))
    if kind == "packets":
        packets = []
        for item in _field(body, "p", list):
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not isinstance(item[0], str)
                or not isinstance(item[1], int)
                or not isinstance(item[2], bytes)
            ):
                raise WireError("packets: each packet is [key, timestamp, payload]")
            packets.append((item[0], item[1], item[2]))
        return Packets(tuple(packets))
    if kind == "hush":
        return Hush(key=_field(body, "k", str))
    if kind == "started":
        return Started(ok=_field(body, "ok", bool), reason=_field(body, "reason", str))
    if kind == "said":
        return Said(
            key=_field(body, "k", str),
            text=_field(body, "text", str),
            final=_field(body, "final", bool),
            start=float(_field(body, "s", (int, float))),
            end=float(_field(body, "e", (int, float))),
        )
    if kind == "trouble":
        return Trouble(
            key=_field(body, "k", str),
            health=_field(body, "health", str),
            reason=_field(body, "reason", str),
        )
    raise WireError(f"unknown message kind {str(kind)[:40]!r}")
