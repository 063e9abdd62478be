"""Transcripts over HTTP and their retention: a meeting's moderators download its transcript
as WebVTT or Markdown with their session (never a public URL), and a periodic task deletes
the transcripts older than `speech.transcript_retention_days`, logging each deletion."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from hub.errors import NotFound
from hub.i18n import Text
from hub.meetings.transcript_formats import file_name, markdown, webvtt
from hub.meetings.transcript_release import TranscriptRelease
from hub.meetings.transcripts import Expired, Transcript, Transcripts
from hub.speech.summary import ChatSummariser
from hub.web.keys import CONFIG, EVENTS, LIVE, TRANSCRIPT_RELEASE, TRANSCRIPTS
from hub.web.requests import moderated_meeting

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0  # how often expired transcripts are looked for (and once at start)
VTT_TYPE = "text/vtt"
MARKDOWN_TYPE = "text/markdown"

NOT_MODERATOR = Text("error.transcript.moderators_only")
NO_SUMMARY = Text("error.summary.missing")
NO_TRANSCRIPT = Text("error.transcript.missing")


async def _readable(request: web.Request) -> Transcript:
    """The transcript in the path, if the caller moderated its meeting: else 401, 403, 404."""
    meeting_id = await moderated_meeting(request, NOT_MODERATOR)
    transcript = await request.app[TRANSCRIPTS].of(meeting_id)
    if transcript is None:
        raise NotFound(text=NO_TRANSCRIPT)
    return transcript


def _file(text: str, content_type: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


async def transcript_vtt(request: web.Request) -> web.Response:
    transcript = await _readable(request)
    return _file(webvtt(transcript), VTT_TYPE, file_name(transcript, "vtt"))


async def transcript_markdown(request: web.Request) -> web.Response:
    transcript = await _readable(request)
    return _file(markdown(transcript), MARKDOWN_TYPE, file_name(transcript, "md"))


async def transcript_summary(request: web.Request) -> web.Response:
    """The summary the operator's service wrote of the transcript, as Markdown."""
    transcript = await _readable(request)
    summary = await request.app[TRANSCRIPTS].summary_of(transcript.meeting_id)
    if summary is None:
        raise NotFound(text=NO_SUMMARY)
    return _file(summary + "\n", MARKDOWN_TYPE, f"summary-{transcript.meeting_id}.md")


async def release_context(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context (after the database's): the transcript release, with the summary
    service's HTTP session when [transcript_summary] names one."""
    config = app[CONFIG]
    session = aiohttp.ClientSession() if config.transcript_summary.enabled else None
    summariser = ChatSummariser(config.transcript_summary, session) if session else None
    release = app[TRANSCRIPT_RELEASE] = TranscriptRelease(
        app[TRANSCRIPTS], app[LIVE], app[EVENTS],
        empty_seconds=config.speech.transcript_empty_seconds, summariser=summariser,
    )  # fmt: skip
    release.start()
    try:
        yield
    finally:
        await release.close()
        if session is not None:
            await session.close()


# -- retention --------------------------------------------------------------------------------


async def delete_expired(transcripts: Transcripts, days: int, now: datetime) -> list[Expired]:
    """Delete what is older than `days`; one log line per transcript deleted."""
    expired = await transcripts.delete_expired(now - timedelta(days=days))
    for gone in expired:
        log.info(
            "transcript expired: %d lines deleted (kept %d days)",
            gone.lines,
            days,
            extra={"meeting_id": gone.meeting_id},
        )
    return expired


def retention_context(
    days: int, every: float = SWEEP_SECONDS
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context sweeping expired transcripts at start and then every `every` seconds
    (after the database context, which makes the store); a failed sweep is logged and retried
    at the next one."""

    async def sweep_forever(transcripts: Transcripts) -> None:
        while True:
            try:
                await delete_expired(transcripts, days, datetime.now(UTC))
            except Exception as exc:
                log.error("expired transcripts not deleted: %s", exc)
            await asyncio.sleep(every)

    async def context(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(
            sweep_forever(app[TRANSCRIPTS]), name="transcript-retention"
        )
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context
