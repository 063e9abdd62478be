"""Messages of Kyutai's moshi-server on /api/asr-streaming: each one binary WebSocket frame
holding a msgpack map whose "type" comes first (rmp_serde, struct maps, serde tag "type").

Client to server: Audio (24 kHz mono floats, packed as float32 like Kyutai's own clients)
and Marker. Server to client: Ready, Step, Word, EndWord, Marker, Error. Pure: no I/O.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, TypeVar

import msgpack
import numpy as np

from hub.speech.port import Pcm

SAMPLE_RATE = 24_000
FRAME = 1920  # samples per model step: 80 ms
STEP_SECONDS = FRAME / SAMPLE_RATE
API_KEY_HEADER = "kyutai-api-key"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Audio:
    pcm: Pcm

    def __bytes__(self) -> bytes:
        """The same bytes as msgpack.packb({"type": "Audio", "pcm": [...]},
        use_single_float=True), built with numpy: `ca` then big-endian float32 per sample."""
        count = len(self.pcm)
        if count < 16:
            head = bytes([0x90 | count])
        elif count < 1 << 16:
            head = b"\xdc" + struct.pack(">H", count)
        else:
            head = b"\xdd" + struct.pack(">I", count)
        body = np.empty((count, 5), dtype=np.uint8)
        body[:, 0] = 0xCA
        body[:, 1:] = np.asarray(self.pcm, dtype=">f4").view(np.uint8).reshape(count, 4)
        return b"\x82\xa4type\xa5Audio\xa3pcm" + head + body.tobytes()


@dataclass(frozen=True, slots=True)
class Marker:
    """Sent by the client; the server sends it back once every frame before it is processed."""

    id: int

    def __bytes__(self) -> bytes:
        packed: bytes = msgpack.packb({"type": "Marker", "id": self.id})
        return packed


@dataclass(frozen=True, slots=True)
class Ready:
    pass


@dataclass(frozen=True, slots=True)
class Step:
    step_idx: int
    prs: tuple[float, ...]
    buffered_pcm: int


@dataclass(frozen=True, slots=True)
class WordStart:
    """`Word` on the wire: a word is complete, its end comes with the next EndWord."""

    text: str
    start_time: float


@dataclass(frozen=True, slots=True)
class EndWord:
    stop_time: float


@dataclass(frozen=True, slots=True)
class Error:
    message: str


ServerMessage = Ready | Step | WordStart | EndWord | Marker | Error


def parse_server_message(data: bytes) -> ServerMessage | None:
    """One server frame; None for a type this client does not know (newer servers may add
    some); ValueError with a precise message for anything else."""
    try:
        message = msgpack.unpackb(data, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise ValueError(f"not msgpack ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise ValueError(f"not a msgpack map but {type(message).__name__}")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ValueError('map has no "type" string')
    if kind == "Ready":
        return Ready()
    if kind == "Step":
        prs = _field(message, kind, "prs", list)
        return Step(
            step_idx=_integer(message, kind, "step_idx"),
            prs=tuple(_number(value, kind, "prs") for value in prs),
            buffered_pcm=_integer(message, kind, "buffered_pcm"),
        )
    if kind == "Word":
        text = _field(message, kind, "text", str)
        return WordStart(
            text=text, start_time=_number(message.get("start_time"), kind, "start_time")
        )
    if kind == "EndWord":
        return EndWord(stop_time=_number(message.get("stop_time"), kind, "stop_time"))
    if kind == "Marker":
        return Marker(id=_integer(message, kind, "id"))
    if kind == "Error":
        return Error(message=_field(message, kind, "message", str))
    return None


def _field(message: dict[Any, Any], kind: str, name: str, expected: type[_T]) -> _T:
    value = message.get(name)
    if not isinstance(value, expected):
        raise ValueError(f"{kind}.{name} is not a {expected.__name__}")
    return value


def _integer(message: dict[Any, Any], kind: str, name: str) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{kind}.{name} is not an integer")
    return value


def _number(value: object, kind: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{kind}.{name} is not a number")
    return float(value)
