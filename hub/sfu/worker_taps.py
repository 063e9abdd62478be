"""An SFU worker's taps: the audio tap (subtitles) and recording tap of each meeting the hub
switched on with `set_taps`, emptied every 40 ms into `audio_packets` / `recording_packets`
events for the hub (hub/sfu/tap_wire.py), where its speech worker and recorder take them.

The taps are the in-process ones (hub/sfu/audio_tap.py, recording_tap.py), fed on the packet
path by the worker's own rooms, so each person is tapped once, on the worker where they
publish (a relay's streams from another worker are never tapped: hub/sfu/taps.py). Consent,
the indicator and what is kept stay the hub's.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hub.ids import MeetingId
from hub.sfu.audio_tap import AudioTap
from hub.sfu.recording_tap import RecordingTap
from hub.sfu.service import Sfu
from hub.sfu.tap_wire import audio_fields, recording_fields, split, track_fields

BATCH_SECONDS = 0.04  # as the hub's speech and recorder pumps
COUNTS_EVERY = 25  # batches: a silent meeting's counts still reach /metrics once a second

# Writes one event unless the hub is behind on reading them; False: dropped.
Emit = Callable[..., bool]


class _Taps:
    """One meeting's taps, and what was dropped here since the last batch went out."""

    def __init__(self) -> None:
        self.audio: AudioTap | None = None
        self.recording: RecordingTap | None = None
        self.audio_sent = (0, 0, 0)  # the counts (taken, dropped, silent) last reported
        self.recording_sent = (0, 0)


class WorkerTaps:
    """The taps of one control connection's meetings; `pump()` is called every 40 ms by it."""

    def __init__(self, sfu: Sfu, emit: Emit) -> None:
        self._sfu = sfu
        self._emit = emit
        self._meetings: dict[MeetingId, _Taps] = {}
        self._ticks = 0

    def set(self, meeting_id: MeetingId, *, audio: bool, recording: bool) -> None:
        taps = self._meetings.setdefault(meeting_id, _Taps())
        if audio != (taps.audio is not None):
            taps.audio = AudioTap() if audio else None
            self._sfu.set_audio_tap(meeting_id, taps.audio)
        if recording != (taps.recording is not None):
            taps.recording = RecordingTap() if recording else None
            # The worker's room asks the publishers for keyframes now (hub/sfu/taps.py).
            self._sfu.set_recording_tap(meeting_id, taps.recording)
        if taps.audio is None and taps.recording is None:
            self.forget(meeting_id)

    def forget(self, meeting_id: MeetingId) -> None:
        """The meeting closed here (or its hub left): no tap of it remains."""
        if self._meetings.pop(meeting_id, None) is not None:
            self._sfu.set_audio_tap(meeting_id, None)
            self._sfu.set_recording_tap(meeting_id, None)

    def close(self) -> None:
        for meeting_id in list(self._meetings):
            self.forget(meeting_id)

    def pump(self) -> None:
        self._ticks += 1
        report = self._ticks % COUNTS_EVERY == 0
        for meeting_id, taps in self._meetings.items():
            if taps.audio is not None:
                self._send_audio(meeting_id, taps, taps.audio, report)
            if taps.recording is not None:
                self._send_recording(meeting_id, taps, taps.recording, report)

    def _send_audio(self, meeting_id: MeetingId, taps: _Taps, tap: AudioTap, report: bool) -> None:
        packets = tap.take()
        if not packets and (not report or (tap.taken, tap.dropped, tap.silent) == taps.audio_sent):
            return
        runs = list(split([len(p[2]) for p in packets])) or [(0, 0)]
        for number, (start, end) in enumerate(runs):
            last = number == len(runs) - 1
            # The counts since the last report go with a batch's last frame, once the frames
            # before it were sent or counted as dropped.
            counts = (tap.taken, tap.dropped, tap.silent)
            taken, dropped, silent = (c - s for c, s in zip(counts, taps.audio_sent, strict=True))
            sent = self._emit(
                "audio_packets", meeting=meeting_id, packets=audio_fields(packets[start:end]),
                taken=taken if last else 0, dropped=dropped if last else 0,
                silent=silent if last else 0,
            )  # fmt: skip
            if not sent:  # the hub is behind: this frame is lost, and counted as such
                tap.taken -= end - start
                tap.dropped += end - start
            elif last:
                taps.audio_sent = counts

    def _send_recording(
        self, meeting_id: MeetingId, taps: _Taps, tap: RecordingTap, report: bool
    ) -> None:
        tracks, packets = tap.take_tracks(), tap.take()
        unchanged = (tap.taken, tap.dropped) == taps.recording_sent
        if not tracks and not packets and (not report or unchanged):
            return
        now = time.monotonic()
        runs = list(split([len(p[4]) for p in packets])) or [(0, 0)]
        for number, (start, end) in enumerate(runs):
            last = number == len(runs) - 1
            counts = (tap.taken, tap.dropped)
            taken, dropped = (c - s for c, s in zip(counts, taps.recording_sent, strict=True))
            sent = self._emit(
                "recording_packets", meeting=meeting_id,
                tracks=track_fields(tracks if number == 0 else []),
                packets=recording_fields(packets[start:end], now),
                taken=taken if last else 0, dropped=dropped if last else 0,
                # New tracks are announced whatever the backlog: their packets need them.
                force=number == 0 and bool(tracks),
            )  # fmt: skip
            if not sent:
                tap.taken -= end - start
                tap.dropped += end - start
            elif last:
                taps.recording_sent = counts
