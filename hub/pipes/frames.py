"""Length-prefixed frames, and the msgpack maps the hub's child processes exchange in them.

A frame is a 4-byte big-endian length, then that many bytes of body. The SFU's control socket
(hub/sfu/control.py) carries a JSON object in each; the speech worker and the recorder
(hub/speech/worker_wire.py, hub/recording/wire.py) a msgpack map whose "t" names the kind.
Pure and I/O-free except `read_frame`; every broken frame is a `FrameError` that says why.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import msgpack

HEAD = struct.Struct(">I")


class FrameError(ValueError):
    """A frame, or the message in it, that breaks its protocol; the text says what is wrong."""


def frame(body: bytes) -> bytes:
    """The body, its length in front."""
    return HEAD.pack(len(body)) + body


def frame_length(head: bytes, limit: int) -> int:
    """The body length a 4-byte head announces; FrameError past `limit` (before reading it)."""
    if len(head) != HEAD.size:
        raise FrameError(f"frame head is {len(head)} bytes, not {HEAD.size}")
    (length,) = HEAD.unpack(head)
    if length > limit:
        raise FrameError(f"frame of {length} bytes announced, over the {limit}-byte limit")
    return int(length)


async def read_frame(reader: asyncio.StreamReader, limit: int) -> bytes | None:
    """The next frame's body; None at a clean end of stream; FrameError for a frame over the
    limit or cut short (the stream cannot be trusted after it: the caller closes it)."""
    try:
        head = await reader.readexactly(HEAD.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("stream ended inside a frame header") from None
        return None
    length = frame_length(head, limit)
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise FrameError(f"stream ended inside a {length}-byte frame") from None


def pack_map(body: dict[str, Any]) -> bytes:
    """One frame holding the map in msgpack."""
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return frame(packed)


def unpack_map(data: bytes, limit: int) -> dict[Any, Any]:
    """The msgpack map in a frame's body; FrameError if it is not one."""
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=limit)
    except (ValueError, msgpack.UnpackException) as exc:
        raise FrameError(f"not msgpack: {exc}") from None
    if not isinstance(body, dict):
        raise FrameError("a message is a msgpack map")
    return body


def field(body: dict[Any, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """The map's `name`, of that type (a bool is no int); FrameError naming the kind of
    message, the field and the type expected."""
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kinds = (kind,) if isinstance(kind, type) else kind
        expected = " or ".join(k.__name__ for k in kinds)
        raise FrameError(f"{body.get('t')}: field {name!r} is missing or not {expected}")
    return value
