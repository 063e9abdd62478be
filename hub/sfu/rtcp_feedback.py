"""RTCP feedback packets (RFC 4585, RFC 5104, REMB): what subscribers ask of the SFU.

Generic NACK (with the PID/BLP item helpers), PLI, FIR and REMB, each a dataclass with
`parse` and `__bytes__` like the report packets in hub/sfu/rtcp.py, which dispatches to them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.sfu.rtcp_wire import (
    FIR_ENTRY,
    NACK_ITEM,
    PSFB_AFB,
    PSFB_FIR,
    PSFB_PLI,
    REMB_ID,
    REMB_MAX_MANTISSA,
    RTCP_PSFB,
    RTCP_RTPFB,
    RTPFB_NACK,
    TWO_SSRCS,
    rtcp_packet,
)


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
        sender_ssrc, media_ssrc = TWO_SSRCS.unpack_from(body, 0)
        fci_length = len(body) - 8
        if fci_length % 4:
            raise ValueError(f"RTCP NACK FCI length {fci_length} is not a multiple of 4")
        items = list(NACK_ITEM.iter_unpack(body[8:]))
        return cls(sender_ssrc, media_ssrc, items, padding=padding)

    def sequence_numbers(self) -> list[int]:
        """Return every sequence number this NACK reports lost."""
        return expand_nack_items(self.items)

    def __bytes__(self) -> bytes:
        body = TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc) + b"".join(
            NACK_ITEM.pack(pid, blp) for pid, blp in self.items
        )
        return rtcp_packet(RTPFB_NACK, RTCP_RTPFB, body, self.padding)


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
        sender_ssrc, media_ssrc = TWO_SSRCS.unpack_from(body, 0)
        return cls(sender_ssrc, media_ssrc, padding=padding)

    def __bytes__(self) -> bytes:
        body = TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc)
        return rtcp_packet(PSFB_PLI, RTCP_PSFB, body, self.padding)


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
        sender_ssrc, media_ssrc = TWO_SSRCS.unpack_from(body, 0)
        fci_length = len(body) - 8
        if fci_length % 8:
            raise ValueError(f"RTCP FIR FCI length {fci_length} is not a multiple of 8")
        entries = list(FIR_ENTRY.iter_unpack(body[8:]))
        return cls(sender_ssrc, media_ssrc, entries, padding=padding)

    def __bytes__(self) -> bytes:
        body = TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc) + b"".join(
            FIR_ENTRY.pack(ssrc, seq) for ssrc, seq in self.entries
        )
        return rtcp_packet(PSFB_FIR, RTCP_PSFB, body, self.padding)


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
        while bitrate >> exponent > REMB_MAX_MANTISSA:
            exponent += 1
        if exponent > 63:
            raise ValueError(f"REMB bitrate {bitrate} is too large")
        return cls(sender_ssrc, bitrate >> exponent, exponent, list(ssrcs))

    @classmethod
    def parse(cls, body: bytes, padding: int = 0) -> RtcpRemb:
        """Parse a PSFB FMT 15 body known to start its FCI with 'REMB'."""
        if len(body) < 16:
            raise ValueError("RTCP REMB is truncated")
        sender_ssrc, media_ssrc = TWO_SSRCS.unpack_from(body, 0)
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
            word & REMB_MAX_MANTISSA,
            word >> 18,
            ssrcs,
            media_ssrc,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        if not 0 <= self.mantissa <= REMB_MAX_MANTISSA:
            raise ValueError(f"REMB mantissa {self.mantissa} does not fit 18 bits")
        if not 0 <= self.exponent <= 63:
            raise ValueError(f"REMB exponent {self.exponent} does not fit 6 bits")
        if len(self.ssrcs) > 255:
            raise ValueError(f"REMB has too many SSRCs ({len(self.ssrcs)} > 255)")
        word = (self.exponent << 18) | self.mantissa
        body = b"".join(
            [
                TWO_SSRCS.pack(self.sender_ssrc, self.media_ssrc),
                REMB_ID,
                bytes((len(self.ssrcs), word >> 16, (word >> 8) & 0xFF, word & 0xFF)),
                struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs),
            ]
        )
        return rtcp_packet(PSFB_AFB, RTCP_PSFB, body, self.padding)
