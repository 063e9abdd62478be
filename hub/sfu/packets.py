"""The SFU's packet entry points: what the transport hooks call for each RTP or RTCP packet.

Module-level functions over a `MediaParticipant` and the counters, so the exact code the
hooks run (hub/sfu/room.py installs them) is testable without a peer connection.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from aiortc import RTCPeerConnection

from hub.sfu.forwarder import SfuCounters
from hub.sfu.rtcp import RtcpFir, RtcpNack, RtcpPli, RtcpRemb, RtcpSr, check_rtcp, parse_compound
from hub.sfu.rtp import rtp_layout

if TYPE_CHECKING:
    from hub.sfu.room import MediaParticipant


def receive_publisher_rtp(
    member: MediaParticipant, counters: SfuCounters, data: bytes, now: float
) -> None:
    """A decrypted RTP packet from a publisher: checked, matched to its stream, forwarded."""
    counters.packets_in += 1
    try:
        header_length, padding = rtp_layout(data)
    except ValueError:
        counters.drop("malformed_rtp")
        return
    ssrc = int.from_bytes(data[8:12], "big")
    stream = member.by_ssrc.get(ssrc)
    if stream is None:
        counters.drop("unknown_ssrc")
        return
    rtx = ssrc == stream.rtx_ssrc
    if rtx:
        if header_length + 2 > len(data) - padding:
            counters.drop("padding_only")
            return
    elif data[1] & 0x7F != stream.payload_type:
        counters.drop("unexpected_payload_type")
        return
    stream.forward(data, header_length, padding, rtx, now)


def parse_rtcp(counters: SfuCounters, data: bytes) -> list[Any]:
    try:
        check_rtcp(data)
        return parse_compound(data)
    except ValueError:
        counters.drop("malformed_rtcp")
        return []


async def receive_publisher_rtcp(
    member: MediaParticipant, counters: SfuCounters, data: bytes
) -> None:
    """RTCP from a publisher: its sender reports, translated for each subscriber (lip sync)."""
    for packet in parse_rtcp(counters, data):
        if isinstance(packet, RtcpSr):
            stream = member.by_ssrc.get(packet.ssrc)
            if stream is None:
                continue
            stream.on_sender_report(packet)
            for leg in stream.legs:
                report = leg.sender_report(packet)
                if report is not None:
                    await leg.send(report)


async def receive_subscriber_rtcp(
    member: MediaParticipant, counters: SfuCounters, data: bytes
) -> None:
    """RTCP from a subscriber: keyframe requests go upstream, NACKs are answered here."""
    for packet in parse_rtcp(counters, data):
        if isinstance(packet, RtcpPli | RtcpFir):
            targets = (
                [packet.media_ssrc]
                if isinstance(packet, RtcpPli)
                else [ssrc for ssrc, _ in packet.entries]
            )
            for ssrc in targets:
                leg = member.legs_by_ssrc.get(ssrc)
                if leg is not None and leg.source is not None:
                    await leg.source.request_keyframe(interval=member.pli_interval)
        elif isinstance(packet, RtcpNack):
            leg = member.legs_by_ssrc.get(packet.media_ssrc)
            if leg is None:
                continue
            for sequence_number in packet.sequence_numbers():
                if await leg.retransmit(sequence_number):
                    counters.nacks_answered += 1
        elif isinstance(packet, RtcpRemb):
            for ssrc in packet.ssrcs:
                leg = member.legs_by_ssrc.get(ssrc)
                if leg is not None:
                    leg.remb = packet.bitrate


async def send_rtcp_on(pc: RTCPeerConnection, data: bytes) -> None:
    """Send RTCP on a connection's (bundled) transport; silently if it is closing."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is not None:
            with contextlib.suppress(ConnectionError):
                await transport._send_rtp(data)
            return
