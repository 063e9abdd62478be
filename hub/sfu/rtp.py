"""RTP header checks, views and in-place rewriting on raw bytes, for the SFU's per-packet path.

The SFU never decodes media: for each packet it validates the fixed header, reads a few
fields, rewrites SSRC / sequence number / timestamp for the subscriber and sends the same
buffer on. Everything here works on `bytes`/`bytearray` with `struct` and integer indexing,
without building a full packet object, so a rewrite costs about a microsecond in CPython.
Bad input raises `ValueError` with a message saying exactly what is wrong.

References: RFC 3550 (RTP), RFC 8285 (header extensions), RFC 6464 (audio level),
RFC 7741 (VP8 payload), RFC 6184 (H.264 payload).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "MAX_PACKET_SIZE",
    "RTP_HEADER_SIZE",
    "RtpHeader",
    "Vp8Descriptor",
    "check_rtp",
    "find_extension",
    "is_h264_keyframe",
    "is_vp8_keyframe",
    "iter_extensions",
    "parse_audio_level",
    "rewrite_header",
    "rtp_layout",
    "vp8_keyframe_size",
]

# Largest datagram we accept: the Ethernet MTU. WebRTC stacks keep RTP well below it
# (Chrome ~1200 bytes), so anything bigger is garbage or an attack, not media.
MAX_PACKET_SIZE = 1500
# Fixed part of the RTP header, before CSRCs and the header extension.
RTP_HEADER_SIZE = 12

# Profiles of the header extension block (RFC 8285 §4.2 and §4.3).
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000

_FIXED = struct.Struct("!BBHII")
# Sequence number, timestamp, SSRC: the three fields a rewrite touches, contiguous from byte 2.
_SEQ_TS_SSRC = struct.Struct("!HII")
_pack_seq_ts_ssrc = _SEQ_TS_SSRC.pack_into


def _layout(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Validate the RTP framing and return (header_length, padding_length).

    Shared by every entry point so that all of them reject exactly the same packets with
    the same messages; kept branch-light because it runs once per forwarded packet.
    """
    n = len(data)
    if n > MAX_PACKET_SIZE:
        raise ValueError(f"RTP packet is too large ({n} > {MAX_PACKET_SIZE} bytes)")
    if n < RTP_HEADER_SIZE:
        raise ValueError(f"RTP packet is truncated ({n} < {RTP_HEADER_SIZE} bytes)")
    b0 = data[0]
    if b0 >> 6 != 2:
        raise ValueError(f"RTP packet has version {b0 >> 6}, expected 2")
    header_length = RTP_HEADER_SIZE + 4 * (b0 & 0x0F)
    if header_length > n:
        raise ValueError(
            f"RTP CSRC list runs past end of packet (needs {header_length} bytes, have {n})"
        )
    if b0 & 0x10:
        if header_length + 4 > n:
            raise ValueError(
                f"RTP header extension is truncated (needs {header_length + 4} bytes, have {n})"
            )
        # Extension length counts 32-bit words after the 4-byte extension header.
        words = (data[header_length + 2] << 8) | data[header_length + 3]
        header_length += 4 + 4 * words
        if header_length > n:
            raise ValueError(
                "RTP header extension runs past end of packet "
                f"(needs {header_length} bytes, have {n})"
            )
    padding_length = 0
    if b0 & 0x20:
        # The last octet counts the padding octets, itself included (RFC 3550 §5.1).
        padding_length = data[n - 1]
        if padding_length == 0:
            raise ValueError("RTP padding length is zero")
        if padding_length > n - header_length:
            raise ValueError(
                f"RTP padding length {padding_length} exceeds payload length {n - header_length}"
            )
    return header_length, padding_length


def check_rtp(data: bytes | bytearray | memoryview) -> None:
    """Raise ValueError unless `data` is a well-framed RTP packet; the hot-path gatekeeper."""
    _layout(data)


def rtp_layout(data: bytes | bytearray | memoryview) -> tuple[int, int]:
    """Validate like `check_rtp` and return (header_length, padding_length) for the forwarder."""
    return _layout(data)


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """Read-only view of an RTP packet's header, for logging, stats and slow-path decisions."""

    marker: bool
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    csrc_count: int
    # Profile of the header extension block (0xBEDE one-byte, 0x100x two-byte), None if absent.
    extension_profile: int | None
    # Offset of the payload: fixed header + CSRCs + extension block.
    header_length: int
    # Payload bytes, padding excluded.
    payload_length: int
    padding_length: int

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpHeader:
        """Validate `data` like `check_rtp` and return its header fields."""
        header_length, padding_length = _layout(data)
        b0, b1, sequence_number, timestamp, ssrc = _FIXED.unpack_from(data, 0)
        csrc_count = b0 & 0x0F
        extension_profile: int | None = None
        if b0 & 0x10:
            offset = RTP_HEADER_SIZE + 4 * csrc_count
            extension_profile = (data[offset] << 8) | data[offset + 1]
        return cls(
            marker=bool(b1 & 0x80),
            payload_type=b1 & 0x7F,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=ssrc,
            csrc_count=csrc_count,
            extension_profile=extension_profile,
            header_length=header_length,
            payload_length=len(data) - header_length - padding_length,
            padding_length=padding_length,
        )


def iter_extensions(data: bytes | bytearray | memoryview) -> Iterator[tuple[int, bytes]]:
    """Yield (id, value) for each RFC 8285 header extension element of an RTP packet.

    Yields nothing when the packet has no extension block or an unknown profile (such blocks
    are opaque by definition). Padding octets are skipped; in the one-byte form id 15 ends
    processing, as RFC 8285 §4.2 requires.
    """
    _layout(data)
    b0 = data[0]
    if not b0 & 0x10:
        return
    start = RTP_HEADER_SIZE + 4 * (b0 & 0x0F)
    profile = (data[start] << 8) | data[start + 1]
    end = start + 4 + 4 * ((data[start + 2] << 8) | data[start + 3])
    pos = start + 4
    if profile == ONE_BYTE_PROFILE:
        while pos < end:
            b = data[pos]
            ext_id = b >> 4
            if ext_id == 0:
                # Padding octet between or after elements.
                pos += 1
                continue
            if ext_id == 15:
                break
            pos += 1
            length = (b & 0x0F) + 1
            if pos + length > end:
                raise ValueError(
                    f"RTP header extension element {ext_id} runs past end of extension block"
                )
            yield ext_id, bytes(data[pos : pos + length])
            pos += length
    elif profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
        while pos < end:
            ext_id = data[pos]
            if ext_id == 0:
                pos += 1
                continue
            if pos + 2 > end:
                raise ValueError(
                    f"RTP header extension element {ext_id} is truncated (no length octet)"
                )
            length = data[pos + 1]
            pos += 2
            if pos + length > end:
                raise ValueError(
                    f"RTP header extension element {ext_id} runs past end of extension block"
                )
            yield ext_id, bytes(data[pos : pos + length])
            pos += length


def find_extension(data: bytes | bytearray | memoryview, ext_id: int) -> bytes | None:
    """Return the value of header extension element `ext_id`, or None if the packet lacks it.

    `ext_id` is the id negotiated in SDP (a=extmap), 1-14 for the one-byte form and 1-255 for
    the two-byte form. Malformed packets raise ValueError even when `ext_id` comes first,
    so callers see the same verdict as from `check_rtp`.
    """
    if not 1 <= ext_id <= 255:
        raise ValueError(f"RTP header extension id {ext_id} is out of range 1-255")
    for element_id, value in iter_extensions(data):
        if element_id == ext_id:
            return value
    return None


def parse_audio_level(value: bytes) -> tuple[bool, int]:
    """Decode an RFC 6464 audio level element into (voice_activity, level in -dBov 0-127).

    Level 0 is loudest and 127 is silence; the SFU uses it for active-speaker detection
    without touching the Opus payload.
    """
    if len(value) != 1:
        raise ValueError(f"RTP audio level extension must be 1 byte, got {len(value)}")
    b = value[0]
    return bool(b & 0x80), b & 0x7F


def rewrite_header(
    buf: bytearray,
    ssrc: int,
    sequence_number: int,
    timestamp: int,
    payload_type: int | None = None,
) -> None:
    """Overwrite SSRC, sequence number, timestamp (and optionally payload type) in place.

    The buffer must already have passed `check_rtp`. Values must fit their fields
    (16/32/32/7 bits); `struct.error` is raised otherwise. Not validated again here because
    this is the per-subscriber hot path and the values come from `StreamRewriter`, which
    keeps them in range. The marker bit is preserved when the payload type changes.
    """
    _pack_seq_ts_ssrc(buf, 2, sequence_number, timestamp, ssrc)
    if payload_type is not None:
        buf[1] = (buf[1] & 0x80) | (payload_type & 0x7F)


@dataclass(frozen=True, slots=True)
class Vp8Descriptor:
    """VP8 payload descriptor (RFC 7741 §4.2), for layer selection and keyframe decisions."""

    non_reference: bool
    start_of_partition: bool
    partition_id: int
    # Picture id and whether it is the 15-bit form (M bit); None without the I bit.
    picture_id: int | None
    picture_id_15bit: bool
    tl0_pic_idx: int | None
    # Temporal layer index and layer-sync bit, None without the T bit.
    temporal_id: int | None
    layer_sync: bool
    key_idx: int | None
    # Descriptor length: offset of the VP8 payload header inside the RTP payload.
    size: int

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview) -> Vp8Descriptor:
        """Parse the descriptor at the start of an RTP payload; ValueError if truncated."""
        n = len(payload)
        if n < 1:
            raise ValueError("VP8 payload descriptor is truncated")
        b0 = payload[0]
        pos = 1
        picture_id: int | None = None
        picture_id_15bit = False
        tl0_pic_idx: int | None = None
        temporal_id: int | None = None
        layer_sync = False
        key_idx: int | None = None
        if b0 & 0x80:
            if pos >= n:
                raise ValueError("VP8 payload descriptor is truncated (missing extension octet)")
            x = payload[pos]
            pos += 1
            if x & 0x80:
                if pos >= n:
                    raise ValueError("VP8 payload descriptor is truncated (missing picture id)")
                if payload[pos] & 0x80:
                    if pos + 2 > n:
                        raise ValueError("VP8 payload descriptor is truncated (missing picture id)")
                    picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
                    picture_id_15bit = True
                    pos += 2
                else:
                    picture_id = payload[pos]
                    pos += 1
            if x & 0x40:
                if pos >= n:
                    raise ValueError("VP8 payload descriptor is truncated (missing TL0PICIDX)")
                tl0_pic_idx = payload[pos]
                pos += 1
            if x & 0x30:
                if pos >= n:
                    raise ValueError(
                        "VP8 payload descriptor is truncated (missing TID/KEYIDX octet)"
                    )
                t = payload[pos]
                pos += 1
                if x & 0x20:
                    temporal_id = t >> 6
                    layer_sync = bool(t & 0x20)
                if x & 0x10:
                    key_idx = t & 0x1F
        return cls(
            non_reference=bool(b0 & 0x20),
            start_of_partition=bool(b0 & 0x10),
            partition_id=b0 & 0x07,
            picture_id=picture_id,
            picture_id_15bit=picture_id_15bit,
            tl0_pic_idx=tl0_pic_idx,
            temporal_id=temporal_id,
            layer_sync=layer_sync,
            key_idx=key_idx,
            size=pos,
        )


def is_vp8_keyframe(
    data: bytes | bytearray | memoryview, header_length: int, end: int | None = None
) -> bool:
    """Tell whether an RTP packet carries the first packet of a VP8 keyframe.

    True when the descriptor has S=1 and PID=0 (start of the first partition) and the VP8
    payload header that follows has P=0 (RFC 7741 §4.3: P is 0 for key frames). Payload
    runs from `header_length` to `end` (default: end of data; pass it to exclude padding).
    A truncated payload is reported as not a keyframe rather than raising: the SFU forwards
    it regardless and only needs to know whether a subscriber can start decoding here.
    """
    if end is None:
        end = len(data)
    pos = header_length
    if pos < 0 or pos >= end:
        return False
    b0 = data[pos]
    # S bit (0x10) set and partition index (0x07) zero; other bits are don't-care.
    if b0 & 0x17 != 0x10:
        return False
    pos += 1
    if b0 & 0x80:
        if pos >= end:
            return False
        x = data[pos]
        pos += 1
        if x & 0x80:
            if pos >= end:
                return False
            pos += 2 if data[pos] & 0x80 else 1
        if x & 0x40:
            pos += 1
        if x & 0x30:
            pos += 1
    if pos >= end:
        return False
    return not data[pos] & 0x01


# NAL unit types that let a decoder start: IDR slice and sequence parameter set.
_H264_KEY_NAL_TYPES = frozenset({5, 7})
_H264_STAP_A = 24
_H264_FU_A = 28


def is_h264_keyframe(
    data: bytes | bytearray | memoryview, header_length: int, end: int | None = None
) -> bool:
    """Tell whether an RTP packet starts an H.264 keyframe (RFC 6184 packetization mode 0/1).

    True for a single NAL unit of type 5 (IDR) or 7 (SPS), a STAP-A aggregating one, or the
    first fragment (S=1) of an FU-A carrying one. Truncated payloads give False, as for VP8.
    """
    if end is None:
        end = len(data)
    pos = header_length
    if pos < 0 or pos >= end:
        return False
    nal_type = data[pos] & 0x1F
    if nal_type == _H264_STAP_A:
        pos += 1
        # Each aggregated NAL unit is prefixed with a 16-bit size.
        while pos + 2 < end:
            size = (data[pos] << 8) | data[pos + 1]
            pos += 2
            if size == 0 or pos + size > end:
                return False
            if data[pos] & 0x1F in _H264_KEY_NAL_TYPES:
                return True
            pos += size
        return False
    if nal_type == _H264_FU_A:
        if pos + 1 >= end:
            return False
        fu_header = data[pos + 1]
        return bool(fu_header & 0x80) and fu_header & 0x1F in _H264_KEY_NAL_TYPES
    return nal_type in _H264_KEY_NAL_TYPES


def vp8_keyframe_size(
    data: bytes | bytearray | memoryview, header_length: int, end: int | None = None
) -> tuple[int, int] | None:
    """(width, height) from the first packet of a VP8 keyframe (RFC 6386 §9.1: 3-byte frame
    tag, start code 9d 01 2a, 14-bit width and height), None if it is not one or truncated."""
    if end is None:
        end = len(data)
    if not is_vp8_keyframe(data, header_length, end):
        return None
    start = header_length + Vp8Descriptor.parse(data[header_length:end]).size
    if end - start < 10 or bytes(data[start + 3 : start + 6]) != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(data[start + 6 : start + 8], "little") & 0x3FFF
    height = int.from_bytes(data[start + 8 : start + 10], "little") & 0x3FFF
    return width, height


def one_byte_extension(data: bytes, header_length: int, ext_id: int) -> bytes | None:
    """Value of a one-byte-form extension element of a checked packet whose header is
    `header_length` bytes, found without building any list (the per-packet path)."""
    offset = 12 + 4 * (data[0] & 0x0F)
    if data[offset] != 0xBE or data[offset + 1] != 0xDE:
        return None
    position, end = offset + 4, header_length
    while position < end:
        byte = data[position]
        if byte == 0:
            position += 1
            continue
        element, length = byte >> 4, (byte & 0x0F) + 1
        if element == 15:
            return None
        if element == ext_id:
            value = data[position + 1 : position + 1 + length]
            return value if len(value) == length else None
        position += 1 + length
    return None
