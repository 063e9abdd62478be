"""The SFU of one hub process: every meeting's room, the periodic RTCP tick, and metrics.

Opened and closed by the app's cleanup context. Packet counters are plain integers on the
packet path and become Prometheus samples only when /metrics is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.config_sfu import SfuConfig
from hub.ids import MeetingId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import LINK_PREFIX
from hub.sfu.internals import check_internals
from hub.sfu.peer import RoomSettings
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.relief import LoopWatch, Relief
from hub.sfu.room import SfuRoom

log = logging.getLogger(__name__)

TICK_INTERVAL = 1.0


class Sfu:
    """Owns the rooms; `start()` begins the tick loop, `close()` ends every connection."""

    def __init__(self, config: SfuConfig) -> None:
        check_internals()
        self.settings = RoomSettings(
            ice_servers=config.ice_servers,
            candidate_addresses=config.candidate_addresses,
            relay_addresses=config.relay_addresses,
        )
        self.counters = SfuCounters()
        self.rooms: dict[MeetingId, SfuRoom] = {}
        self._taps: dict[MeetingId, AudioTap] = {}  # meetings with subtitles on
        self._recordings: dict[MeetingId, RecordingTap] = {}  # meetings being recorded
        self._users: dict[MeetingId, int] = {}  # connections and cascade links using a room
        self._ticker: asyncio.Task[None] | None = None
        self.relief = Relief()
        self._watch: asyncio.Task[None] | None = None

    def room(self, meeting_id: MeetingId) -> SfuRoom:
        room = self.rooms.get(meeting_id)
        if room is None:
            room = self.rooms[meeting_id] = SfuRoom(
                meeting_id, self.settings, self.counters, relief=self.relief
            )
            room.set_taps(self._taps.get(meeting_id), self._recordings.get(meeting_id))
        return room

    def find(self, meeting_id: MeetingId) -> SfuRoom | None:
        return self.rooms.get(meeting_id)

    def set_audio_tap(self, meeting_id: MeetingId, tap: AudioTap | None) -> None:
        """Copy the meeting's voiced microphone packets into `tap` (None: stop), in the room
        it has now and in any it gets later."""
        if tap is None:
            self._taps.pop(meeting_id, None)
        else:
            self._taps[meeting_id] = tap
        self._retap(meeting_id)

    def set_recording_tap(self, meeting_id: MeetingId, tap: RecordingTap | None) -> None:
        """Copy every packet of the meeting's tracks into `tap` (None: stop), likewise."""
        if tap is None:
            self._recordings.pop(meeting_id, None)
        else:
            self._recordings[meeting_id] = tap
        self._retap(meeting_id)

    def _retap(self, meeting_id: MeetingId) -> None:
        room = self.rooms.get(meeting_id)
        if room is not None:
            room.set_taps(self._taps.get(meeting_id), self._recordings.get(meeting_id))

    def acquire(self, meeting_id: MeetingId) -> SfuRoom:
        """The meeting's room, kept open until every `acquire` has been `release`d: a person
        arriving while the last one leaves never gets a room that is being closed."""
        self._users[meeting_id] = self._users.get(meeting_id, 0) + 1
        return self.room(meeting_id)

    async def release(self, meeting_id: MeetingId) -> None:
        users = self._users.get(meeting_id, 0) - 1
        if users > 0:
            self._users[meeting_id] = users
            return
        self._users.pop(meeting_id, None)
        await self.close_room(meeting_id)

    async def close_room(self, meeting_id: MeetingId) -> None:
        """Close at once, whoever uses it (the meeting ended)."""
        self._users.pop(meeting_id, None)
        room = self.rooms.pop(meeting_id, None)
        if room is not None:
            await room.close()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._ticker = loop.create_task(self._tick_forever())
        self._watch = loop.create_task(LoopWatch(self.relief).run())

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            for room in list(self.rooms.values()):
                try:
                    await room.tick()
                except Exception:  # one room's trouble must not stop the others' reports
                    log.exception("SFU tick failed", extra={"meeting_id": room.meeting_id})

    async def close(self) -> None:
        for task in (self._ticker, self._watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for meeting_id in list(self.rooms):
            await self.close_room(meeting_id)


class SfuCollector(Collector):
    """Exposes the SFU's counters in /metrics without touching the packet path."""

    def __init__(self, sfu: Sfu) -> None:
        self._sfu = sfu

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        counters = self._sfu.counters
        yield CounterMetricFamily(
            "hub_sfu_packets_received",
            "RTP packets received from publishers.",
            value=counters.packets_in,
        )
        yield CounterMetricFamily(
            "hub_sfu_packets_forwarded",
            "RTP packets forwarded to subscribers.",
            value=counters.packets_forwarded,
        )
        yield GaugeMetricFamily(
            "hub_sfu_shedding_video",
            "1 while this SFU, seconds behind, pauses the video of people not shown large.",
            value=int(self._sfu.relief.active),
        )
        yield CounterMetricFamily(
            "hub_sfu_relief_started",
            "Times this SFU fell seconds behind and began to shed video.",
            value=self._sfu.relief.times_entered,
        )
        yield CounterMetricFamily(
            "hub_sfu_video_packets_forwarded",
            "Video RTP packets forwarded to subscribers (of hub_sfu_packets_forwarded).",
            value=counters.video_packets_forwarded,
        )
        yield CounterMetricFamily(
            "hub_sfu_bytes_forwarded",
            "RTP bytes forwarded to subscribers.",
            value=counters.bytes_forwarded,
        )
        yield CounterMetricFamily(
            "hub_sfu_muted_packets",
            "Packets of muted participants stopped at the SFU.",
            value=counters.muted_drops,
        )
        yield CounterMetricFamily(
            "hub_sfu_keyframe_requests",
            "Keyframe requests (PLI) sent to publishers.",
            value=counters.keyframe_requests_forwarded,
        )
        yield CounterMetricFamily(
            "hub_sfu_nacks_answered",
            "Retransmissions sent from history for subscriber NACKs.",
            value=counters.nacks_answered,
        )
        dropped = CounterMetricFamily(
            "hub_sfu_packets_dropped",
            "Packets dropped before forwarding, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(counters.dropped.items()):
            dropped.add_metric([reason], count)
        yield dropped
        datagrams = CounterMetricFamily(
            "hub_sfu_datagrams_dropped",
            "Datagrams refused at the media sockets before aiortc saw them, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(counters.datagrams.counts.items()):
            datagrams.add_metric([reason], count)
        yield datagrams
        yield from self._simulcast()
        rooms = GaugeMetricFamily("hub_sfu_rooms", "Meetings with live media.")
        rooms.add_metric([], len(self._sfu.rooms))
        yield rooms
        yield from self._cascade()
        participants = GaugeMetricFamily("hub_sfu_participants", "Participants with media.")
        participants.add_metric([], sum(len(r.participants) for r in self._sfu.rooms.values()))
        yield participants

    def _simulcast(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Per RID: simulcast layers whose SSRC is known, and the packets they brought."""
        layers: dict[str, list[int]] = {}
        for room in self._sfu.rooms.values():
            for member in room.participants.values():
                for stream in member.streams.values():
                    for layer in stream.layers:
                        if layer.rid is not None and layer.ssrc is not None:
                            counts = layers.setdefault(layer.rid, [0, 0])
                            counts[0] += 1
                            counts[1] += layer.received
        bound = GaugeMetricFamily(
            "hub_sfu_simulcast_layers", "Simulcast layers receiving now, by RID.", labels=["rid"]
        )
        packets = CounterMetricFamily(
            "hub_sfu_simulcast_packets",
            "RTP packets received on simulcast layers (retransmissions not counted), by RID.",
            labels=["rid"],
        )
        for rid, (count, received) in sorted(layers.items()):
            bound.add_metric([rid], count)
            packets.add_metric([rid], received)
        yield bound
        yield packets
        legs = GaugeMetricFamily(
            "hub_sfu_video_legs",
            "Subscribers' video legs by what they forward: a simulcast RID, 'single' (a stream "
            "without simulcast), 'waiting' (no keyframe yet), 'hidden' (not displayed) or "
            "'paused' (displayed, but the viewer's connection cannot carry it).",
            labels=["layer"],
        )
        states: dict[str, int] = {}
        for room in self._sfu.rooms.values():
            for member in room.participants.values():
                for leg in member.legs:
                    if leg.kind == "video" and leg.source is not None:
                        state = leg.state()
                        states[state] = states.get(state, 0) + 1
        for state, count in sorted(states.items()):
            legs.add_metric([state], count)
        yield legs

    def _cascade(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        """Per partner instance: streams and packets on the cascade links (what crosses once)."""
        streams = GaugeMetricFamily(
            "hub_cascade_streams_sent",
            "Streams of our people sent on cascade links now, by partner.",
            labels=["partner"],
        )
        sent = CounterMetricFamily(
            "hub_cascade_packets_sent", "RTP packets sent on cascade links.", labels=["partner"]
        )
        received = CounterMetricFamily(
            "hub_cascade_packets_received",
            "RTP packets received on cascade links.",
            labels=["partner"],
        )
        totals: dict[str, list[int]] = {}
        for room in self._sfu.rooms.values():
            for member in room.participants.values():
                if not member.participant_id.startswith(LINK_PREFIX):
                    continue
                partner = member.participant_id.removeprefix(LINK_PREFIX)
                counts = totals.setdefault(partner, [0, 0, 0])
                live_legs = [leg for leg in member.legs if leg.source is not None]
                counts[0] += len(live_legs)
                counts[1] += sum(leg.packets for leg in member.legs)
                counts[2] += sum(stream.packets for stream in member.streams.values())
        for partner, (legs, packets_out, packets_in) in sorted(totals.items()):
            streams.add_metric([partner], legs)
            sent.add_metric([partner], packets_out)
            received.add_metric([partner], packets_in)
        yield streams
        yield sent
        yield received
