"""The packet path: published streams and the legs that forward them.

An `InboundStream` is one track a participant publishes (decrypted by aiortc, never decoded).
A `Leg` is one subscriber's sendonly transceiver (an `OutboundStream`, hub/sfu/outbound.py:
its own SSRC, numbering and history) forwarding one inbound stream at a time; it starts only
on a keyframe so the subscriber can decode at once, and takes the layer its viewer's tile
and bandwidth call for (hub/sfu/layer_choice.py).

The per-packet work is in `InboundStream.forward`; everything else runs per RTCP packet or
per negotiation.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable, Coroutine
from typing import Any

from hub.ids import ParticipantId
from hub.sfu.audio_tap import NO_LEVEL, AudioTap
from hub.sfu.counters import SfuCounters
from hub.sfu.internals import SendRtp
from hub.sfu.layer_choice import allowed, wished
from hub.sfu.media import URI_AUDIO_LEVEL, Kind, Source, extension_ids
from hub.sfu.outbound import OutboundStream
from hub.sfu.reception import Layer
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.rtcp import (
    RtcpNack,
    RtcpPli,
    RtcpRemb,
    RtcpRr,
    RtcpSr,
)
from hub.sfu.rtp import is_h264_keyframe, is_vp8_keyframe, one_byte_extension, vp8_keyframe_size
from hub.sfu.simulcast import SimulcastOffer

log = logging.getLogger(__name__)

# The participant id of a cascade link: the SFU of a partner hub (hub/federation/link.py).
LINK_PREFIX = "link:"
# A link to another part of the same meeting on another SFU worker (hub/sfu/relay.py); `~`
# is in no server name, so no partner's link can pass for one.
RELAY_PREFIX = f"{LINK_PREFIX}~"


def is_relay(participant_id: str) -> bool:
    return participant_id.startswith(RELAY_PREFIX)


def carries(viewer: str, publisher: str) -> bool:
    """Whether a subscriber takes a publisher's streams: never its own, and a worker relay
    never another relay's (so each stream crosses once to each other worker, never twice)."""
    return viewer != publisher and not (is_relay(viewer) and is_relay(publisher))


PLI_INTERVAL = 0.3  # seconds between keyframe requests to one publisher stream
# A viewer's own requests (its decoder lost a picture) pass at most this often per layer: a
# viewer that cannot keep up asks again and again, and every other viewer would pay for the
# keyframes.
VIEWER_PLI_INTERVAL = 1.0
# A partner's SFU throttles per stream itself; ours only guards against a flood from it.
LINK_PLI_INTERVAL = 0.01

DEFAULT_REMB = 1_500_000  # bits/s offered to publishers before any subscriber reports
# A simulcast publisher's uplink is not bounded by its viewers' downlinks (each leg takes the
# layer that fits, docs/simulcast.md): enough for Chromium's three layers at 1280x720.
SIMULCAST_REMB = 2_500_000
# A layer no viewer would take for this long is paused at the publisher (it stops encoding
# it); one a viewer wants is resumed at once.
UNWATCHED_AFTER = 3.0
# A layer the publisher was asked to send that a viewer wants but that does not come: the
# request is sent again after this long (a message lost in a page's reconnection).
ENCODINGS_AGAIN = 2.0

_unpack_header = struct.Struct("!BBHII").unpack_from


def _abs_send_time(now: float) -> bytes:
    # 6.18 fixed-point seconds, 24 bits (webrtc abs-send-time).
    return (int(now * 262144) & 0xFFFFFF).to_bytes(3, "big")


class InboundStream:
    """One published track: what was negotiated, its layers (one, or one per simulcast RID,
    lowest first) with their receive statistics, and its legs."""

    def __init__(
        self,
        *,
        participant_id: ParticipantId,
        mid: str,
        kind: Kind,
        source: Source,
        params: Any,
        publisher: ParticipantId | None = None,
        simulcast: SimulcastOffer | None = None,
        rtcp_ssrc: int,
        send_rtcp: SendRtp,
        counters: SfuCounters,
    ) -> None:
        self.participant_id = participant_id  # whose stream (shown to subscribers)
        # Which connection of the room publishes it: the person, or a cascade link that
        # carries the stream from another instance; nobody is sent back what they publish.
        self.publisher = participant_id if publisher is None else publisher
        self.mid = mid
        self.kind: Kind = kind
        self.source: Source = source
        self.counters = counters
        self._send_rtcp = send_rtcp
        self.rtcp_ssrc = rtcp_ssrc
        codec = next(c for c in params.codecs if not c.mimeType.lower().endswith("/rtx"))
        self.mime = codec.mimeType.lower()
        self.clock_rate: int = codec.clockRate
        self.payload_type: int = codec.payloadType
        self.rtx_payload_type: int | None = next(
            (
                c.payloadType
                for c in params.codecs
                if c.mimeType.lower().endswith("/rtx")
                and str(c.parameters.get("apt")) == str(codec.payloadType)
            ),
            None,
        )
        ids = extension_ids(params.headerExtensions)
        self.level_ext = ids.get(URI_AUDIO_LEVEL)
        ssrc: int | None = None
        rtx_ssrc: int | None = None
        for encoding in params.encodings:
            ssrc = encoding.ssrc
            if encoding.rtx is not None:
                rtx_ssrc = encoding.rtx.ssrc
        # With simulcast the offer has no a=ssrc: each RID's first packet binds its SSRC.
        rids = simulcast.rids if simulcast is not None else ()
        self.rid_ext = simulcast.rid_ext if simulcast is not None else None
        self.repaired_ext = simulcast.repaired_ext if simulcast is not None else None
        self.mid_ext = simulcast.mid_ext if simulcast is not None else None
        self._refusals: set[str] = set()  # reasons already logged for this stream
        self.layers: list[Layer] = (
            [Layer(rid=rid, clock_rate=self.clock_rate, ssrc=None, rtx_ssrc=None) for rid in rids]
            if rids
            else [Layer(rid=None, clock_rate=self.clock_rate, ssrc=ssrc, rtx_ssrc=rtx_ssrc)]
        )
        for index, layer in enumerate(self.layers):
            layer.index = index
        self.simulcast = simulcast is not None
        self._layer_by_ssrc: dict[int, Layer] = {}
        for layer in self.layers:
            for number in (layer.ssrc, layer.rtx_ssrc):
                if number is not None:
                    self._layer_by_ssrc[number] = layer
        # The highest flowing layer: what a leg whose viewer said nothing of its tile takes.
        self.target: Layer = self.layers[0]
        self.legs: list[Leg] = []
        self.encoded: list[str] | None = None  # RIDs the publisher was last asked to send
        self._encoded_at = 0.0
        self.forwarding = True  # False while the participant is muted (or camera off)
        self.active = True  # False while the publisher does not send this m-line
        self.on_audio_level: Callable[[ParticipantId, int, bool], None] | None = None
        self.tap: AudioTap | None = None  # set on audio streams while subtitles are on
        self.recording: RecordingTap | None = None  # set while the meeting is recorded
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def ssrc(self) -> int | None:
        """The SSRC legs forward now (the target layer's), None before it is known."""
        return self.target.ssrc

    @property
    def rtx_ssrc(self) -> int | None:
        return self.target.rtx_ssrc

    @property
    def packets(self) -> int:
        """RTP packets received on this stream (retransmissions not counted)."""
        return sum(layer.received for layer in self.layers)

    def rids(self) -> list[str]:
        return [layer.rid for layer in self.layers if layer.rid is not None]

    def note_refusal(self, reason: str) -> bool:
        """True the first time a packet of this stream is refused for `reason` (log it)."""
        if reason in self._refusals:
            return False
        self._refusals.add(reason)
        return True

    def layer(self, rid: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.rid == rid), None)

    def layer_of(self, ssrc: int) -> Layer | None:
        """The layer whose media or RTX SSRC is `ssrc`."""
        return self._layer_by_ssrc.get(ssrc)

    def bind(self, layer: Layer, ssrc: int, *, rtx: bool) -> list[int]:
        """Give a simulcast layer the SSRC (or RTX SSRC) its first packet came with; returns
        the SSRCs this releases. Replacing a media SSRC also releases the layer's RTX SSRC:
        a publisher that changes one (a new connection) changes both."""
        if rtx:
            released = [layer.rtx_ssrc] if layer.rtx_ssrc is not None else []
            layer.rtx_ssrc = ssrc
        elif layer.ssrc is None:
            released = []
            layer.ssrc = ssrc
        else:
            released = [n for n in (layer.ssrc, layer.rtx_ssrc) if n is not None]
            layer.ssrc, layer.rtx_ssrc = ssrc, None
            layer.restart()
        for number in released:
            self._layer_by_ssrc.pop(number, None)
        self._layer_by_ssrc[ssrc] = layer
        return released

    def adopt_bindings(self, previous: InboundStream) -> None:
        """Keep the SSRCs a previous stream of the same track had learned, RID by RID.

        For a publisher's new connection after an ICE restart: the browser keeps its SSRCs,
        and libwebrtc stops writing MID and RID in a layer's packets once a receiver report
        acknowledged that SSRC, so they could never be learned again (docs/simulcast.md).
        """
        self.encoded = previous.encoded  # the page keeps the layers it was told to send
        for layer in self.layers:
            old = previous.layer(layer.rid) if layer.rid is not None else None
            if old is None or layer.ssrc is not None:
                continue
            # A layer the page stopped sends no keyframe to tell its size again.
            layer.width, layer.height = old.width, old.height
            for number, rtx in ((old.ssrc, False), (old.rtx_ssrc, True)):
                if number is not None:
                    self.bind(layer, number, rtx=rtx)

    def flowing(self, now: float) -> list[Layer]:
        """The layers a leg can take now, lowest first: with simulcast those that sent a
        keyframe and still send; a single layer while its packets come."""
        if self.simulcast:
            return [layer for layer in self.layers if layer.flowing(now)]
        layer = self.layers[0]
        return [] if layer.silent(now) else [layer]

    def choose_target(self, now: float) -> bool:
        """Point each leg at the layer that fits its viewer's tile among those flowing (the
        highest flowing if the viewer said nothing), no higher than its viewer's bandwidth
        allows (`Leg.ceiling`); a leg's target is kept while nothing flows. True if a target
        changed; a keyframe of each new target is then asked for (throttled per layer: back
        and forth costs the publisher at most one request per layer and PLI_INTERVAL)."""
        flowing = [layer for layer in self.layers if layer.flowing(now)]
        if flowing:
            self.target = flowing[-1]
        changed: set[Layer] = set()
        for leg in self.legs:
            wanted = allowed(flowing, leg) if flowing else leg.target
            if wanted is not None and wanted is not leg.target:
                leg.target = wanted
                if not leg.hidden:
                    changed.add(wanted)
        for layer in changed:
            if now - layer.last_keyframe_at >= PLI_INTERVAL:  # else one is passing right now
                self.spawn(self.request_keyframe(layer=layer))
        return bool(changed)

    def show(self, leg: Leg, tile: tuple[int, int] | None, shown: bool, now: float) -> None:
        """What the leg's viewer displays of this stream: `shown` False stops its video here
        (slots closed, so nothing looks lost); shown again, the leg resumes on a keyframe."""
        leg.tile = tile
        leg.shown = shown
        self.update(leg, now)

    def limit(self, leg: Leg, ceiling: Layer | None, paused: bool, now: float) -> bool:
        """Apply the viewer's bandwidth to the leg: the highest layer it may take (None: any)
        and whether its video is paused. True if the ceiling changed: targets are then to be
        chosen again (`choose_target`, once per stream for all its legs)."""
        changed = ceiling is not leg.ceiling
        leg.ceiling = ceiling
        self.pause(leg, paused, now)
        return changed

    def pause(self, leg: Leg, paused: bool, now: float) -> None:
        """Stop (or resume) the leg's video for lack of its viewer's bandwidth."""
        if leg.paused != paused:
            leg.paused = paused
            self.update(leg, now)

    def update(self, leg: Leg, now: float) -> None:
        """Apply a change of `leg.shown` or `leg.paused`: a leg sends video only when its
        viewer shows it and has the bandwidth."""
        if not leg.shown or leg.paused:
            leg.hidden = True
            return
        was_hidden, leg.hidden = leg.hidden, False
        # The viewer's decoder missed pictures (or never had one): a keyframe first, asked
        # for at once (throttled per layer), not when the next packet shows the leg waiting.
        leg.hold = leg.started and was_hidden
        self.choose_target(now)
        if was_hidden:  # at most once a second per layer: a page may flip its view often
            self.spawn(self.request_keyframe(layer=leg.target, interval=VIEWER_PLI_INTERVAL))

    def review_encodings(self, now: float) -> list[str] | None:
        """The RIDs the publisher should encode, when that changed: those a viewer would
        take, the lowest always (the fallback), and any whose size is still unknown; a layer
        nobody wants is dropped after UNWATCHED_AFTER seconds."""
        if not self.simulcast:
            return None
        wanted = wished(self.layers, self.legs)
        rids = []
        for layer in self.layers:
            if layer in wanted or layer.index == 0 or not layer.width:
                layer.unwanted_since = None
            elif layer.unwanted_since is None:
                layer.unwanted_since = now
            if layer.unwanted_since is None or now - layer.unwanted_since < UNWATCHED_AFTER:
                rids.append(layer.rid or "")
        if rids == (self.encoded or [layer.rid or "" for layer in self.layers]):
            stalled = any(
                layer in wanted and layer.rid in rids and layer.silent(now) for layer in self.layers
            )
            if not stalled or now - self._encoded_at < ENCODINGS_AGAIN:
                return None
        self.encoded = rids
        self._encoded_at = now
        return rids

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run `coroutine` as a task this stream keeps alive (asyncio holds weak references)."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- packet path ---------------------------------------------------------------------

    def is_keyframe(self, data: bytes, header_length: int, end: int) -> bool:
        if self.kind == "audio":
            return True
        if self.mime == "video/vp8":
            return is_vp8_keyframe(data, header_length, end)
        if self.mime == "video/h264":
            return is_h264_keyframe(data, header_length, end)
        return False

    def forward(
        self, data: bytes, header_length: int, padding: int, layer: Layer, rtx: bool, now: float
    ) -> None:
        """Send one incoming packet of `layer` to every leg, rewritten for each subscriber.

        Synchronous: it runs straight from the socket callback (hub/sfu/guard.py). The rare
        sends that need aiortc's own path (a connection not yet plainly connected) and
        keyframe requests are scheduled as tasks instead of awaited.
        """
        b0, b1, seq, timestamp, ssrc = _unpack_header(data, 0)
        start = header_length
        if rtx:  # RFC 4588: the original sequence number leads the payload
            seq = (data[start] << 8) | data[start + 1]
            start += 2
            # The rewriter numbers the media stream: a retransmission is one of its packets,
            # not a new source (which would restart the numbering twice).
            if layer.ssrc is None:
                self.counters.drop("rtx_before_media")
                return
            ssrc = layer.ssrc
        end = len(data) - padding
        if end <= start:
            self.counters.drop("padding_only")
            return
        if not rtx:
            missing = layer.account(seq, timestamp, now, len(data))
            if missing is not None and self.kind == "video":
                if missing:
                    self.spawn(self._nack(layer, missing))
                if not missing or (self.recording is not None and layer.index == 0):
                    # Too much lost to repair (a network cut, a frozen publisher): subscribers'
                    # decoders need a fresh picture, and some clients never ask for one. The
                    # recorder takes no retransmission: after any gap it waits for a keyframe.
                    self.spawn(self.request_keyframe(layer=layer))
        level_value: bytes | None = None
        if self.level_ext is not None and b0 & 0x10:
            level_value = one_byte_extension(data, header_length, self.level_ext)
            if level_value is not None and self.on_audio_level is not None:
                byte = level_value[0]
                self.on_audio_level(self.participant_id, byte & 0x7F, bool(byte & 0x80))
        keyframe: bool | None = None
        if self.simulcast and not rtx:
            # Every packet: a layer counts as flowing once a keyframe came (docs/simulcast.md).
            keyframe = self.is_keyframe(data, start, end)
            if keyframe:
                self._keyframe(layer, data, start, end, now)
        if not self.forwarding:
            self.counters.muted_drops += 1
            if not rtx:  # a retransmission takes no new slot: nothing to close
                for leg in self.legs:
                    if leg.started and leg.layer is layer:
                        leg.rewriter.drop(ssrc, seq, timestamp, now)
            return
        waiting: set[Layer] = set()
        sent = 0
        payload = data[start:end]
        marker = b1 & 0x80
        if self.tap is not None and not rtx:  # a microphone's (hub/sfu/taps.py)
            level = level_value[0] if level_value is not None else NO_LEVEL
            self.tap.offer(self.participant_id, timestamp, payload, level)
        if self.recording is not None and not rtx and layer.index == 0:  # simulcast: lowest
            self.recording.offer(self, layer.index, seq, timestamp, bool(marker), payload, now)
        abs_time = _abs_send_time(now)  # once per packet, the same for every leg
        for leg in self.legs:
            if not leg.ready:
                continue
            if leg.hidden:  # its viewer does not display it: nothing sent, no gap seen
                if leg.started and leg.layer is layer and not rtx:
                    leg.rewriter.drop(ssrc, seq, timestamp, now)
                continue
            if leg.layer is not layer or not leg.started or leg.hold:
                # A leg starts, or moves to its target layer, only on that layer's keyframe:
                # the rewriter turns the change of SSRC into one continuous stream. Never on
                # a retransmission: an old packet, at best one piece of an old keyframe.
                if rtx:
                    continue
                target = leg.target or self.target
                if layer is not target and leg.layer is not None and layer is not leg.layer:
                    continue  # the leg stays on its layer until the target's keyframe
                if keyframe is None:
                    keyframe = self.is_keyframe(data, start, end)
                if not keyframe:
                    if leg.hold and leg.layer is layer:
                        leg.rewriter.drop(ssrc, seq, timestamp, now)
                    if layer is target:
                        waiting.add(target)
                    continue
                leg.layer = layer
                leg.started = True
                leg.hold = False
            rewritten = leg.rewriter.rewrite(ssrc, seq, timestamp, now)
            if rewritten is None or rewritten.duplicate:
                continue
            packet = leg.build(
                marker,
                rewritten.sequence_number,
                rewritten.timestamp,
                level_value,
                payload,
                abs_time,
            )
            leg.history.put(rewritten.sequence_number, packet)
            leg.packets += 1
            leg.octets += len(payload)
            if not leg.send_now(packet):
                self.spawn(leg.send(packet))
            sent += 1
            self.counters.bytes_forwarded += len(packet)
        self.counters.packets_forwarded += sent
        if self.kind == "video":
            self.counters.video_packets_forwarded += sent
        # Ask again (throttled per layer) while a leg waits: the keyframe asked for when it
        # started may have gone out before the leg was ready, and libwebrtc publishers ignore
        # a request that comes less than 300 ms after the previous one.
        for wanted in waiting:
            if now - wanted.last_pli >= PLI_INTERVAL:
                self.spawn(self.request_keyframe(layer=wanted))

    def _keyframe(self, layer: Layer, data: bytes, start: int, end: int, now: float) -> None:
        layer.keyframes += 1
        layer.last_keyframe_at = now
        if self.mime == "video/vp8":
            size = vp8_keyframe_size(data, start, end)
            if size is not None:
                layer.width, layer.height = size
        if layer.keyframes == 1:
            self.choose_target(now)

    # -- RTCP towards the publisher ------------------------------------------------------

    async def _nack(self, layer: Layer, missing: list[int]) -> None:
        if layer.ssrc is None:
            return
        nack = RtcpNack.from_sequence_numbers(self.rtcp_ssrc, layer.ssrc, missing)
        await self._send_rtcp(bytes(nack))

    async def request_keyframe(
        self, *, force: bool = False, interval: float = PLI_INTERVAL, layer: Layer | None = None
    ) -> None:
        """Ask the publisher for a keyframe of `layer` (default: the target layer), throttled
        per layer: many subscribers, one request. `force` skips the throttle; a smaller
        `interval` shortens it."""
        now = time.monotonic()
        layer = self.target if layer is None else layer
        if self.kind != "video" or layer.ssrc is None:
            return
        if not force and now - layer.last_pli < interval:
            return
        layer.last_pli = now
        self.counters.keyframe_requests_forwarded += 1
        await self._send_rtcp(bytes(RtcpPli(sender_ssrc=self.rtcp_ssrc, media_ssrc=layer.ssrc)))

    def on_sender_report(self, report: RtcpSr) -> Layer | None:
        """Note a sender report; returns the layer it describes, None if no layer has its SSRC."""
        layer = self._layer_by_ssrc.get(report.ssrc)
        if layer is not None and layer.ssrc == report.ssrc:
            layer.on_sender_report(report)
            return layer
        return None

    def receiver_report(self) -> bytes | None:
        """RR (and REMB for video) describing what we received, sent about once a second."""
        blocks = [block for layer in self.layers if (block := layer.report_block()) is not None]
        if not blocks:
            return None
        data = bytes(RtcpRr(ssrc=self.rtcp_ssrc, reports=blocks))
        if self.kind == "video":
            # A viewer paused for lack of bandwidth does not hold the publisher back.
            estimates = [leg.remb for leg in self.legs if leg.remb and not leg.hidden]
            if self.simulcast:
                bitrate = SIMULCAST_REMB
            else:
                bitrate = min(estimates) if estimates else DEFAULT_REMB
            ssrcs = [block.ssrc for block in blocks]
            data += bytes(RtcpRemb.from_bitrate(self.rtcp_ssrc, bitrate, ssrcs))
        return data

    async def send_receiver_report(self) -> None:
        data = self.receiver_report()
        if data is not None:
            await self._send_rtcp(data)


class Leg(OutboundStream):
    """An outbound stream forwarding one inbound stream (re-pointable to another): which
    layer it forwards and wants, and what its viewer shows and has the bandwidth for."""

    def __init__(self, *, participant_id: ParticipantId, kind: Kind, transceiver: Any) -> None:
        super().__init__(kind=kind, transceiver=transceiver)
        self.participant_id = participant_id  # the subscriber
        self.source: InboundStream | None = None
        self.layer: Layer | None = None  # the source's layer it forwards, None until started
        self.target: Layer | None = None  # the layer it should forward (InboundStream.show)
        self.tile: tuple[int, int] | None = None  # its viewer's tile, device pixels, if said
        self.shown = True  # its viewer displays this stream (the page's `view`)
        self.paused = False  # its viewer lacks the bandwidth for it (hub/sfu/allocation.py)
        self.hidden = False  # not shown or paused: no packets
        self.ceiling: Layer | None = None  # the highest layer its viewer's bandwidth allows
        self.hold = False  # shown again: forward nothing before a keyframe

    def state(self) -> str:
        """What it forwards, for /metrics: paused, hidden, waiting, single, or its RID."""
        if self.paused and self.shown:
            return "paused"
        if self.hidden:
            return "hidden"
        if not self.started or self.layer is None or self.hold:
            return "waiting"
        return self.layer.rid or "single"

    def negotiated(self, params: Any) -> None:
        super().negotiated(params)
        if self.source is not None:
            self.bind_codec(self.source.mime)

    def attach(self, source: InboundStream) -> None:
        """Forward `source` from its next keyframe on; numbering stays continuous."""
        self.detach()
        self.source = source
        source.legs.append(self)
        self.started = False
        self.hold = False
        self.layer = None
        self.target = None
        self.ceiling = None  # the next allocation gives its own
        self.paused = False
        self.hidden = not self.shown
        source.choose_target(time.monotonic())
        if self.ready:
            self.bind_codec(source.mime)

    def detach(self) -> None:
        if self.source is not None and self in self.source.legs:
            self.source.legs.remove(self)
        self.source = None
        self.started = False
        self.hold = False
        self.layer = None
        self.target = None
