"""The audio tap: while a meeting has subtitles on, a copy of each speaking, unmuted person's
Opus payloads for the speech worker (hub/speech/worker_client.py takes them in batches).

On the packet path, so O(1) per packet and never blocking: a packet is kept only when its
RTP audio level (RFC 6464, the header extension the SFU already reads) is loud enough, plus a
hangover after (so the worker hears the silence that ends an utterance); a full queue drops
the packet and counts it. Nothing is decoded here. The extension's V bit is not trusted:
Chromium sets it on every packet, digital silence included (level 127), as measured with its
fake microphone.
"""

from __future__ import annotations

from collections import deque

from hub.ids import ParticipantId

CAPACITY = 2_000  # packets: 40 s of one speaker, 2 s of twenty; the worker takes them every 40 ms
# -dBov at or under which a packet counts as speech (espeak speech in Chromium: 11-60).
LEVEL_GATE = 50
# Packets (500 ms) still taken after the last one with voice: the worker's voice detector ends
# an utterance after 300 ms of silence (hub/speech/utterances.py), and a phrase's quiet tail
# still counts as voice for it. With 300 ms it seldom ended one, and the worker's idle flush
# did, 0.5 s later (`python -m bench.speech.cut`).
HANGOVER = 25
NO_LEVEL = -1  # the stream carries no audio-level extension: every packet is taken


class AudioTap:
    """One meeting's tapped packets, from `offer` (the packet path) to `take` (the pump)."""

    def __init__(self, capacity: int = CAPACITY, hangover: int = HANGOVER) -> None:
        self.capacity = capacity
        self.hangover = hangover
        self._packets: deque[tuple[str, int, bytes]] = deque()
        self._hangover: dict[ParticipantId, int] = {}
        self.taken = 0
        self.dropped = 0  # the queue was full
        self.silent = 0  # left out: no voice

    def offer(
        self, participant_id: ParticipantId, timestamp: int, payload: bytes, level: int
    ) -> None:
        """A forwarded audio packet; `level` is the audio-level extension's byte (V bit and
        -dBov), or NO_LEVEL."""
        if level == NO_LEVEL or (level & 0x7F) <= LEVEL_GATE:
            self._hangover[participant_id] = self.hangover
        else:
            left = self._hangover.get(participant_id, 0)
            if left <= 0:
                self.silent += 1
                return
            self._hangover[participant_id] = left - 1
        if len(self._packets) >= self.capacity:
            self.dropped += 1
            return
        self._packets.append((participant_id, timestamp, payload))
        self.taken += 1

    def absorb(
        self, packets: list[tuple[str, int, bytes]], *, taken: int, dropped: int, silent: int
    ) -> None:
        """A batch an SFU worker's tap took (hub/sfu/tap_wire.py), with its counts; what
        this queue has no room for is dropped and counted."""
        room = max(0, self.capacity - len(self._packets))
        self._packets.extend(packets[:room])
        overflow = max(0, len(packets) - room)
        self.taken += taken - overflow
        self.dropped += dropped + overflow
        self.silent += silent

    def take(self) -> list[tuple[str, int, bytes]]:
        """Everything offered since the last call, oldest first."""
        packets = list(self._packets)
        self._packets.clear()
        return packets
