"""RTP payloads back into codec frames, without decoding: VP8 (RFC 7741) frames from their
packets, and the OpusHead (RFC 7845) that Ogg and WebM need but RTP never carries. Pure.

Opus needs no reassembly: WebRTC puts one Opus packet (a 20 ms frame) in each RTP packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hub.sfu.rtp import Vp8Descriptor

OPUS_PRE_SKIP = 312  # libopus's encoder delay at 48 kHz, what browsers' encoders use


def opus_head(channels: int = 2, pre_skip: int = OPUS_PRE_SKIP) -> bytes:
    """The 19-byte identification header: version 1, channel count, pre-skip, the input rate
    (48 kHz), no output gain, channel mapping family 0 (mono or stereo)."""
    if channels not in (1, 2):
        raise ValueError(f"mapping family 0 carries 1 or 2 channels, not {channels}")
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, pre_skip, 48_000, 0, 0)


@dataclass(frozen=True, slots=True)
class Vp8Frame:
    timestamp: int  # RTP timestamp (90 kHz)
    data: bytes  # the VP8 frame, as libvpx wrote it
    keyframe: bool
    arrival: float  # when its last packet came (monotonic seconds)


def keyframe_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) of a VP8 keyframe (RFC 6386 §9.1), None for an interframe."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return width, height


class Vp8Assembler:
    """Joins one track's packets, in arrival order, into whole frames. A frame with a packet
    missing is dropped, and so is everything after it until the next keyframe: a decoder
    given a frame whose reference was lost shows garbage or fails."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._timestamp: int | None = None
        self._last_seq: int | None = None
        self._broken = False
        self._need_keyframe = True  # a recording starts on a keyframe
        self.frames_dropped = 0

    def push(
        self, seq: int, timestamp: int, marker: bool, payload: bytes, arrival: float
    ) -> Vp8Frame | None:
        """One packet; returns the frame it completes, if any. ValueError for a payload
        whose descriptor is truncated (the packet is then treated as lost)."""
        in_order = self._last_seq is None or seq == (self._last_seq + 1) & 0xFFFF
        self._last_seq = seq
        if timestamp != self._timestamp:  # a new frame: the previous one never ended
            if self._parts or self._broken or not in_order:
                self._lose()  # the previous frame, or whole frames, never came complete
            self._parts, self._timestamp, self._broken = [], timestamp, False
        elif not in_order:
            self._broken = True
        try:
            descriptor = Vp8Descriptor.parse(payload)
        except ValueError:
            self._broken = True
            raise
        starts = descriptor.start_of_partition and descriptor.partition_id == 0
        if starts != (not self._parts) and not self._broken:
            self._broken = True  # a first packet lost, or a second start
        self._parts.append(payload[descriptor.size :])
        if not marker:
            return None
        data, broken = b"".join(self._parts), self._broken
        self._parts, self._timestamp, self._broken = [], None, False
        if broken or not data:
            self._lose()
            return None
        # A keyframe by its header (start code and size), not its first bit alone: a frame a
        # hostile publisher marked as a keyframe without one is an inter frame here.
        keyframe = not data[0] & 0x01 and keyframe_size(data) is not None
        if self._need_keyframe and not keyframe:
            self.frames_dropped += 1
            return None
        self._need_keyframe = False
        return Vp8Frame(timestamp, data, keyframe, arrival)

    def _lose(self) -> None:
        self.frames_dropped += 1
        self._need_keyframe = True


class RtpClock:
    """A track's RTP timestamps as ticks since its first written frame (32-bit wrap handled)."""

    def __init__(self) -> None:
        self._first: int | None = None
        self._last = 0
        self._wraps = 0

    def ticks(self, timestamp: int) -> int:
        if self._first is None:
            self._first = self._last = timestamp
        if timestamp < self._last and self._last - timestamp > 1 << 31:
            self._wraps += 1
        elif timestamp > self._last and timestamp - self._last > 1 << 31:
            return (self._wraps << 32) + timestamp - (1 << 32) - self._first  # a late one
        self._last = timestamp
        return (self._wraps << 32) + timestamp - self._first
