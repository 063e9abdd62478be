"""The recording tap: while a meeting is recorded, a copy of every forwarded packet of its
people's tracks (camera, screen, microphone) for the recorder process
(hub/recording/recorder.py, fed by hub/recording/client.py).

On the packet path, so O(1) per packet and never blocking: a bounded queue; a full queue drops
the packet and counts it. Nothing is decoded or parsed here. Of a simulcast track only the
lowest layer is kept (the one the publisher always encodes, so the recording never stalls
when nobody watches the others); its RTP timestamps are the track's own clock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from hub.ids import ParticipantId

CAPACITY = 20_000  # packets: ~8 s of a meeting of five at 2.5 Mbit/s; taken every 40 ms


class TappedStream(Protocol):
    """What the tap reads of an InboundStream (hub/sfu/forwarder.py) when it is attached."""

    @property
    def participant_id(self) -> ParticipantId: ...
    @property
    def mid(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One recorded track, as the recorder needs it."""

    key: str  # "participant/mid" ("participant/mid/2"… for later segments), unique
    participant_id: str
    kind: str  # "audio" or "video"
    source: str  # "microphone", "camera", "screen"
    mime: str  # "audio/opus", "video/vp8"
    clock_rate: int


# (track key, sequence number, RTP timestamp, marker, payload, arrival in monotonic seconds)
TappedPacket = tuple[str, int, int, bool, bytes, float]


class RecordingTap:
    """One recorded meeting's packets, from `offer` (the packet path) to `take` (the pump)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._packets: deque[TappedPacket] = deque()
        self._keys: dict[object, str] = {}
        self.tracks: dict[str, TrackInfo] = {}
        self.new_tracks: list[TrackInfo] = []  # attached since the last `take_tracks`
        self.taken = 0
        self.dropped = 0  # the queue was full

    def attach(self, stream: TappedStream) -> None:
        """Record this stream from now on (a new track, or a publisher's new connection).
        A new connection's stream is a new segment of the track (its own file): it comes with
        new SSRCs and a new RTP clock, which one file's timing could not follow."""
        if stream in self._keys:
            return
        key = base = f"{stream.participant_id}/{stream.mid}"
        segment = 1
        while key in self.tracks:
            segment += 1
            key = f"{base}/{segment}"
        self._keys[stream] = key
        info = TrackInfo(
            key, stream.participant_id, stream.kind, stream.source, stream.mime,
            stream.clock_rate,
        )  # fmt: skip
        self.tracks[key] = info
        self.new_tracks.append(info)

    def offer(
        self,
        stream: object,
        layer_index: int,
        seq: int,
        timestamp: int,
        marker: bool,
        payload: bytes,
        now: float,
    ) -> None:
        """A forwarded packet (not a retransmission) of an attached stream's layer."""
        if layer_index:
            return
        if len(self._packets) >= self.capacity:
            self.dropped += 1
            return
        self._packets.append((self._keys[stream], seq, timestamp, marker, payload, now))
        self.taken += 1

    def add_track(self, info: TrackInfo) -> None:
        """A track an SFU worker's tap attached (hub/sfu/tap_wire.py)."""
        if info.key not in self.tracks:
            self.tracks[info.key] = info
            self.new_tracks.append(info)

    def absorb(self, packets: list[TappedPacket], *, taken: int, dropped: int) -> None:
        """A batch an SFU worker's tap took, with its counts; what this queue has no room
        for is dropped and counted. Packets of tracks never announced are left out."""
        room = max(0, self.capacity - len(self._packets))
        known = [packet for packet in packets if packet[0] in self.tracks]
        self._packets.extend(known[:room])
        lost = len(packets) - min(room, len(known))
        self.taken += taken - lost
        self.dropped += dropped + lost

    def take(self) -> list[TappedPacket]:
        """Everything offered since the last call, oldest first."""
        packets = list(self._packets)
        self._packets.clear()
        return packets

    def take_tracks(self) -> list[TrackInfo]:
        tracks, self.new_tracks = self.new_tracks, []
        return tracks
