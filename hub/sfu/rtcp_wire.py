"""RTCP wire basics shared by every packet type: type numbers, the common header, padding.

Split from hub/sfu/rtcp.py so the report packets (rtcp.py) and the feedback packets
(rtcp_feedback.py) build their headers the same way without importing each other.
"""

from __future__ import annotations

import struct

MAX_PACKET_SIZE = 1500

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
RTCP_RTPFB = 205
RTCP_PSFB = 206
RTCP_XR = 207

# Feedback message types (FMT field) we interpret.
RTPFB_NACK = 1
PSFB_PLI = 1
PSFB_FIR = 4
PSFB_AFB = 15

REMB_ID = b"REMB"
# REMB bitrate = mantissa << exponent with an 18-bit mantissa and a 6-bit exponent.
REMB_MAX_MANTISSA = (1 << 18) - 1

HEADER = struct.Struct("!BBH")
REPORT_BLOCK = struct.Struct("!IIIIII")
SR_INFO = struct.Struct("!IQIII")
TWO_SSRCS = struct.Struct("!II")
NACK_ITEM = struct.Struct("!HH")
FIR_ENTRY = struct.Struct("!IB3x")


def rtcp_header(count: int, packet_type: int, body_length: int, padding: int) -> bytes:
    """Build the 4-byte common header; the total must come out a multiple of 32 bits."""
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count {count} is out of range 0-31")
    if not 0 <= padding <= 255:
        raise ValueError(f"RTCP padding {padding} is out of range 0-255")
    total = 4 + body_length + padding
    if total % 4:
        raise ValueError(f"RTCP packet length {total} is not a multiple of 4")
    first = 0x80 | (0x20 if padding else 0) | count
    return HEADER.pack(first, packet_type, total // 4 - 1)


def padding_bytes(padding: int) -> bytes:
    """Return `padding` zero octets whose last one holds the count (RFC 3550 §6.4.1)."""
    if not padding:
        return b""
    return bytes(padding - 1) + bytes((padding,))


def rtcp_packet(count: int, packet_type: int, body: bytes, padding: int) -> bytes:
    """Header, body and padding: one whole RTCP packet."""
    return rtcp_header(count, packet_type, len(body), padding) + body + padding_bytes(padding)
