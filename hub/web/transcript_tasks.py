"""The transcripts' background work, one cleanup context each (after the database's): the
release of complete transcripts (hub/meetings/transcript_release.py) with the summary
service's HTTP session, and the retention sweep. The download routes are hub/web/
transcripts.py."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import aiohttp
from aiohttp import web

from hub.meetings.transcript_release import TranscriptRelease
from hub.meetings.transcripts import Expired, Transcripts
from hub.speech.summary import ChatSummariser
from hub.web.keys import CONFIG, EVENTS, LIVE, TRANSCRIPT_RELEASE, TRANSCRIPTS

log = logging.getLogger(__name__)

SWEEP_SECONDS = 3600.0  # how often expired transcripts are looked for (and once at start)


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
