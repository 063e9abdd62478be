"""The SFU's packet entry points: what the transport hooks call for each RTP or RTCP packet.

Module-level functions over a `MediaParticipant` and the counters, so the exact code the
hooks run is testable without a peer connection; `bind_handlers` gives a participant its own
(the room installs them on its connections).
"""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial
from typing import Any

from aiortc import RTCPeerConnection

from hub.sfu.counters import SfuCounters
from hub.sfu.downlink import sending, share_downlink
from hub.sfu.forwarder import InboundStream
from hub.sfu.internals import rtp_sender
from hub.sfu.participant import MediaParticipant
from hub.sfu.rtcp import RtcpFir, RtcpNack, RtcpPli, RtcpRemb, RtcpSr, check_rtcp, parse_compound
from hub.sfu.rtp import rtp_layout
from hub.sfu.simulcast import read_mid, read_rid

log = logging.getLogger(__name__)


def bind_handlers(member: MediaParticipant) -> None:
    """Give `member` the entry points below bound to it (once, when the room makes it): the
    hooks compare them by identity to install each one only once."""
    counters = member.counters
    on_packet = member.on_publish_packet = partial(receive_publisher_rtp, member, counters)
    clock = time.monotonic

    async def on_rtp(data: bytes, arrival_time_ms: int) -> None:  # aiortc's slow path
        on_packet(data, clock())

    member.on_publish_rtp = on_rtp
    member.on_publish_rtcp = partial(receive_publisher_rtcp, member, counters)
    member.on_subscribe_rtp = partial(receive_subscriber_rtp, counters)
    member.on_subscribe_rtcp = partial(receive_subscriber_rtcp, member, counters)


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
        stream = learn_ssrc(member, counters, data, ssrc, now)
        if stream is None:
            return
    layer = stream.layer_of(ssrc)
    if layer is None:
        counters.drop("unknown_ssrc")
        return
    rtx = ssrc == layer.rtx_ssrc
    if rtx:
        if header_length + 2 > len(data) - padding:
            counters.drop("padding_only")
            return
    elif data[1] & 0x7F != stream.payload_type:
        # Another codec than the one negotiated (the hub answers VP8 and Opus only): never
        # forwarded nor recorded, so no subscriber's decoder and no recorded file gets it.
        counters.drop("unexpected_payload_type")
        if stream.note_refusal("unexpected_payload_type"):
            log.warning(
                "%s %s packet dropped: payload type %d, not the negotiated %d (%s); further "
                "ones are only counted", stream.kind, stream.mid, data[1] & 0x7F,
                stream.payload_type, stream.mime, extra={"participant_id": stream.participant_id},
            )  # fmt: skip
        return
    stream.forward(data, header_length, padding, layer, rtx, now)


def learn_ssrc(
    member: MediaParticipant, counters: SfuCounters, data: bytes, ssrc: int, now: float
) -> InboundStream | None:
    """Bind a new SSRC to the simulcast layer its MID and RID (or repaired RID) extensions
    name (docs/simulcast.md); None, counted and logged once per stream and reason, if not."""
    simulcast = [s for s in member.streams.values() if s.simulcast and s.rid_ext is not None]
    if not simulcast:
        counters.drop("unknown_ssrc")
        return None
    stream = simulcast[0]
    try:
        mid_ext = stream.mid_ext
        mid = read_mid(data, mid_ext) if mid_ext is not None else None
        if mid is not None:
            found = member.streams.get(mid)
            if found is None or not found.simulcast or found.rid_ext is None:
                counters.drop("unknown_ssrc")
                return None
            stream = found
        elif len(simulcast) > 1:
            counters.drop("unknown_ssrc")
            return None
        assert stream.rid_ext is not None
        rid = read_rid(data, stream.rid_ext)
        rtx = False
        if rid is None and stream.repaired_ext is not None:
            rid = read_rid(data, stream.repaired_ext)
            rtx = rid is not None
    except ValueError as exc:
        return _refuse(member, counters, stream, "rid_malformed", str(exc))
    if rid is None:
        return _refuse(member, counters, stream, "rid_missing", f"SSRC {ssrc} carries no RID")
    layer = stream.layer(rid)
    if layer is None:
        why = f"RID {rid!r} (SSRC {ssrc}) is not in the offer's {stream.rids()}"
        return _refuse(member, counters, stream, "rid_not_negotiated", why)
    bound = layer.rtx_ssrc if rtx else layer.ssrc
    # A layer already bound takes a new SSRC only once its own went silent: a publisher's
    # new connection (its SSRCs change, and it writes the RID again), never two at once.
    if bound is not None and not layer.silent(now):
        return _refuse(member, counters, stream, "rid_ssrc_conflict",
                       f"RID {rid!r} already has SSRC {bound}, not {ssrc}")  # fmt: skip
    if member.ssrc_in_use(ssrc):
        return _refuse(member, counters, stream, "ssrc_collision",
                       f"SSRC {ssrc} of RID {rid!r} is another participant's")  # fmt: skip
    for released in stream.bind(layer, ssrc, rtx=rtx):
        member.by_ssrc.pop(released, None)
    member.by_ssrc[ssrc] = stream
    what = "RTX SSRC" if rtx else "SSRC"
    log.info("simulcast layer %s of mid %s: %s %d%s", rid, stream.mid, what, ssrc,
             f" (was {bound})" if bound is not None else "",
             extra={"participant_id": member.participant_id})  # fmt: skip
    return stream


def _refuse(
    member: MediaParticipant, counters: SfuCounters, stream: InboundStream, reason: str, why: str
) -> InboundStream | None:
    """Count (and the first time, log) a packet whose SSRC cannot be bound: always None."""
    counters.drop(reason)
    if stream.note_refusal(reason):
        log.warning("simulcast packet dropped: %s (%s); further ones are only counted", reason,
                    why, extra={"participant_id": member.participant_id})  # fmt: skip
    return None


async def receive_subscriber_rtp(counters: SfuCounters, data: bytes, arrival_time_ms: int) -> None:
    """RTP on a subscribe connection, through aiortc's own path: nothing to forward."""
    counters.drop("rtp_on_subscribe_connection")


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
            layer = stream.on_sender_report(packet)
            for leg in stream.legs:
                if leg.layer is not layer:
                    continue  # a leg describes only the layer it forwards
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
                # A leg sending nothing (its viewer does not show the person, or lacks the
                # bandwidth) needs no picture: the request would only cost the others.
                if leg is not None and leg.source is not None and not leg.hidden:
                    # The layer this leg waits for, or forwards: not another viewer's.
                    await leg.source.request_keyframe(
                        interval=member.pli_interval, layer=leg.target or leg.layer
                    )
        elif isinstance(packet, RtcpNack):
            leg = member.legs_by_ssrc.get(packet.media_ssrc)
            if leg is None:
                continue
            for sequence_number in packet.sequence_numbers():
                if await leg.retransmit(sequence_number):
                    counters.nacks_answered += 1
        elif isinstance(packet, RtcpRemb):
            # The viewer's estimate for its whole connection (all the SSRCs it lists).
            for ssrc in packet.ssrcs:
                leg = member.legs_by_ssrc.get(ssrc)
                if leg is not None:
                    leg.remb = packet.bitrate
            now = time.monotonic()
            if member.link:
                continue
            if member.downlink.on_estimate(packet.bitrate, now, partial(sending, member)):
                share_downlink(member, now)


async def send_rtcp_on(pc: RTCPeerConnection, data: bytes) -> None:
    """Send RTCP on a connection's (bundled) transport; silently if it is closing."""
    for transceiver in pc.getTransceivers():
        transport = transceiver.sender.transport
        if transport is not None:
            with contextlib.suppress(ConnectionError):
                await rtp_sender(transport)(data)
            return
