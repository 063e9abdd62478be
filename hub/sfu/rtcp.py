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

_REMB_ID = b"REMB"
# REMB bitrate = mantissa << exponent with an 18-bit mantissa and a 6-bit exponent.
_REMB_MAX_MANTISSA = (1 << 18) - 1

_HEADER = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IIIIII")
_SR_INFO = struct.Struct("!IQIII")
_TWO_SSRCS = struct.Struct("!II")
_NACK_ITEM = struct.Struct("!HH")
_FIR_ENTRY = struct.Struct("!IB3x")


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


def _header(count: int, packet_type: int, body_length: int, padding: int) -> bytes:
    """Build the 4-byte common header; the total must come out a multiple of 32 bits."""
    if not 0 <= count <= 31:
        raise ValueError(f"RTCP count {count} is out of range 0-31")
    if not 0 <= padding <= 255:
        raise ValueError(f"RTCP padding {padding} is out of range 0-255")
    total = 4 + body_length + padding
    if total % 4:
        raise ValueError(f"RTCP packet length {total} is not a multiple of 4")
    first = 0x80 | (0x20 if padding else 0) | count
    return _HEADER.pack(first, packet_type, total // 4 - 1)


def _padding_bytes(padding: int) -> bytes:
    """Return `padding` zero octets whose last one holds the count (RFC 3550 §6.4.1)."""
    if not padding:
        return b""
    return bytes(padding - 1) + bytes((padding,))


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
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        packets_lost = lost_word & 0xFFFFFF
        if packets_lost & 0x800000:
            packets_lost -= 1 << 24
        return cls(ssrc, lost_word >> 24, packets_lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not -(1 << 23) <= self.packets_lost < (1 << 23):
            raise ValueError(f"RTCP packets lost {self.packets_lost} does not fit 24 bits")
        lost_word = (self.fraction_lost << 24) | (self.packets_lost & 0xFFFFFF)
        return _REPORT_BLOCK.pack(
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
        ssrc, ntp, rtp, packets, octets = _SR_INFO.unpack_from(body, 0)
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
                _SR_INFO.pack(
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
        header = _header(len(self.reports), RTCP_SR, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


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
        header = _header(len(self.reports), RTCP_RR, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


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
        header = _header(len(self.chunks), RTCP_SDES, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


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
        header = _header(len(self.sources), RTCP_BYE, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


def expand_nack_item(pid: int, blp: int) -> list[int]:
    """Expand one generic NACK FCI (RFC 4585 §6.2.1) into the lost sequence numbers.

    PID is lost; bit i of BLP (LSB = bit 0) means PID + i + 1 is lost too, modulo 2^16.
    """
    lost = [pid]
    for i in range(16):
        if blp & (1 << i):
            lost.append((pid + i + 1) & 0xFFFF)
    return lost


def expand_nack_items(items: Iterable[tuple[int, int]]) -> list[int]:
    """Expand a list of (PID, BLP) items into sequence numbers, in item order."""
    lost: list[int] = []
    for pid, blp in items:
        lost.extend(expand_nack_item(pid, blp))
    return lost


def build_nack_items(sequence_numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Build the fewest (PID, BLP) items covering exactly the given sequence numbers.

    The numbers live on a ring of 2^16; the ring is cut after its widest gap, so a set that
    straddles the 65535 -> 0 wrap is ordered oldest first like any other. Greedy covering
    from the oldest number is then optimal whenever that gap is at least 17 (a 17-wide
    window cannot bridge it), which holds for any real NACK; for a set dense all around the
    ring it is at most one item over the minimum.
    """
    seqs = sorted({s & 0xFFFF for s in sequence_numbers})
    if not seqs:
        return []
    # Find the widest gap between neighbours on the ring and start right after it.
    start_index = 0
    widest = (seqs[0] - seqs[-1]) % 0x10000
    for i in range(1, len(seqs)):
        gap = seqs[i] - seqs[i - 1]
        if gap > widest:
            widest = gap
            start_index = i
    ordered = seqs[start_index:] + seqs[:start_index]
    items: list[tuple[int, int]] = []
    pid = ordered[0]
    blp = 0
    for seq in ordered[1:]:
        offset = (seq - pid) & 0xFFFF
        if offset <= 16:
            blp |= 1 << (offset - 1)
        else:
            items.append((pid, blp))
            pid = seq
            blp = 0
    items.append((pid, blp))
    return items


@dataclass
class RtcpNack:
    """Generic NACK (RTPFB FMT 1): the subscriber asks for retransmission of lost packets."""

    sender_ssrc: int
    media_ssrc: int
    # FCI entries as (PID, BLP); kept as sent so re-serialization is exact.
    items: list[tuple[int, int]] = field(default_factory=list)
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def from_sequence_numbers(
        cls, sender_ssrc: int, media_ssrc: int, sequence_numbers: Iterable[int]
    ) -> RtcpNack:
        """Build a NACK asking for `sequence_numbers` with the fewest FCI entries."""
        return cls(sender_ssrc, media_ssrc, build_nack_items(sequence_numbers))

    @classmethod
    def parse(cls, body: bytes, padding: int = 0) -> RtcpNack:
        """Parse sender SSRC, media SSRC and the 4-byte FCI entries."""
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body, 0)
        fci_length = len(body) - 8
        if fci_length % 4:
            raise ValueError(f"RTCP NACK FCI length {fci_length} is not a multiple of 4")
        items = list(_NACK_ITEM.iter_unpack(body[8:]))
        return cls(sender_ssrc, media_ssrc, items, padding=padding)

    def sequence_numbers(self) -> list[int]:
        """Return every sequence number this NACK reports lost."""
        return expand_nack_items(self.items)

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc) + b"".join(
            _NACK_ITEM.pack(pid, blp) for pid, blp in self.items
        )
        header = _header(RTPFB_NACK, RTCP_RTPFB, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


@dataclass
class RtcpPli:
    """Picture loss indication (PSFB FMT 1): the subscriber needs a keyframe."""

    sender_ssrc: int
    media_ssrc: int
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, body: bytes, padding: int = 0) -> RtcpPli:
        """Parse the two SSRCs; PLI has no FCI (RFC 4585 §6.3.1)."""
        if len(body) != 8:
            raise ValueError(f"RTCP PLI has {len(body) - 8} bytes of FCI, expected none")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body, 0)
        return cls(sender_ssrc, media_ssrc, padding=padding)

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc)
        return (
            _header(PSFB_PLI, RTCP_PSFB, len(body), self.padding)
            + body
            + _padding_bytes(self.padding)
        )


@dataclass
class RtcpFir:
    """Full intra request (PSFB FMT 4, RFC 5104 §4.3.1): keyframe request with a seq number.

    `entries` are (SSRC, command sequence number); the 24 reserved bits are written as zero.
    """

    sender_ssrc: int
    # RFC 5104 says 0 here (the targets are in the FCI) but we keep what was sent.
    media_ssrc: int = 0
    entries: list[tuple[int, int]] = field(default_factory=list)
    padding: int = field(default=0, kw_only=True)

    @classmethod
    def parse(cls, body: bytes, padding: int = 0) -> RtcpFir:
        """Parse the two SSRCs and the 8-byte FCI entries."""
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body, 0)
        fci_length = len(body) - 8
        if fci_length % 8:
            raise ValueError(f"RTCP FIR FCI length {fci_length} is not a multiple of 8")
        entries = list(_FIR_ENTRY.iter_unpack(body[8:]))
        return cls(sender_ssrc, media_ssrc, entries, padding=padding)

    def __bytes__(self) -> bytes:
        body = _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc) + b"".join(
            _FIR_ENTRY.pack(ssrc, seq) for ssrc, seq in self.entries
        )
        header = _header(PSFB_FIR, RTCP_PSFB, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


@dataclass
class RtcpRemb:
    """Receiver estimated max bitrate (PSFB FMT 15 'REMB', draft-alvestrand-rmcat-remb).

    The bitrate is kept as sent (mantissa, exponent) so that re-serialization is exact;
    `bitrate` gives bits per second and `from_bitrate` encodes with the smallest exponent.
    """

    sender_ssrc: int
    mantissa: int
    exponent: int
    ssrcs: list[int] = field(default_factory=list)
    # Always 0 for REMB, but kept for exact round trips.
    media_ssrc: int = 0
    padding: int = field(default=0, kw_only=True)

    @property
    def bitrate(self) -> int:
        """Estimated maximum bitrate in bits per second."""
        return self.mantissa << self.exponent

    @classmethod
    def from_bitrate(cls, sender_ssrc: int, bitrate: int, ssrcs: Iterable[int]) -> RtcpRemb:
        """Encode `bitrate` (rounded down to what 18 bits of mantissa can say)."""
        if bitrate < 0:
            raise ValueError(f"REMB bitrate {bitrate} is negative")
        exponent = 0
        while bitrate >> exponent > _REMB_MAX_MANTISSA:
            exponent += 1
        if exponent > 63:
            raise ValueError(f"REMB bitrate {bitrate} is too large")
        return cls(sender_ssrc, bitrate >> exponent, exponent, list(ssrcs))

    @classmethod
    def parse(cls, body: bytes, padding: int = 0) -> RtcpRemb:
        """Parse a PSFB FMT 15 body known to start its FCI with 'REMB'."""
        if len(body) < 16:
            raise ValueError("RTCP REMB is truncated")
        sender_ssrc, media_ssrc = _TWO_SSRCS.unpack_from(body, 0)
        num_ssrc = body[12]
        word = (body[13] << 16) | (body[14] << 8) | body[15]
        expected = 16 + 4 * num_ssrc
        if len(body) != expected:
            raise ValueError(
                f"RTCP REMB length {len(body) + 4} does not match its {num_ssrc} SSRCs "
                f"({expected + 4} bytes)"
            )
        ssrcs = list(struct.unpack_from(f"!{num_ssrc}I", body, 16))
        return cls(
            sender_ssrc,
            word & _REMB_MAX_MANTISSA,
            word >> 18,
            ssrcs,
            media_ssrc,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        if not 0 <= self.mantissa <= _REMB_MAX_MANTISSA:
            raise ValueError(f"REMB mantissa {self.mantissa} does not fit 18 bits")
        if not 0 <= self.exponent <= 63:
            raise ValueError(f"REMB exponent {self.exponent} does not fit 6 bits")
        if len(self.ssrcs) > 255:
            raise ValueError(f"REMB has too many SSRCs ({len(self.ssrcs)} > 255)")
        word = (self.exponent << 18) | self.mantissa
        body = b"".join(
            [
                _TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc),
                _REMB_ID,
                bytes((len(self.ssrcs), word >> 16, (word >> 8) & 0xFF, word & 0xFF)),
                struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs),
            ]
        )
        header = _header(PSFB_AFB, RTCP_PSFB, len(body), self.padding)
        return header + body + _padding_bytes(self.padding)


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
        header = _header(self.count, self.packet_type, len(self.payload), self.padding)
        return header + self.payload + _padding_bytes(self.padding)


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
            if count == PSFB_AFB and body[8:12] == _REMB_ID:
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
        first, packet_type, length = _HEADER.unpack_from(data, pos)
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
