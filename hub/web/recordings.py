"""Recordings wired together: the conferences' switch (hub/meetings/recording.py) turns the
SFU's recording tap on and off, the recorder process (hub/recording/client.py) writes the
tracks, and when a recording stops its files and manifest go to the store
(hub/recording/storage.py); expired ones are deleted by a periodic task.

The wiring only: who may record is the conference's rule, writing is the recorder's (another
process), copying packets is the SFU's, keeping files is the store's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from hub.config_recording import RecordingConfig
from hub.errors import first_line
from hub.ids import MeetingId
from hub.meetings.conference import Conferences
from hub.recording.client import RecorderProcess
from hub.recording.manifest import Manifest, TrackEntry, key
from hub.recording.retention import expire_forever
from hub.recording.storage import RecordingStore
from hub.recording.wire import Finished
from hub.sfu.port import MediaRooms
from hub.sfu.recording_tap import RecordingTap
from hub.tasks import Tasks
from hub.web.tap_metrics import TapCollector, TapCounts

log = logging.getLogger(__name__)


@dataclass
class _Active:
    """A recording in progress."""

    recording_id: str
    tap: RecordingTap
    started_at: datetime
    started_mono: float
    by: str
    names: dict[str, str] = field(default_factory=dict)  # participant id -> display name
    stopped_at: datetime | None = None
    begun: asyncio.Task[None] | None = None


class RecordingRelay:
    """The recording switch of every meeting of this hub. Owns the recorder process (started
    with the first recording) and the tasks that store finished recordings; `conferences` is
    given once the app has made them (they take this relay as their switch)."""

    def __init__(
        self, config: RecordingConfig, sfu: MediaRooms, store: RecordingStore, spool: Path
    ) -> None:
        self._config = config
        self._sfu = sfu
        self.store = store
        self._spool = spool
        self.recorder = RecorderProcess()
        self.conferences: Conferences | None = None
        self._active: dict[MeetingId, _Active] = {}
        self._storing = Tasks()  # starting and storing recordings
        self._counts = TapCounts(("taken", "dropped"), _counts)

    def start(self, meeting_id: MeetingId, by: str) -> None:
        active = self._active[meeting_id] = _Active(
            secrets.token_hex(8), RecordingTap(), datetime.now(UTC), time.monotonic(), by
        )
        self._note_names(meeting_id, active)
        active.begun = self._storing.spawn(self._begin(meeting_id, active))

    async def _begin(self, meeting_id: MeetingId, active: _Active) -> None:
        folder = self._spool / active.recording_id
        await self.recorder.begin(active.recording_id, folder, active.tap)
        if self._active.get(meeting_id) is not active:
            return  # stopped while the recorder was starting: no tap left behind
        self._sfu.set_recording_tap(meeting_id, active.tap)  # keyframes are asked for now
        log.info("recording %s started", active.recording_id, extra={"meeting_id": meeting_id})

    def stop(self, meeting_id: MeetingId, by: str | None) -> None:
        active = self._active.pop(meeting_id, None)
        if active is None:
            return
        self._sfu.set_recording_tap(meeting_id, None)
        active.stopped_at = datetime.now(UTC)
        self._counts.retire(active.tap)
        self._note_names(meeting_id, active)
        self._storing.spawn(self._finish(meeting_id, active, by))

    def _note_names(self, meeting_id: MeetingId, active: _Active) -> None:
        live = self.conferences.get(meeting_id) if self.conferences else None
        if live is not None:
            for presence in live.presences.values():
                active.names[presence.participant_id] = presence.name

    async def _finish(self, meeting_id: MeetingId, active: _Active, by: str | None) -> None:
        rid = active.recording_id
        try:
            if active.begun is not None:
                await active.begun
            finished = await self.recorder.finish(rid)
            manifest = self._manifest(meeting_id, active, by, finished)
            folder = self._spool / rid
            for track in manifest.tracks:
                await self.store.put_file(key(meeting_id, rid, track.file), folder / track.file)
            await self.store.put_bytes(key(meeting_id, rid), manifest.to_bytes())
            await asyncio.to_thread(shutil.rmtree, folder, True)
            log.info(
                "recording %s stored: %d tracks", rid, len(manifest.tracks),
                extra={"meeting_id": meeting_id},
            )  # fmt: skip
        except Exception as exc:  # one recording's trouble is logged; the meeting never suffers
            # Its files stay in the spool (logged again at the next start, never deleted).
            log.warning(
                "recording %s not stored, its files stay in %s: %s: %s", rid, self._spool / rid,
                type(exc).__name__, first_line(exc), extra={"meeting_id": meeting_id},
            )  # fmt: skip
            live = self.conferences.get(meeting_id) if self.conferences else None
            if live is not None:
                await live.recording_failed()

    def _manifest(
        self, meeting_id: MeetingId, active: _Active, by: str | None, finished: Finished
    ) -> Manifest:
        infos = active.tap.tracks
        files = self.recorder.files.pop(active.recording_id, {})
        tracks = []
        for written in finished.tracks:
            info = infos.get(written.key)
            if info is None or written.frames == 0 or written.first_arrival is None:
                continue  # nothing playable was written (no keyframe came, or no packet)
            tracks.append(
                TrackEntry(
                    file=files[written.key],
                    participant_id=info.participant_id,
                    name=active.names.get(info.participant_id, info.participant_id),
                    kind="video" if info.kind == "video" else "audio",
                    source=info.source,
                    codec="vp8" if info.mime == "video/vp8" else "opus",
                    start=round(max(0.0, written.first_arrival - active.started_mono), 3),
                    duration=round(written.duration, 3),
                    frames=written.frames,
                    width=written.width,
                    height=written.height,
                    error=written.error,
                )
            )
        # When the switch went off, not when the recorder had closed the files (later).
        ended = active.stopped_at or datetime.now(UTC)
        return Manifest(
            recording_id=active.recording_id,
            meeting_id=meeting_id,
            started_at=active.started_at,
            ended_at=ended,
            expires_at=ended + timedelta(days=self._config.retention_days),
            started_by=active.by,
            stopped_by=by,
            tracks=tracks,
            packets_dropped=active.tap.dropped,
        )

    def leftovers(self) -> list[Path]:
        """Folders a recorder left behind (the hub was killed mid-recording): their files
        were never stored. Each is logged once at start; WebM needs `ffmpeg -c copy` to get
        its duration back, Ogg plays as it is."""
        found = sorted(self._spool.iterdir()) if self._spool.is_dir() else []
        for folder in found:
            log.warning("recording %s was never stored: its tracks are in %s", folder.name, folder)
        return found

    async def stop_all(self) -> None:
        """Stop every recording (the hub is stopping) and store them."""
        for meeting_id in list(self._active):
            self.stop(meeting_id, None)
        await self.settle()

    async def settle(self) -> None:
        """Wait until every stopped recording is stored (tests, and shutdown)."""
        while len(self._storing):
            await asyncio.gather(*self._storing, return_exceptions=True)

    def packet_counts(self) -> dict[str, int]:
        return self._counts.total(active.tap for active in self._active.values())


def recording_metrics(relay: RecordingRelay) -> TapCollector:
    """The recording tap's counts in /metrics: packets copied, and dropped (queue full)."""
    return TapCollector(
        "hub_recording",
        "RTP packets seen by the recording tap, by outcome: taken for the recorder, or "
        "dropped (its queue was full).",
        "Batches of packets not sent because the recorder process did not keep up.",
        relay.packet_counts,
        lambda: relay.recorder.batches_dropped,
    )


def _counts(tap: RecordingTap) -> dict[str, int]:
    return {"taken": tap.taken, "dropped": tap.dropped}


def recordings_context(
    relay: RecordingRelay, config: RecordingConfig
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the store opened, the recorder's pump and the retention task run;
    at shutdown recordings in progress are stopped and stored before the store closes."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        await relay.store.open()
        await asyncio.to_thread(relay.leftovers)
        relay.recorder.start()
        retention = asyncio.get_running_loop().create_task(
            expire_forever(relay.store, config.retention_check_seconds)
        )
        try:
            yield
        finally:
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
            await relay.stop_all()
            await relay.recorder.close()
            await relay.store.close()

    return context
