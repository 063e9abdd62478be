"""The page of what a meeting kept (`/m/{id}/kept`): its transcript, its summary and its
recordings, each with its downloads and the day retention deletes it; for the meeting's owner
and moderators only, by the same rule as the downloads (hub/web/requests.py
`moderated_meeting`). The home page asks here which meetings have something kept.

Reading only: the files themselves are served by the download routes (hub/web/transcripts.py,
hub/web/recording_routes.py), which this page links to.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from hub.errors import NotFound
from hub.ids import Identity, MeetingId
from hub.meetings.transcripts import Overview
from hub.recording.manifest import MANIFEST, Manifest, key
from hub.web.api import api_path
from hub.web.keys import CONFIG, MEETINGS, RECORDINGS, SESSION_CODEC, TRANSCRIPTS
from hub.web.recording_routes import NOT_THEIRS, download, recordings_of
from hub.web.render import render
from hub.web.requests import current_session, moderated_meeting
from hub.web.transcripts import transcript_markdown, transcript_summary, transcript_vtt

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

HOME_MEETINGS = 20  # meetings whose recordings the home page looks for (newest first)
# Longest wait for the recording store on a page (its S3 client alone would wait minutes).
STORE_WAIT = 2.0


@dataclass(frozen=True)
class KeptFile:
    """One file of a recording as the page lists it."""

    file: str
    url: str
    size: int | None  # None: the store no longer has it


@dataclass(frozen=True)
class KeptRecording:
    manifest: Manifest
    files: dict[str, KeptFile]  # by file name
    size: int  # the tracks' bytes together

    @property
    def seconds(self) -> float:
        return (self.manifest.ended_at - self.manifest.started_at).total_seconds()


@dataclass(frozen=True)
class KeptTranscript:
    overview: Overview
    expires_at: datetime
    summary: str | None


def _file_url(meeting_id: str, recording_id: str, file: str) -> str:
    return api_path(download, meeting_id=meeting_id, recording_id=recording_id, file=file)


async def kept_recordings(app: web.Application, meeting_id: MeetingId) -> list[KeptRecording]:
    """The meeting's stored recordings, oldest first, with each file's size."""
    relay = app.get(RECORDINGS)
    if relay is None:
        return []
    store = relay.store

    async def size(name: str) -> int | None:
        try:
            return await store.size(name)
        except NotFound:
            return None

    found = []
    for manifest in await recordings_of(app, meeting_id):
        names = manifest.files()
        sizes = await asyncio.gather(
            *(size(key(meeting_id, manifest.recording_id, name)) for name in names)
        )
        files = {
            name: KeptFile(name, _file_url(meeting_id, manifest.recording_id, name), measured)
            for name, measured in zip(names, sizes, strict=True)
        }
        total = sum(files[track.file].size or 0 for track in manifest.tracks)
        found.append(KeptRecording(manifest, files, total))
    return found


async def transcript_of(app: web.Application, meeting_id: MeetingId) -> KeptTranscript | None:
    overview = await app[TRANSCRIPTS].overview(meeting_id)
    if overview is None:
        return None
    days = app[CONFIG].speech.transcript_retention_days
    summary = await app[TRANSCRIPTS].summary_of(meeting_id)
    return KeptTranscript(overview, overview.last_kept_at + timedelta(days=days), summary)


async def _recorded(app: web.Application, meeting_ids: list[MeetingId]) -> set[MeetingId]:
    """Which of these meetings have a recording: the listings alone (one request each to an S3
    store), no manifest read, all within STORE_WAIT. A store that is down or stalls must not
    take the home page with it: then none, and one log line."""
    relay = app.get(RECORDINGS)
    if relay is None or not meeting_ids:
        return set()
    store = relay.store
    try:
        async with asyncio.timeout(STORE_WAIT):
            listings = await asyncio.gather(
                *(store.keys(f"{meeting}/") for meeting in meeting_ids), return_exceptions=True
            )
    except TimeoutError:
        log.warning("recordings not listed for the home page: no answer in %g s", STORE_WAIT)
        return set()
    failed = next((found for found in listings if isinstance(found, BaseException)), None)
    if failed is not None:
        log.warning("recordings not listed for the home page: %s", failed)
    return {
        meeting
        for meeting, names in zip(meeting_ids, listings, strict=True)
        if not isinstance(names, BaseException)
        and any(name.endswith(f"/{MANIFEST}") for name in names)
    }


@dataclass(frozen=True)
class KeptMeeting:
    id: MeetingId
    title: str


async def meetings_with_kept(app: web.Application, identity: Identity) -> list[KeptMeeting]:
    """Of the meetings `identity` owns or moderated that may still keep something: every one
    with a transcript (one query), and of the HOME_MEETINGS newest others, those with a
    recording (one store listing each); newest first."""
    config = app[CONFIG]
    oldest = max(config.speech.transcript_retention_days, config.recording.retention_days)
    ended_after = datetime.now(UTC) - timedelta(days=oldest)
    transcripts = app[TRANSCRIPTS]
    transcribed = await transcripts.readable_by(
        identity, ended_after=ended_after, limit=None, transcribed=True
    )
    newest = await transcripts.readable_by(identity, ended_after=ended_after, limit=HOME_MEETINGS)
    known = {meeting.id for meeting in transcribed}
    others = [meeting for meeting in newest if meeting.id not in known]
    recorded = await _recorded(app, [meeting.id for meeting in others])
    kept = transcribed + [meeting for meeting in others if meeting.id in recorded]
    kept.sort(key=lambda meeting: meeting.created_at, reverse=True)
    return [KeptMeeting(meeting.id, meeting.title) for meeting in kept]


def when_text(value: datetime) -> str:
    """`2026-12-01 09:30 UTC`, as the transcript's Markdown says when its meeting started."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration_text(seconds: float) -> str:
    """`1 h 02 min`, `3 min 05 s`, `42 s`: the same in French and English."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def size_text(lang: str, size: int) -> str:
    """`4,2 Mo` in French, `4.2 MB` in English (powers of 1000, as file managers show)."""
    units = ("o", "ko", "Mo", "Go") if lang == "fr" else ("B", "kB", "MB", "GB")
    value, unit = float(size), 0
    while value >= 1000 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    number = f"{value:.0f}" if unit == 0 or value >= 100 else f"{value:.1f}"
    return f"{number.replace('.', ',') if lang == 'fr' else number} {units[unit]}"


@routes.get("/m/{meeting_id}/kept")
async def kept_page(request: web.Request) -> web.Response:
    """What the meeting kept, for its owner and moderators; else 401, 403 or 404 as the API."""
    meeting_id = await moderated_meeting(request, NOT_THEIRS)
    app = request.app
    meeting = await app[MEETINGS].get(meeting_id)
    session = current_session(request)
    transcript = await transcript_of(app, meeting_id)
    recordings: list[KeptRecording] | None
    try:
        async with asyncio.timeout(STORE_WAIT):
            recordings = await kept_recordings(app, meeting_id)
    except TimeoutError:  # the store stalls: the transcript is still shown
        log.warning(
            "recordings not listed: no answer in %g s", STORE_WAIT, extra={"meeting_id": meeting_id}
        )
        recordings = None
    except Exception as exc:  # the store is down: the transcript is still shown
        log.warning("recordings not listed: %s", exc, extra={"meeting_id": meeting_id})
        recordings = None
    return render(
        request,
        "kept.html",
        meeting=meeting,
        transcript=transcript,
        recordings=recordings,
        recording_enabled=RECORDINGS in app,
        transcript_days=app[CONFIG].speech.transcript_retention_days,
        recording_days=app[CONFIG].recording.retention_days,
        vtt_url=api_path(transcript_vtt, meeting_id=meeting_id),
        markdown_url=api_path(transcript_markdown, meeting_id=meeting_id),
        summary_url=api_path(transcript_summary, meeting_id=meeting_id),
        when=when_text,
        duration_text=duration_text,
        size_text=size_text,
        csrf_token=app[SESSION_CODEC].csrf_token(session) if session is not None else "",
    )
