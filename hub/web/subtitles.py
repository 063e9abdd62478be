"""Live subtitles wired together: the conferences' switch (hub/meetings/subtitles.py) turns
the SFU's audio tap on and off, the speech worker hears what the taps took, and what it
recognised goes back to the conference, which tells everyone; what the conference showed as
final is kept in the meeting's transcript (hub/meetings/transcripts.py). Also the /metrics
counters (the route for moderators is hub/web/switches.py's).

The wiring only: who may start subtitles is the conference's rule, decoding and recognition
are the worker's (another process), copying packets is the SFU's.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from aiohttp import web

from hub.config_sections import SpeechConfig
from hub.ids import MeetingId, ParticipantId
from hub.meetings.conference import Conferences
from hub.meetings.transcripts import Transcripts
from hub.sfu.audio_tap import AudioTap
from hub.sfu.port import MediaRooms
from hub.speech.worker_client import SpeechWorker
from hub.web.tap_metrics import TapCollector, TapCounts

log = logging.getLogger(__name__)


class SubtitleRelay:
    """The subtitle switch of every meeting of this hub. Owns the speech worker (started by
    `subtitles_context`, closed with it) and one audio tap per meeting with subtitles on.
    `conferences` and `transcripts` are given once the app has made them (the conferences take
    this relay as their switch)."""

    def __init__(self, config: SpeechConfig, sfu: MediaRooms) -> None:
        self._sfu = sfu
        self._language = config.language
        self._taps: dict[MeetingId, AudioTap] = {}
        self.worker = SpeechWorker(config, self._said, self._trouble)
        self.conferences: Conferences | None = None
        self.transcripts: Transcripts | None = None
        self._counts = TapCounts(("taken", "dropped", "silent"), _counts)

    def start(self, meeting_id: MeetingId) -> None:
        tap = self._taps[meeting_id] = AudioTap()
        self._sfu.set_audio_tap(meeting_id, tap)
        self.worker.attach(meeting_id, tap)

    def stop(self, meeting_id: MeetingId) -> None:
        self._sfu.set_audio_tap(meeting_id, None)
        self.worker.detach(meeting_id)
        tap = self._taps.pop(meeting_id, None)
        if tap is not None:
            self._counts.retire(tap)

    def packet_counts(self) -> dict[str, int]:
        return self._counts.total(self._taps.values())

    async def _said(
        self, meeting: str, participant: str, text: str, final: bool, seconds: float
    ) -> None:
        live = self.conferences.get(MeetingId(meeting)) if self.conferences else None
        if live is None:
            return
        speaker = await live.subtitle(ParticipantId(participant), text, final)
        if final and speaker is not None and self.transcripts is not None:
            try:
                await self.transcripts.keep(
                    live.meeting_id, ParticipantId(participant), speaker, text,
                    language=self._language, ended_at=datetime.now(UTC), seconds=seconds,
                )  # fmt: skip
            except Exception as exc:  # the database's trouble: the subtitles go on
                log.error("transcript line not kept: %s", exc, extra={"meeting_id": meeting})

    async def _trouble(self, meeting: str, reason: str) -> None:
        live = self.conferences.get(MeetingId(meeting)) if self.conferences else None
        if live is not None and live.subtitles == "on":
            log.warning("subtitles unavailable: %s", reason[:300], extra={"meeting_id": meeting})
            await live.subtitles_unavailable()


def subtitle_metrics(relay: SubtitleRelay) -> TapCollector:
    """The tap's counts in /metrics: packets copied, dropped (queue full), left out (silence)."""
    return TapCollector(
        "hub_subtitle",
        "Microphone packets seen by the subtitle tap, by outcome: taken for the speech "
        "worker, dropped (its queue was full) or silent (no voice, left out).",
        "Batches of packets not sent because the speech worker did not keep up.",
        relay.packet_counts,
        lambda: relay.worker.batches_dropped,
    )


def _counts(tap: AudioTap) -> dict[str, int]:
    return {"taken": tap.taken, "dropped": tap.dropped, "silent": tap.silent}


def subtitles_enabled(config: SpeechConfig) -> bool:
    return config.subtitles and config.backend != "off"


def subtitles_context(
    relay: SubtitleRelay,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context running the relay's worker pump; the worker process stops with it."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        relay.worker.start()
        try:
            yield
        finally:
            await relay.worker.close()

    return context
