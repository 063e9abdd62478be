"""A participant's WebRTC connections as the room uses them, with aiortc's vocabulary kept
here: made with the operator's ICE settings only, their descriptions set with everything the
SFU hooks installed around them (host candidates, consent, the socket guard, the packet
handlers), and what a peer sends (answers, candidates) turned into `SdpError`s.

The room (hub/sfu/room.py) decides what is published and who receives it; this module only
translates that to and from aiortc.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from hub.errors import first_line
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import is_relay
from hub.sfu.guard import RtpSink, guard_connection
from hub.sfu.ice import enlarge_receive_buffers, gather_on, rtc_configuration
from hub.sfu.internals import RtcpHook, RtpHook, drop_receive_estimators, hook_packets
from hub.sfu.liveness import PeerState, closing, watch_peer
from hub.sfu.media import Kind
from hub.sfu.sdp import SdpError

log = logging.getLogger(__name__)

MEDIA_KINDS: tuple[Kind, ...] = ("audio", "video")


@dataclass
class RoomSettings:
    """What the room needs from the configuration, as plain values."""

    ice_servers: Sequence[Any] = ()
    candidate_addresses: Sequence[str] = ()
    relay_addresses: Sequence[str] = ()  # what other workers reach; empty: the candidates

    def for_peer(self, participant_id: str) -> RoomSettings:
        """The settings of one participant's connections: a relay to another worker (hub/sfu/
        relay.py) is offered the addresses workers reach each other on."""
        if self.relay_addresses and is_relay(participant_id):
            return replace(self, candidate_addresses=self.relay_addresses)
        return self


@dataclass(frozen=True)
class Hooks:
    """What one connection's traffic is handed to: its peer's state, the packets decrypted
    in the socket callback (publish connections only), aiortc's own path for the rest."""

    on_state: Callable[[PeerState], None]
    on_rtp: RtpHook
    on_rtcp: RtcpHook
    sink: RtpSink | None = None


def new_connection(settings: RoomSettings) -> RTCPeerConnection:
    return RTCPeerConnection(rtc_configuration(settings.ice_servers))


def codec_preferences(kind: Kind) -> list[Any]:
    """Opus for audio, VP8 (+RTX) for video: every publisher and subscriber agree, so packets
    are forwarded as they are, never transcoded."""
    wanted = ("audio/opus",) if kind == "audio" else ("video/vp8", "video/rtx")
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    return [codec for codec in capabilities if codec.mimeType.lower() in wanted]


def prefer_codecs(transceiver: Any, kind: Kind) -> None:
    with contextlib.suppress(ValueError):  # aiortc refuses preferences it cannot offer
        transceiver.setCodecPreferences(codec_preferences(kind))


def add_sending_transceiver(pc: RTCPeerConnection, kind: Kind) -> Any:
    """A new sendonly transceiver offering only our codec for `kind`."""
    transceiver = pc.addTransceiver(kind, direction="sendonly")
    drop_receive_estimators([transceiver])
    prefer_codecs(transceiver, kind)
    return transceiver


async def close_quietly(pc: RTCPeerConnection | None) -> None:
    """Close a connection whatever state a broken peer left it in: cleanup must not fail
    (aiortc raises from close() on a connection whose offer it half accepted)."""
    if pc is None:
        return
    closing(pc)
    try:
        await pc.close()
    except Exception as exc:
        log.warning("closing a media connection failed: %s", first_line(exc))


def hook_transports(pc: RTCPeerConnection, on_rtp: RtpHook, on_rtcp: RtcpHook) -> None:
    """Route decrypted packets of every transport of `pc` to our handlers (idempotent)."""
    for transceiver in pc.getTransceivers():
        for transport in (transceiver.receiver.transport, transceiver.sender.transport):
            if transport is not None:
                hook_packets(transport, on_rtp, on_rtcp)


async def accept_offer(pc: RTCPeerConnection, sdp: str) -> list[Any]:
    """Apply a publish offer (already checked by hub/sfu/sdp.py); its media transceivers are
    set to receive only our codecs and returned, to be hooked before the answer is made."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    except Exception as exc:  # checked before; anything left is aiortc refusing a detail
        raise SdpError(f"offer rejected: {first_line(exc)}") from None
    drop_receive_estimators(pc.getTransceivers())
    media = []
    for transceiver in pc.getTransceivers():
        if transceiver.kind not in MEDIA_KINDS:
            continue
        transceiver.direction = "recvonly"
        prefer_codecs(transceiver, transceiver.kind)
        media.append(transceiver)
    return media


async def make_answer(
    pc: RTCPeerConnection, settings: RoomSettings, counters: SfuCounters, hooks: Hooks
) -> str:
    """Our answer to the offer `accept_offer` applied, with every hook in place."""
    hook_transports(pc, hooks.on_rtp, hooks.on_rtcp)
    await _prepare(pc, settings, hooks)
    try:
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:
        raise SdpError(f"cannot answer this offer: {first_line(exc)}") from None
    _guard(pc, counters, hooks)
    sdp: str = pc.localDescription.sdp
    return sdp


async def make_offer(
    pc: RTCPeerConnection, settings: RoomSettings, counters: SfuCounters, hooks: Hooks
) -> str:
    """Our offer for the connection's transceivers, with every hook in place."""
    await _prepare(pc, settings, hooks)
    await pc.setLocalDescription(await pc.createOffer())
    _guard(pc, counters, hooks)
    sdp: str = pc.localDescription.sdp
    return sdp


async def _prepare(pc: RTCPeerConnection, settings: RoomSettings, hooks: Hooks) -> None:
    """Before a local description: host candidates from the configured addresses only, and
    consent checks that a busy loop cannot fail."""
    await gather_on(pc, settings.candidate_addresses)
    watch_peer(pc, hooks.on_state)


def _guard(pc: RTCPeerConnection, counters: SfuCounters, hooks: Hooks) -> None:
    """After a local description, when the sockets exist."""
    enlarge_receive_buffers(pc)
    guard_connection(pc, counters, hooks.sink)
    hook_transports(pc, hooks.on_rtp, hooks.on_rtcp)


async def accept_answer(pc: RTCPeerConnection, sdp: str) -> None:
    """Apply the peer's answer to our offer (already checked by hub/sfu/sdp.py)."""
    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    except Exception as exc:  # checked before; anything left is aiortc refusing a detail
        raise SdpError(f"answer rejected: {first_line(exc)}") from None


async def add_remote_candidate(
    pc: RTCPeerConnection, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
) -> None:
    """A candidate the peer signalled (trickle ICE); one for an offer that is gone is ignored."""
    text = candidate.removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(text)
    except Exception as exc:  # aiortc raises value, index and assertion errors alike
        raise SdpError(f"ICE candidate is malformed: {first_line(exc)}") from None
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    try:
        await pc.addIceCandidate(parsed)
    except ValueError:
        return  # unknown mid: the offer it belonged to is gone
    except Exception as exc:  # aioice asserts on what it cannot use (component, protocol)
        raise SdpError(f"ICE candidate refused: {first_line(exc)}") from None
