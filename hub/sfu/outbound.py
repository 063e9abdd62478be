"""What goes out on one subscriber transceiver: our SSRCs and header-extension ids, the
numbering (`StreamRewriter`), the packets kept for NACKs (`PacketHistory`) and how they are
sent again (RFC 4588, within a budget), and sender reports in our timestamp space.

It knows nothing of where the packets come from: a `Leg` (hub/sfu/forwarder.py) is an
outbound stream that forwards one published track.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import struct
import time
from typing import Any

from hub.sfu.history import PacketHistory
from hub.sfu.internals import Egress, SendRtp, rtp_sender, sender_ssrcs
from hub.sfu.media import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID, Kind, extension_ids
from hub.sfu.rewrite import StreamRewriter
from hub.sfu.rtcp import RtcpSdes, RtcpSr, SdesChunk

log = logging.getLogger(__name__)

HISTORY_SIZE = 512
# Retransmissions a leg may send: this share of the bytes it forwarded, with a small burst,
# and one packet at most once per RESEND_GAP. A viewer whose link is saturated asks for
# almost everything again; answering all of it (measured: ~2,000 packets/s into a
# 300 kbit/s link) only deepens its queue and delays the lower layer it is moved to.
RESEND_SHARE = 0.2
RESEND_BURST = 32_000  # bytes
RESEND_GAP = 0.1  # seconds

_HEADER = struct.Struct("!BBHII")


class OutboundStream:
    """One sendonly transceiver of a subscribe connection, from its creation (aiortc chose its
    SSRCs) through negotiation (`negotiated`: the subscriber's payload types and ids) to the
    packets it sends; closed with its connection."""

    def __init__(self, *, kind: Kind, transceiver: Any) -> None:
        self.kind: Kind = kind
        self.transceiver = transceiver
        self.ready = False  # negotiated: aiortc called send() with the parameters
        self.started = False  # a keyframe went out since the last (re)start
        self.payload_type = 0
        self.rtx_payload_type: int | None = None
        self.ssrc, self.rtx_ssrc = sender_ssrcs(transceiver.sender)
        self.cname = ""
        self.mid_element = b""
        self.abs_ext: int | None = None
        self.level_ext: int | None = None
        self._abs_prefix = b""  # the element header byte, precomputed at negotiation
        self._level_prefix = b""
        self.egress: Egress | None = None
        self._send_rtp: SendRtp | None = None  # aiortc's own path, resolved at negotiation
        self._params: Any = None
        self.rewriter = StreamRewriter(
            self.ssrc,
            90000 if kind == "video" else 48000,
            first_sequence=secrets.randbelow(32768),  # below 2^15: avoids an early SRTP wrap
            first_timestamp=secrets.randbits(32),
        )
        self.history = PacketHistory(HISTORY_SIZE)
        self._rtx_sequence = secrets.randbelow(32768)
        self._resend_tokens = float(RESEND_BURST)
        self._resend_mark = 0  # `octets` when the tokens were last topped up
        self._resent: dict[int, float] = {}  # sequence number -> when it was last sent again
        self.packets = 0
        self.octets = 0
        self.remb: int | None = None  # the subscriber's estimate for its connection

    @property
    def mid(self) -> str | None:
        mid: str | None = self.transceiver.mid
        return mid

    def negotiated(self, params: Any) -> None:
        """Record what the subscriber accepted (aiortc calls this once per transceiver)."""
        self.cname = params.rtcp.cname or ""
        ids = extension_ids(params.headerExtensions)
        mid = (params.muxId or "").encode()
        mid_id = ids.get(URI_MID)
        self.mid_element = bytes([(mid_id << 4) | (len(mid) - 1)]) + mid if mid_id and mid else b""
        self.abs_ext = ids.get(URI_ABS_SEND_TIME)
        self.level_ext = ids.get(URI_AUDIO_LEVEL)
        self._abs_prefix = bytes([(self.abs_ext << 4) | 2]) if self.abs_ext else b""
        self._level_prefix = bytes([self.level_ext << 4]) if self.level_ext else b""
        self._params = params
        transport = self.transceiver.sender.transport
        self.egress = Egress.of(transport)
        self._send_rtp = rtp_sender(transport)
        self.ready = True

    def bind_codec(self, mime: str) -> None:
        """Take the subscriber's payload types for `mime` (lower case); without them (it did
        not accept that codec) the stream stays silent."""
        codecs = self._params.codecs
        codec = next((c for c in codecs if c.mimeType.lower() == mime), None)
        if codec is None:
            log.warning("subscriber did not accept %s; leg stays silent", mime)
            self.ready = False
            return
        self.payload_type = codec.payloadType
        self.rtx_payload_type = next(
            (
                c.payloadType
                for c in codecs
                if c.mimeType.lower().endswith("/rtx")
                and str(c.parameters.get("apt")) == str(codec.payloadType)
            ),
            None,
        )

    def build(
        self,
        marker: int,
        sequence_number: int,
        timestamp: int,
        level_value: bytes | None,
        payload: bytes,
        abs_time: bytes,
    ) -> bytes:
        """The outgoing packet: our header and extension ids, the publisher's payload."""
        elements = self._abs_prefix + abs_time if self._abs_prefix else b""
        if level_value is not None and self._level_prefix:
            elements += self._level_prefix + level_value
        elements += self.mid_element
        if not elements:
            return _HEADER.pack(0x80, marker | self.payload_type, sequence_number, timestamp,
                                self.ssrc) + payload  # fmt: skip
        padding = -len(elements) % 4
        return b"".join((
            _HEADER.pack(0x90, marker | self.payload_type, sequence_number, timestamp, self.ssrc),
            b"\xbe\xde",
            ((len(elements) + padding) >> 2).to_bytes(2, "big"),
            elements,
            b"\x00" * padding,
            payload,
        ))  # fmt: skip

    def send_now(self, packet: bytes) -> bool:
        """Send synchronously on the fast path; False when aiortc's own path must be used."""
        egress = self.egress
        return egress is not None and egress.send(packet)

    async def send(self, packet: bytes) -> None:
        """Send on aiortc's own path (nothing before negotiation: DTLS is not up yet)."""
        # ConnectionError: the subscriber is going away; its connection's handler cleans up.
        if self._send_rtp is not None:
            with contextlib.suppress(ConnectionError):
                await self._send_rtp(packet)

    def may_resend(self, sequence_number: int, size: int, now: float) -> bool:
        """Whether a retransmission of `size` bytes fits this leg's budget (see RESEND_SHARE);
        if so it is taken from the budget."""
        self._resend_tokens = min(
            RESEND_BURST, self._resend_tokens + (self.octets - self._resend_mark) * RESEND_SHARE
        )
        self._resend_mark = self.octets
        if size > self._resend_tokens or now - self._resent.get(sequence_number, -1.0) < RESEND_GAP:
            return False
        if len(self._resent) >= HISTORY_SIZE:
            self._resent.clear()
        self._resent[sequence_number] = now
        self._resend_tokens -= size
        return True

    async def retransmit(self, sequence_number: int) -> bool:
        """Answer a NACK from history, as RTX when negotiated (RFC 4588), within the leg's
        retransmission budget."""
        packet = self.history.get(sequence_number)
        if packet is None or not self.may_resend(sequence_number, len(packet), time.monotonic()):
            return False
        if self.rtx_payload_type is not None:
            header_length = 12 + 4 * (packet[0] & 0x0F)
            if packet[0] & 0x10:
                header_length += 4 + 4 * int.from_bytes(
                    packet[header_length + 2 : header_length + 4]
                )
            header = bytearray(packet[:header_length])
            header[1] = (packet[1] & 0x80) | self.rtx_payload_type
            header[2:4] = self._rtx_sequence.to_bytes(2, "big")
            header[8:12] = self.rtx_ssrc.to_bytes(4, "big")
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
            packet = bytes(header) + packet[2:4] + packet[header_length:]
        packet = bytes(packet)
        if not self.send_now(packet):
            await self.send(packet)
        return True

    def sender_report(self, report: RtcpSr) -> bytes | None:
        """The publisher's SR in our timestamp space, so the subscriber keeps lip sync."""
        if not self.started:
            return None
        timestamp = self.rewriter.translate_timestamp(report.rtp_timestamp, report.ssrc)
        if timestamp is None:
            return None
        data = bytes(
            RtcpSr(
                ssrc=self.ssrc,
                ntp_timestamp=report.ntp_timestamp,
                rtp_timestamp=timestamp,
                packet_count=self.packets & 0xFFFFFFFF,
                octet_count=self.octets & 0xFFFFFFFF,
                reports=[],
            )
        )
        if self.cname:
            data += bytes(
                RtcpSdes(chunks=[SdesChunk(ssrc=self.ssrc, items=[(1, self.cname.encode())])])
            )
        return data
