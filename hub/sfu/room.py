"""One meeting's media: each participant's publish and subscribe connections and the legs
between them.

Publish connection: the browser offers, the room answers; each received m-line becomes an
`InboundStream`. Subscribe connection: the room offers one sendonly transceiver ("leg") per
stream of the others and the browser answers. A leg whose stream goes away turns inactive and
is reused for the next stream of its kind, because aiortc 1.16 cannot remove m-lines
(docs/sfu-aiortc-hooks.md). aiortc cannot restart ICE either: a publish offer with new ICE
credentials gets a fresh connection whose streams take over the old ones' legs seamlessly,
and a subscriber that lost its connection gets a fresh one (`restart_subscriber`).

What it keeps per person is a `MediaParticipant` (hub/sfu/participant.py); a viewer's
subscribe connection, its legs and its offers are hub/sfu/subscribe.py's; the connections
themselves are made and negotiated through hub/sfu/peer.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiortc import RTCPeerConnection

from hub.ids import MeetingId, ParticipantId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.counters import SfuCounters
from hub.sfu.downlink import share_downlink
from hub.sfu.forwarder import LINK_PREFIX, InboundStream, carries
from hub.sfu.internals import replace_receive, sender_ssrcs
from hub.sfu.liveness import PeerState
from hub.sfu.media import Kind, Source
from hub.sfu.packets import bind_handlers, send_rtcp_on
from hub.sfu.participant import (
    EncodingsChanged,
    MediaParticipant,
    PeerStateChanged,
    ReceptionChanged,
    SendOffer,
    View,
    Which,
)
from hub.sfu.peer import (
    Hooks,
    RoomSettings,
    accept_offer,
    add_remote_candidate,
    close_quietly,
    hook_transports,
    make_answer,
    new_connection,
)
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.relief import Relief
from hub.sfu.sdp import MAX_MEDIA_SECTIONS, MAX_RELAYED_SECTIONS, SdpError, check_description
from hub.sfu.simulcast import add_simulcast_to_answer, parse_simulcast_offer
from hub.sfu.snapshot import snapshot
from hub.sfu.speaker import SpeakerDetector
from hub.sfu.subscribe import Negotiation, add_leg, apply_answer, negotiate, new_subscribe_pc
from hub.sfu.taps import tap_stream

log = logging.getLogger(__name__)

SpeakerChanged = Callable[[ParticipantId | None], Awaitable[None]]


def _default_source(kind: Kind) -> Source:
    return "microphone" if kind == "audio" else "camera"


def _forward(streams: list[InboundStream], *, audio: bool, video: bool) -> None:
    """Stop or resume forwarding these streams by kind; a resumed one restarts on a keyframe."""
    for stream in streams:
        wanted = audio if stream.kind == "audio" else video
        if wanted and not stream.forwarding:
            for leg in stream.legs:
                leg.started = False  # restart on a keyframe: the picture is fresh at once
            for layer in {leg.target or stream.target for leg in stream.legs} or {stream.target}:
                stream.spawn(stream.request_keyframe(force=True, layer=layer))
        stream.forwarding = wanted


class SfuRoom:
    """All media of one meeting; created on the first join, closed when the last one leaves."""

    def __init__(
        self,
        meeting_id: MeetingId,
        settings: RoomSettings,
        counters: SfuCounters,
        on_speaker: SpeakerChanged | None = None,
        *,
        relief: Relief | None = None,
    ) -> None:
        self.meeting_id = meeting_id
        self.settings = settings
        self.counters = counters
        self.relief = (
            relief if relief is not None else Relief()
        )  # the process's, read by every viewer's downlink
        self.participants: dict[ParticipantId, MediaParticipant] = {}
        self.speaker: SpeakerDetector[ParticipantId] = SpeakerDetector()
        self.on_speaker = on_speaker
        self.audio_tap: AudioTap | None = None  # while subtitles are on (hub/sfu/audio_tap.py)
        self.recording_tap: RecordingTap | None = None  # while recorded (recording_tap.py)
        self._closed = False
        self._negotiation = Negotiation(
            settings, counters, self._peer_state, lambda: self._closed, self.restart_subscriber
        )

    # -- participants ---------------------------------------------------------------------

    def _participant(self, participant_id: ParticipantId) -> MediaParticipant:
        member = self.participants.get(participant_id)
        if member is None:
            member = MediaParticipant(participant_id, self.counters, self.relief)
            member.ssrc_in_use = partial(self._ssrc_in_use, participant_id)
            bind_handlers(member)
            self.participants[participant_id] = member
        return member

    def _ssrc_in_use(self, participant_id: ParticipantId, ssrc: int) -> bool:
        return any(
            ssrc in member.by_ssrc
            for member in self.participants.values()
            if member.participant_id != participant_id
        )

    def set_forwarding(self, participant_id: ParticipantId, *, audio: bool, video: bool) -> None:
        """Mute or unmute at the SFU: a muted stream's packets stop here, at once."""
        member = self._participant(participant_id)
        member.audio, member.video = audio, video
        _forward(list(member.streams.values()), audio=audio, video=video)

    def set_taps(self, audio: AudioTap | None, recording: RecordingTap | None) -> None:
        """Copy (or stop copying) our own people's packets: voiced, unmuted microphone ones
        into `audio` (subtitles), every track's into `recording` (hub/sfu/taps.py)."""
        self.audio_tap, self.recording_tap = audio, recording
        for member in self.participants.values():
            for stream in member.streams.values():
                tap_stream(stream, audio, recording)

    def set_view(
        self,
        participant_id: ParticipantId,
        tiles: dict[ParticipantId, tuple[int, int]],
        *,
        visible: bool,
        known: frozenset[ParticipantId],
    ) -> None:
        """What a viewer displays: each of its video legs takes the layer that fits the tile
        of the person it carries, and sends nothing for a person not shown or while the page
        is hidden (audio is not touched). `known`: who was in the meeting when the page said
        it; someone who came later is sent as before until the page's next view."""
        member = self._participant(participant_id)
        member.view = View(dict(tiles), visible, known)
        now = time.monotonic()
        for leg in member.legs:
            member.apply_view(leg, now)
        share_downlink(member, now)
        for stream in {leg.source for leg in member.legs if leg.source is not None}:
            self._review_encodings(stream, now)

    def set_owner_forwarding(self, owner: ParticipantId, *, audio: bool, video: bool) -> None:
        """The same for someone whose streams a cascade link brings (their own hub holds
        their connections): what this SFU forwards of them stops or resumes here."""
        streams = [
            stream
            for member in self.participants.values()
            if member.participant_id != owner
            for stream in member.streams.values()
            if stream.participant_id == owner
        ]
        _forward(streams, audio=audio, video=video)

    async def remove_participant(self, participant_id: ParticipantId) -> None:
        member = self.participants.pop(participant_id, None)
        if member is None:
            return
        self.speaker.forget(participant_id)
        for owner in member.owners.values():
            self.speaker.forget(owner)
        if member.negotiation is not None:
            member.negotiation.cancel()
        for stream in list(member.streams.values()):
            self._unpublish(stream)
        for leg in member.legs:
            leg.detach()
        for pc in (member.publish_pc, member.subscribe_pc):
            await close_quietly(pc)

    def watch(
        self,
        participant_id: ParticipantId,
        on_state: PeerStateChanged,
        on_reception: ReceptionChanged | None = None,
        on_encodings: EncodingsChanged | None = None,
    ) -> None:
        """Call `on_state` when the peer of one of the participant's connections turns
        suspect, fails (consent expired, DTLS ended) or is connected again, and
        `on_reception` when the quality it receives of a shown video changes (a layer, or
        paused for lack of bandwidth), `on_encodings` when its page should encode other
        simulcast layers (nobody watches one, or somebody does again)."""
        member = self._participant(participant_id)
        member.on_peer_state = on_state
        member.on_reception = on_reception
        member.on_encodings = on_encodings

    def _review_encodings(self, stream: InboundStream, now: float) -> None:
        publisher = self.participants.get(stream.publisher)
        if publisher is None or publisher.on_encodings is None:
            return  # nobody to ask (a cascade link): what it encodes is not ours to say
        before = stream.encoded
        rids = stream.review_encodings(now)
        if rids is not None:
            if rids != before:  # not a request repeated for a layer that does not come
                log.info("mid %s: encode %s", stream.mid, ",".join(rids) or "nothing",
                         extra={"participant_id": publisher.participant_id})  # fmt: skip
            publisher.on_encodings(stream.mid, rids)

    def _peer_state(
        self, member: MediaParticipant, which: Which, pc: RTCPeerConnection, state: PeerState
    ) -> None:
        current = member.publish_pc if which == "publish" else member.subscribe_pc
        if pc is not current or self.participants.get(member.participant_id) is not member:
            return  # a connection already replaced or a participant already gone
        log.info("%s connection %s", which, state, extra={
            "participant_id": member.participant_id})  # fmt: skip
        if member.on_peer_state is not None:
            member.on_peer_state(which, state)

    async def close(self) -> None:
        self._closed = True
        for participant_id in list(self.participants):
            await self.remove_participant(participant_id)

    # -- publishing -----------------------------------------------------------------------

    async def publish(
        self,
        participant_id: ParticipantId,
        sdp: str,
        sources: dict[str, Source],
        owners: dict[str, ParticipantId] | None = None,
    ) -> str:
        """Answer a publish offer; its streams reach the others as soon as media flows.

        `owners` names, by mid, the person each stream belongs to when that is not
        `participant_id` itself (a cascade link publishes the other instance's people).
        """
        limit = MAX_MEDIA_SECTIONS if owners is None else MAX_RELAYED_SECTIONS
        summary = check_description(sdp, "offer", limit)
        simulcast = parse_simulcast_offer(sdp)
        unknown = (set(sources) | set(owners or ())) - set(summary.mids)
        if unknown:
            raise SdpError(f"tracks name mids that are not in the offer: {sorted(unknown)}")
        member = self._participant(participant_id)
        member.sources.update(sources)
        member.simulcast = simulcast
        for offer in simulcast.values():
            if offer.clamped:
                log.warning("simulcast: only the first %d layers are received; %s left out",
                            len(offer.rids), offer.clamped, extra={
                                "participant_id": participant_id})  # fmt: skip
        if owners is not None:
            member.owners = dict(owners)
        ufrag = summary.ice_ufrag
        if member.publish_pc is not None and ufrag != member.publish_ufrag:
            # aiortc ignores new ICE credentials: a restart gets a fresh connection.
            await self._replace_publish_pc(member)
        if member.publish_pc is None:
            member.publish_pc = new_connection(self.settings)
        pc = member.publish_pc
        transceivers = await accept_offer(pc, sdp)
        member.publish_ufrag = ufrag
        for transceiver in transceivers:
            self._hook_receiver(member, pc, transceiver)
        hooks = Hooks(
            on_state=partial(self._peer_state, member, "publish", pc),
            on_rtp=member.on_publish_rtp,
            on_rtcp=member.on_publish_rtcp,
            sink=member.on_publish_packet,
        )
        answer = await make_answer(pc, self.settings.for_peer(participant_id), self.counters, hooks)
        self._refresh_publications(member, pc)
        return add_simulcast_to_answer(answer, simulcast)

    async def _replace_publish_pc(self, member: MediaParticipant) -> None:
        old = member.publish_pc
        member.publish_pc = None
        member.by_ssrc.clear()
        # Streams stay active with their legs and are re-bound when the new connection's
        # receivers report their parameters: subscribers notice nothing but a keyframe.
        await close_quietly(old)

    def _hook_receiver(
        self, member: MediaParticipant, pc: RTCPeerConnection, transceiver: Any
    ) -> None:
        room = self

        async def receive(params: Any) -> None:  # replaces RTCRtpReceiver.receive
            mid = transceiver.mid
            current = member.streams.get(mid)
            if current is not None and member.stream_pcs.get(mid) is pc:
                return  # already bound to this connection
            stream = InboundStream(
                participant_id=member.owners.get(mid, member.participant_id),
                publisher=member.participant_id,
                mid=mid,
                kind=transceiver.kind,
                source=member.sources.get(mid, _default_source(transceiver.kind)),
                params=params,
                simulcast=member.simulcast.get(mid) if transceiver.kind == "video" else None,
                rtcp_ssrc=sender_ssrcs(transceiver.sender)[0],
                send_rtcp=lambda data: send_rtcp_on(pc, data),
                counters=room.counters,
            )
            stream.forwarding = member.allows(stream)
            if stream.kind == "audio":
                stream.on_audio_level = room._observe_level
            tap_stream(stream, room.audio_tap, room.recording_tap)
            if current is not None and current.simulcast and stream.simulcast:
                stream.adopt_bindings(current)  # an ICE restart keeps the browser's SSRCs
            for layer in stream.layers:  # simulcast layers bind theirs from their packets
                for ssrc in (layer.ssrc, layer.rtx_ssrc):
                    if ssrc is not None:
                        member.by_ssrc[ssrc] = stream
            member.streams[mid] = stream
            member.stream_pcs[mid] = pc
            hook_transports(pc, member.on_publish_rtp, member.on_publish_rtcp)
            if current is not None and current.active:
                for leg in list(current.legs):  # a restarted publisher: same legs, new source
                    leg.attach(stream)
                    viewer = room.participants.get(leg.participant_id)
                    if viewer is not None:
                        viewer.apply_view(leg, time.monotonic())
                await stream.request_keyframe(force=True)
            else:
                room._announce(stream)

        replace_receive(transceiver.receiver, receive)

    def _refresh_publications(self, member: MediaParticipant, pc: RTCPeerConnection) -> None:
        """After a renegotiation: streams the browser stopped sending leave, resumed ones
        return, and a cascade stream that now carries someone else is announced afresh."""
        for transceiver in pc.getTransceivers():
            mid = transceiver.mid
            if mid is None or mid not in member.streams:
                continue
            stream = member.streams[mid]
            stream.source = member.sources.get(mid, stream.source)
            owner = member.owners.get(mid, member.participant_id)
            sending = transceiver.currentDirection in ("recvonly", "sendrecv")
            if stream.active and (not sending or owner != stream.participant_id):
                self._unpublish(stream)
            stream.participant_id = owner
            if sending and not stream.active:
                stream.active = True
                self._announce(stream)

    def _announce(self, stream: InboundStream) -> None:
        """Give every other participant a leg for a new stream, and renegotiate them."""
        stream.active = True
        if stream.participant_id.startswith(LINK_PREFIX):
            return  # an m-line of a cascade link that names nobody: nobody's to show
        for member in self.participants.values():
            pc = member.subscribe_pc
            if pc is not None and carries(member.participant_id, stream.publisher):
                add_leg(member, stream)
                self._request_negotiation(member)

    def _unpublish(self, stream: InboundStream) -> None:
        stream.active = False
        for leg in list(stream.legs):
            leg.detach()
            leg.transceiver.direction = "inactive"
            member = self.participants.get(leg.participant_id)
            if member is not None:
                self._request_negotiation(member)

    # -- subscribing ----------------------------------------------------------------------

    async def add_subscriber(
        self, participant_id: ParticipantId, send_offer: SendOffer, *, restart: bool = False
    ) -> None:
        """Create the participant's subscribe connection with legs for every live stream;
        `restart`: its page had one on another SFU worker (its first offer says so)."""
        member = self._participant(participant_id)
        member.send_offer = send_offer
        new_subscribe_pc(member, self.settings)
        member.restart_next_offer = restart
        for other in self.participants.values():
            if not carries(participant_id, other.participant_id):
                continue
            for stream in other.streams.values():
                if stream.active:
                    add_leg(member, stream)
        self._request_negotiation(member)

    async def restart_subscriber(self, participant_id: ParticipantId) -> None:
        """A fresh subscribe connection after the browser lost the old one (network drop)."""
        member = self.participants.get(participant_id)
        if member is None or member.send_offer is None:
            return
        old_pc, old_legs = member.subscribe_pc, member.legs
        if member.negotiation is not None:
            member.negotiation.cancel()
            member.negotiation = None
        sources = [leg.source for leg in old_legs if leg.source is not None]
        for leg in old_legs:
            leg.detach()
        new_subscribe_pc(member, self.settings)
        for stream in sources:
            add_leg(member, stream)
        member.restart_next_offer = True
        self._request_negotiation(member)
        await close_quietly(old_pc)

    def _request_negotiation(self, member: MediaParticipant) -> None:
        member.needs_offer = True
        if member.negotiation is None or member.negotiation.done():
            member.negotiation = asyncio.get_running_loop().create_task(
                negotiate(member, self._negotiation)
            )

    async def subscribe_answer(self, participant_id: ParticipantId, sdp: str) -> None:
        """Apply the answer to our pending subscribe offer; SdpError (for its sender) if it
        is not one, and the negotiation then waits for the next change."""
        await apply_answer(self.participants.get(participant_id), sdp)

    async def add_candidate(
        self,
        participant_id: ParticipantId,
        which: str,
        candidate: str,
        sdp_mid: str | None,
        sdp_mline_index: int | None,
    ) -> None:
        member = self.participants.get(participant_id)
        if member is None:
            return
        pc = member.publish_pc if which == "publish" else member.subscribe_pc
        if pc is None or not candidate:
            return  # end-of-candidates, or a connection not made yet: nothing to do
        await add_remote_candidate(pc, candidate, sdp_mid, sdp_mline_index)

    # -- periodic work ----------------------------------------------------------------------

    def _observe_level(self, participant_id: ParticipantId, level: int, voice: bool) -> None:
        self.speaker.observe(participant_id, level, voice, time.monotonic())

    async def tick(self) -> None:
        """About once a second: receiver reports to publishers, each viewer's videos fitted
        into its bandwidth again (rates move, trial steps), active speaker changes."""
        now = time.monotonic()
        members = list(self.participants.values())
        for member in members:
            for stream in member.streams.values():
                for layer in stream.layers:
                    layer.measure(now)
        for member in members:
            share_downlink(member, now)
        for member in members:
            for stream in list(member.streams.values()):
                if stream.active:
                    if stream.simulcast:
                        stream.choose_target(now)  # a layer that stopped is left
                        self._review_encodings(stream, now)
                    await stream.send_receiver_report()
        if self.speaker.tick(time.monotonic()) and self.on_speaker is not None:
            await self.on_speaker(self.speaker.current)

    def snapshot(self) -> dict[str, Any]:
        """Per-participant counts for tests and diagnostics (what the SFU really forwarded)."""
        return snapshot(self.participants.values())
