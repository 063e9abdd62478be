"""One participant of a meeting's media, as the room keeps it: its two connections, the
streams it publishes, its legs, what its page shows and is told, and the callbacks it gives.

Plain state: the room (hub/sfu/room.py) changes it; the packet entry points
(hub/sfu/packets.py) and the downlink sharing (hub/sfu/downlink.py) read it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCPeerConnection

from hub.ids import ParticipantId
from hub.sfu.allocation import Downlink
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import (
    LINK_PLI_INTERVAL,
    LINK_PREFIX,
    VIEWER_PLI_INTERVAL,
    InboundStream,
    Leg,
)
from hub.sfu.guard import RtpSink
from hub.sfu.internals import RtcpHook, RtpHook
from hub.sfu.liveness import PeerState
from hub.sfu.media import Kind, Source
from hub.sfu.relief import Relief
from hub.sfu.simulcast import SimulcastOffer


@dataclass(frozen=True)
class StreamSource:
    """What one subscriber transceiver carries: announced to the browser with each offer."""

    mid: str
    participant_id: ParticipantId
    source: Source
    kind: Kind


SendOffer = Callable[[str, list[StreamSource], bool], Awaitable[None]]
Which = Literal["publish", "subscribe"]
PeerStateChanged = Callable[[Which, PeerState], None]
# A publisher's page is asked to encode only these RIDs of the track with this mid.
EncodingsChanged = Callable[[str, list[str]], None]
Quality = Literal["paused", "low", "medium", "high"]
# What one viewer receives of each shown video: (whose, which source) -> quality.
Reception = dict[tuple[ParticipantId, Source], Quality]
ReceptionChanged = Callable[[Reception], None]


@dataclass(frozen=True)
class View:
    """A page's last `view`: tiles by person (device pixels), visibility, and who was in the
    meeting then (a person the page could not have listed yet is not hidden)."""

    tiles: dict[ParticipantId, tuple[int, int]]
    visible: bool
    known: frozenset[ParticipantId]

    def shows(self, person: ParticipantId) -> bool:
        return self.visible and (person in self.tiles or person not in self.known)


@dataclass
class MediaParticipant:
    """One participant's two connections, published streams and subscription legs."""

    participant_id: ParticipantId
    counters: SfuCounters
    # Whether this SFU process sheds video now (one for all its rooms; by default never).
    relief: Relief = field(default_factory=Relief)
    publish_pc: RTCPeerConnection | None = None
    publish_ufrag: str | None = None
    streams: dict[str, InboundStream] = field(default_factory=dict)  # by mid
    stream_pcs: dict[str, RTCPeerConnection] = field(default_factory=dict)  # mid -> its pc
    by_ssrc: dict[int, InboundStream] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)  # mid -> what the browser said
    # mid -> whose stream it is, when not this participant's own: a cascade link carries the
    # streams of many people of the other instance over one connection (hub/federation).
    owners: dict[str, ParticipantId] = field(default_factory=dict)
    # mid -> the simulcast the last publish offer had for it (docs/simulcast.md).
    simulcast: dict[str, SimulcastOffer] = field(default_factory=dict)
    # Whether an SSRC is already another participant's in this meeting (set by the room).
    ssrc_in_use: Callable[[int], bool] = lambda ssrc: False
    audio: bool = True
    video: bool = True
    # What this participant's page displays (`SfuRoom.set_view`). None until the page says:
    # everything, highest layer.
    view: View | None = None
    subscribe_pc: RTCPeerConnection | None = None
    send_offer: SendOffer | None = None
    legs: list[Leg] = field(default_factory=list)
    legs_by_ssrc: dict[int, Leg] = field(default_factory=dict)
    needs_offer: bool = False
    restart_next_offer: bool = False
    negotiation: asyncio.Task[None] | None = None
    pending_answer: asyncio.Future[bool] | None = None
    # Told when one of the two connections' peer turns suspect, fails or is back.
    on_peer_state: PeerStateChanged | None = None
    # Its downlink as its browser estimates it, shared among the videos it shows, and what
    # it was last told it receives of each (hub/sfu/downlink.py).
    downlink: Downlink = field(default_factory=Downlink)
    reception: Reception = field(default_factory=dict)
    on_reception: ReceptionChanged | None = None
    on_encodings: EncodingsChanged | None = None
    # Packet handlers bound to this participant (hub/sfu/packets.py: `bind_handlers`, when
    # the room makes it), installed on its connections' transports. Made once: the hooks
    # compare them by identity to install each one only once.
    on_publish_packet: RtpSink = field(init=False, repr=False)
    on_publish_rtp: RtpHook = field(init=False, repr=False)
    on_publish_rtcp: RtcpHook = field(init=False, repr=False)
    on_subscribe_rtp: RtpHook = field(init=False, repr=False)
    on_subscribe_rtcp: RtcpHook = field(init=False, repr=False)
    pli_interval: float = field(init=False)  # between keyframe requests from this subscriber
    # A cascade link: the partner's SFU, whose REMB per stream speaks for its own viewers
    # (it takes what they show); its legs are not fitted into a downlink here.
    link: bool = field(init=False)

    def __post_init__(self) -> None:
        # A partner's SFU (a cascade link) throttles its own keyframe requests per stream:
        # ours only guards against a flood from it.
        link = self.link = self.participant_id.startswith(LINK_PREFIX)
        self.pli_interval = LINK_PLI_INTERVAL if link else VIEWER_PLI_INTERVAL

    def allows(self, stream: InboundStream) -> bool:
        return self.audio if stream.kind == "audio" else self.video

    def apply_view(self, leg: Leg, now: float) -> None:
        """Tell the stream one of its legs carries what this participant's page shows of it."""
        source = leg.source
        view = self.view
        if source is None or leg.kind != "video" or view is None:
            return
        person = source.participant_id
        source.show(leg, view.tiles.get(person), view.shows(person), now)
