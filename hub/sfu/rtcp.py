"""RTCP compound packet parsing and serialization (RFC 3550, RFC 4585, RFC 5104, REMB).

The SFU terminates RTCP per leg: it reads receiver feedback (NACK, PLI, FIR, REMB, RR) from
subscribers, sends its own, and translates publisher sender reports. Each packet type is a
dataclass with `parse` and `__bytes__`; parsing then serializing a well-formed compound packet
gives back the same bytes, so packets can also be forwarded untouched. Types the SFU does not
interpret (APP, XR, transport-cc, ...) come back as `RtcpUnknown` with their raw payload.
Bad input raises `ValueError` with a message saying exactly what is wrong.

Padding: the P bit is honoured on every packet and the count is kept in `padding`; the
padding octets themselves are written back as zeros (RFC 3550 leaves them unspecified but
every stack sends zeros).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from hub.sfu.rtcp_feedback import (
    RtcpFir,
    RtcpNack,
    RtcpPli,
    RtcpRemb,
    build_nack_items,
    expand_nack_item,
    expand_nack_items,
)
from hub.sfu.rtcp_wire import (
    HEADER,
    MAX_PACKET_SIZE,
    PSFB_AFB,
    PSFB_FIR,
    PSFB_PLI,
    REMB_ID,
    REPORT_BLOCK,
    RTCP_BYE,
    RTCP_PSFB,
    RTCP_RR,
    RTCP_RTPFB,
    RTCP_SDES,
    RTCP_SR,
    RTPFB_NACK,
    SR_INFO,
    rtcp_packet,
)

__all__ = [
    "MAX_PACKET_SIZE",
    "RtcpBye",
    "RtcpFir",
    "RtcpNack",
    "RtcpPacket",
    "RtcpPli",
    "RtcpRemb",
    "RtcpReportBlock",
    "RtcpRr",
    "RtcpSdes",
    "RtcpSr",
    "RtcpUnknown",
    "SdesChunk",
    "build_nack_items",
    "check_rtcp",
    "expand_nack_item",
    "expand_nack_items",
    "is_rtcp",
    "parse_compound",
    "serialize_compound",
]


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """Demultiplex RTP from RTCP on one port (RFC 5761 §4): RTCP has 192-223 in byte 1.

    Works because RTCP packet types 192-223 read as RTP marker=1 with payload types 64-95,
    which RFC 5761 forbids for RTP when multiplexing.
    """
    return len(data) >= 2 and 192 <= data[1] <= 223


def check_rtcp(data: bytes | bytearray | memoryview) -> None:
    """Raise ValueError unless `data` looks like RTCP; cheap gate before `parse_compound`.

    Checks size (8..1500 bytes: the smallest useful packet is a header plus an SSRC),
    version 2 and a first packet type in the RFC 5761 range 192-223 (SR..XR are 200-207).
    """
    n = len(data)
    if n > MAX_PACKET_SIZE:
        raise ValueError(f"RTCP packet is too large ({n} > {MAX_PACKET_SIZE} bytes)")
    if n < 8:
        raise ValueError(f"RTCP packet is truncated ({n} < 8 bytes)")
    version = data[0] >> 6
    if version != 2:
        raise ValueError(f"RTCP packet has version {version}, expected 2")
    packet_type = data[1]
    if not 192 <= packet_type <= 223:
        raise ValueError(f"RTCP packet type {packet_type} is out of range 192-223")


@dataclass
class RtcpReportBlock:
    """Reception report about one source, carried in SR and RR (RFC 3550 §6.4.1)."""

    ssrc: int
    fraction_lost: int
    # Cumulative number of packets lost: signed 24-bit, negative when duplicates outnumber losses.
    packets_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int
    delay_since_last_sr: int

    SIZE: ClassVar[int] = 24

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> RtcpReportBlock:
        """Parse a 24-byte report block at `offset`."""
        if offset + cls.SIZE > len(data):
            raise ValueError("RTCP report block is truncated")
        ssrc, lost_word, highest, jitter, lsr, dlsr = REPORT_BLOCK.unpack_from(data, offset)
        packets_lost = lost_word & 0xFFFFFF
        if packets_lost & 0x800000:
            packets_lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, packets_lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not -(1 << 23) <= self.packets_lost < (1 << 23):
            raise ValueError(f"RTCP packets lost {self.packets_lost} does not fit 24 bits")
        lost_word = (self.fraction_lost << 24) | (self.packets_lost & 0xFFFFFF)
        return REPORT_BLOCK.pack(
            self.ssrc,
            lost_word,
            self.highest_sequence,
            self.jitter,
            self.last_sr,
            self.delay_since_last_sr,
        )


def _parse_report_blocks(body: bytes, offset: int, count: int) -> list[RtcpReportBlock]:
    return [RtcpReportBlock.parse(body, offset + i * RtcpReportBlock.SIZE) for i in range(count)]


@dataclass
class RtcpSr:
    """Sender report (PT 200): NTP/RTP timestamp pair for lip sync, counters, reports."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: list[RtcpReportBlock] = field(default_factory=list)
    # Profile-specific extension after the report blocks, kept opaque.
    extension: bytes = b""
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, count: int, body: bytes, padding: int = 0) -> RtcpSr:
        """Parse the body (after the common header, padding removed)."""
        needed = 24 + count * RtcpReportBlock.SIZE
        if len(body) < needed:
            raise ValueError(
                f"RTCP SR is truncated ({len(body) + 4} bytes, {count} report blocks "
                f"need {needed + 4})"
            )
        ssrc, ntp, rtp, packets, octets = SR_INFO.unpack_from(body, 0)
        return cls(
            ssrc,
            ntp,
            rtp,
            packets,
            octets,
            _parse_report_blocks(body, 24, count),
            body[needed:],
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        body = b"".join(
            [
                SR_INFO.pack(
                    self.ssrc,
                    self.ntp_timestamp,
                    self.rtp_timestamp,
                    self.packet_count,
                    self.octet_count,
                ),
                *(bytes(r) for r in self.reports),
                self.extension,
            ]
        )
        return rtcp_packet(len(self.reports), RTCP_SR, body, self.padding)


@dataclass
class RtcpRr:
    """Receiver report (PT 201): loss and jitter about the sources a receiver hears."""

    ssrc: int
    reports: list[RtcpReportBlock] = field(default_factory=list)
    extension: bytes = b""
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, count: int, body: bytes, padding: int = 0) -> RtcpRr:
        """Parse the body (after the common header, padding removed)."""
        needed = 4 + count * RtcpReportBlock.SIZE
        if len(body) < needed:
            raise ValueError(
                f"RTCP RR is truncated ({len(body) + 4} bytes, {count} report blocks "
                f"need {needed + 4})"
            )
        (ssrc,) = struct.unpack_from("!I", body, 0)
        return cls(ssrc, _parse_report_blocks(body, 4, count), body[needed:], padding=padding)

    def __bytes__(self) -> bytes:
        body = b"".join(
            [struct.pack("!I", self.ssrc), *(bytes(r) for r in self.reports), self.extension]
        )
        return rtcp_packet(len(self.reports), RTCP_RR, body, self.padding)


@dataclass
class SdesChunk:
    """One SDES chunk: an SSRC and its (item type, value) list, e.g. (1, b"cname")."""

    ssrc: int
    items: list[tuple[int, bytes]] = field(default_factory=list)

    def __bytes__(self) -> bytes:
        parts = [struct.pack("!I", self.ssrc)]
        for item_type, value in self.items:
            if not 1 <= item_type <= 255:
                raise ValueError(f"RTCP SDES item type {item_type} is out of range 1-255")
            if len(value) > 255:
                raise ValueError(f"RTCP SDES item is too long ({len(value)} > 255 bytes)")
            parts.append(bytes((item_type, len(value))))
            parts.append(value)
        items_length = sum(len(p) for p in parts) - 4
        # One null octet ends the list, then nulls up to the next 32-bit boundary.
        parts.append(bytes(4 - items_length % 4))
        return b"".join(parts)


@dataclass
class RtcpSdes:
    """Source description (PT 202): CNAME etc. per SSRC, forwarded or ignored by the SFU."""

    chunks: list[SdesChunk] = field(default_factory=list)
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, count: int, body: bytes, padding: int = 0) -> RtcpSdes:
        """Parse `count` chunks; each is 32-bit aligned and ends with a null item."""
        chunks: list[SdesChunk] = []
        pos = 0
        n = len(body)
        for _ in range(count):
            if pos + 4 > n:
                raise ValueError("RTCP SDES chunk is truncated (missing SSRC)")
            (ssrc,) = struct.unpack_from("!I", body, pos)
            pos += 4
            items: list[tuple[int, bytes]] = []
            while True:
                if pos >= n:
                    raise ValueError("RTCP SDES chunk is missing its terminating null octet")
                item_type = body[pos]
                if item_type == 0:
                    # Skip the null octet and the alignment nulls after it.
                    pos = (pos + 4) & ~3
                    if pos > n:
                        raise ValueError("RTCP SDES chunk is truncated (missing alignment nulls)")
                    break
                if pos + 2 > n:
                    raise ValueError("RTCP SDES item is truncated (missing length octet)")
                length = body[pos + 1]
                pos += 2
                if pos + length > n:
                    raise ValueError("RTCP SDES item runs past end of packet")
                items.append((item_type, body[pos : pos + length]))
                pos += length
            chunks.append(SdesChunk(ssrc, items))
        if pos < n:
            raise ValueError(f"RTCP SDES has {n - pos} bytes of trailing data after its chunks")
        return cls(chunks, padding=padding)

    def __bytes__(self) -> bytes:
        body = b"".join(bytes(c) for c in self.chunks)
        return rtcp_packet(len(self.chunks), RTCP_SDES, body, self.padding)


@dataclass
class RtcpBye:
    """Goodbye (PT 203): the listed sources are leaving, with an optional reason."""

    sources: list[int] = field(default_factory=list)
    reason: bytes | None = None
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, count: int, body: bytes, padding: int = 0) -> RtcpBye:
        """Parse the SSRC list and the optional length-prefixed reason."""
        needed = 4 * count
        if len(body) < needed:
            raise ValueError(
                f"RTCP BYE is truncated ({len(body) + 4} bytes, {count} sources need {needed + 4})"
            )
        sources = list(struct.unpack_from(f"!{count}I", body, 0))
        reason: bytes | None = None
        rest = len(body) - needed
        if rest:
            length = body[needed]
            end = needed + 1 + length
            if end > len(body):
                raise ValueError("RTCP BYE reason runs past end of packet")
            reason = body[needed + 1 : end]
            if len(body) - end > 3:
                raise ValueError(
                    f"RTCP BYE has {len(body) - end} bytes of trailing data after its reason"
                )
        return cls(sources, reason, padding=padding)

    def __bytes__(self) -> bytes:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            if len(self.reason) > 255:
                raise ValueError(f"RTCP BYE reason is too long ({len(self.reason)} > 255 bytes)")
            body += bytes((len(self.reason),)) + self.reason
            # Null octets to the 32-bit boundary, counting the packet padding that follows.
            body += bytes(-(len(body) + self.padding) % 4)
        return rtcp_packet(len(self.sources), RTCP_BYE, body, self.padding)


@dataclass
class RtcpUnknown:
    """Any packet we do not interpret (APP, XR, transport-cc, ...), kept raw for forwarding."""

    packet_type: int
    # The 5-bit count / FMT field of the header.
    count: int
    # Everything after the 4-byte header, padding excluded.
    payload: bytes
    padding: int = field(default=0, kw_only=True)

    def __bytes__(self) -> bytes:
        return rtcp_packet(self.count, self.packet_type, self.payload, self.padding)


RtcpPacket = (
    RtcpSr | RtcpRr | RtcpSdes | RtcpBye | RtcpNack | RtcpPli | RtcpFir | RtcpRemb | RtcpUnknown
)


def _parse_one(count: int, packet_type: int, body: bytes, padding: int) -> RtcpPacket:
    """Dispatch one packet body (header and padding stripped) to its type's parser."""
    if packet_type == RTCP_SR:
        return RtcpSr.parse(count, body, padding)
    if packet_type == RTCP_RR:
        return RtcpRr.parse(count, body, padding)
    if packet_type == RTCP_SDES:
        return RtcpSdes.parse(count, body, padding)
    if packet_type == RTCP_BYE:
        return RtcpBye.parse(count, body, padding)
    if packet_type in (RTCP_RTPFB, RTCP_PSFB):
        # Every transport/payload-specific feedback message starts with two SSRCs.
        if len(body) < 8:
            raise ValueError(f"RTCP feedback packet is truncated ({len(body) + 4} < 12 bytes)")
        if packet_type == RTCP_RTPFB and count == RTPFB_NACK:
            return RtcpNack.parse(body, padding)
        if packet_type == RTCP_PSFB:
            if count == PSFB_PLI:
                return RtcpPli.parse(body, padding)
            if count == PSFB_FIR:
                return RtcpFir.parse(body, padding)
            if count == PSFB_AFB and body[8:12] == REMB_ID:
                return RtcpRemb.parse(body, padding)
    return RtcpUnknown(packet_type, count, body, padding=padding)


def parse_compound(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Split a compound RTCP packet into its packets, validating every header.

    Raises ValueError if any packet is truncated, has a version other than 2, claims a
    length past the end of the data, or has a zero or oversized padding count.
    """
    data = bytes(data)
    n = len(data)
    packets: list[RtcpPacket] = []
    pos = 0
    while True:
        remaining = n - pos
        if remaining < 4:
            raise ValueError(f"RTCP packet is truncated ({remaining} < 4 bytes)")
        first, packet_type, length = HEADER.unpack_from(data, pos)
        version = first >> 6
        if version != 2:
            raise ValueError(f"RTCP packet has version {version}, expected 2")
        size = 4 * (length + 1)
        if size > remaining:
            raise ValueError(
                f"RTCP packet length {size} runs past end of data ({remaining} bytes left)"
            )
        end = pos + size
        padding = 0
        if first & 0x20:
            padding = data[end - 1]
            if padding == 0:
                raise ValueError("RTCP padding length is zero")
            if padding > size - 4:
                raise ValueError(
                    f"RTCP padding length {padding} exceeds packet body length {size - 4}"
                )
        body = data[pos + 4 : end - padding]
        packets.append(_parse_one(first & 0x1F, packet_type, body, padding))
        pos = end
        if pos == n:
            return packets


def serialize_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate packets into one compound RTCP datagram."""
    return b"".join(bytes(p) for p in packets)
