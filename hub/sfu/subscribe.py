"""A viewer's subscribe connection: the legs on it (one sendonly transceiver per stream it
receives, reused for the next stream of its kind when one goes) and its offers, one at a time,
each waiting for the page's answer.

The room (hub/sfu/room.py) decides which streams a viewer gets and when to offer again; this
makes and negotiates the connection that carries them (through hub/sfu/peer.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiortc import RTCPeerConnection

from hub.ids import ParticipantId
from hub.sfu.allocation import Downlink
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import InboundStream, Leg
from hub.sfu.internals import replace_send, set_msid
from hub.sfu.liveness import PeerState
from hub.sfu.participant import MediaParticipant, StreamSource, Which
from hub.sfu.peer import (
    Hooks,
    RoomSettings,
    accept_answer,
    add_sending_transceiver,
    hook_transports,
    make_offer,
    new_connection,
)
from hub.sfu.sdp import MAX_RELAYED_SECTIONS, SdpError, check_description

log = logging.getLogger(__name__)

NEGOTIATION_TIMEOUT = 15.0


@dataclass(frozen=True)
class Negotiation:
    """What a subscribe negotiation needs of its room: the connection settings, where a peer's
    state goes, whether the room closed, and how to start a viewer's connection afresh."""

    settings: RoomSettings
    counters: SfuCounters
    peer_state: Callable[[MediaParticipant, Which, RTCPeerConnection, PeerState], None]
    closed: Callable[[], bool]
    restart: Callable[[ParticipantId], Awaitable[None]]


def new_subscribe_pc(member: MediaParticipant, settings: RoomSettings) -> None:
    """A fresh subscribe connection for the viewer, with no legs yet."""
    member.subscribe_pc = new_connection(settings)
    member.legs = []
    member.legs_by_ssrc = {}
    member.downlink = Downlink()  # the browser's new connection has a new estimator


def add_leg(member: MediaParticipant, stream: InboundStream) -> None:
    """Carry `stream` to the viewer: on a leg of its kind that carries nothing, else on a
    new transceiver."""
    pc = member.subscribe_pc
    assert pc is not None
    leg = next((leg for leg in member.legs if leg.source is None and leg.kind == stream.kind), None)
    if leg is None:
        transceiver = add_sending_transceiver(pc, stream.kind)
        leg = Leg(participant_id=member.participant_id, kind=stream.kind, transceiver=transceiver)
        _hook_sender(member, leg)
        member.legs.append(leg)
        member.legs_by_ssrc[leg.ssrc] = leg
    else:
        leg.transceiver.direction = "sendonly"
    # msid: one MediaStream per publisher, so the browser keeps their audio and video in sync
    set_msid(leg.transceiver.sender, stream.participant_id, f"{stream.participant_id}-{stream.mid}")
    leg.attach(stream)
    member.apply_view(leg, time.monotonic())


def _hook_sender(member: MediaParticipant, leg: Leg) -> None:
    pc = member.subscribe_pc

    async def send(params: Any) -> None:  # replaces RTCRtpSender.send
        if leg.ready:
            return
        leg.negotiated(params)
        assert pc is not None
        hook_transports(pc, member.on_subscribe_rtp, member.on_subscribe_rtcp)
        if leg.source is not None:
            await leg.source.request_keyframe(force=True, layer=leg.target)

    replace_send(leg.transceiver.sender, send)


async def negotiate(member: MediaParticipant, room: Negotiation) -> None:
    """Offer, wait for the answer, repeat while changes queued up: one offer at a time."""
    try:
        while member.needs_offer and not room.closed():
            member.needs_offer = False
            pc = member.subscribe_pc
            if pc is None or member.send_offer is None or not pc.getTransceivers():
                return
            hooks = Hooks(
                on_state=partial(room.peer_state, member, "subscribe", pc),
                on_rtp=member.on_subscribe_rtp,
                on_rtcp=member.on_subscribe_rtcp,
            )
            settings = room.settings.for_peer(member.participant_id)
            sdp = await make_offer(pc, settings, room.counters, hooks)
            streams = [
                StreamSource(leg.mid, leg.source.participant_id, leg.source.source, leg.kind)
                for leg in member.legs
                if leg.source is not None and leg.mid is not None
            ]
            # Reused legs forward at once, but the page drops what comes before its answer
            # turns the m-line on again: their first keyframe is lost, ask for another.
            waking = [leg for leg in member.legs if leg.transceiver.currentDirection == "inactive"]
            member.pending_answer = asyncio.get_running_loop().create_future()
            restart, member.restart_next_offer = member.restart_next_offer, False
            await member.send_offer(sdp, streams, restart)
            applied: bool | None = None  # None: no answer in time
            try:
                async with asyncio.timeout(NEGOTIATION_TIMEOUT):
                    applied = await member.pending_answer
            except TimeoutError:
                pass
            finally:
                member.pending_answer = None
            if applied is None:
                # The page missed the offer or is stuck on it: left as is, this
                # connection would hold its offer for good and never carry a later
                # change. A fresh one (as after a network change) starts over.
                log.warning("no subscribe answer in time: restarting the connection",
                            extra={"participant_id": member.participant_id})  # fmt: skip
                member.negotiation = None  # ends here: the restart must not cancel it
                await room.restart(member.participant_id)
                return
            if not applied:
                return  # the answer was refused, and its sender told why
            hook_transports(pc, member.on_subscribe_rtp, member.on_subscribe_rtcp)
            for leg in member.legs:
                if leg.source is not None and (not leg.started or leg in waking):
                    # A woken leg waits for a keyframe as a leg shown again does (asked
                    # for until it comes: one request may be lost on the way).
                    leg.hold = leg.hold or (leg in waking and leg.started)
                    await leg.source.request_keyframe(layer=leg.target, force=leg in waking)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        pc = member.subscribe_pc
        if room.closed() or pc is None or pc.connectionState == "closed":
            # The person left (or the room closed) while an offer was being made: the
            # connection was closed under it, which is no failure of ours.
            log.debug("subscribe negotiation ended by a closing connection: %s", exc)
            return
        log.exception("subscribe negotiation failed", extra={
            "participant_id": member.participant_id})  # fmt: skip


async def apply_answer(member: MediaParticipant | None, sdp: str) -> None:
    """Apply the viewer's answer to its pending offer; SdpError (for its sender) if it is not
    one, and the negotiation then waits for the next change."""
    check_description(sdp, "answer", MAX_RELAYED_SECTIONS)
    waiting = member.pending_answer if member is not None else None
    if member is None or waiting is None or waiting.done() or member.subscribe_pc is None:
        raise SdpError("no subscribe offer is waiting for an answer")
    try:
        await accept_answer(member.subscribe_pc, sdp)
    except SdpError:
        if not waiting.done():
            waiting.set_result(False)
        raise
    if not waiting.done():
        waiting.set_result(True)
