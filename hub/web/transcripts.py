"""Transcripts over HTTP: a meeting's moderators download its transcript as WebVTT or Markdown,
and its summary, with their session (never a public URL). Their release and retention run in
hub/web/transcript_tasks.py."""

from __future__ import annotations

import logging

from aiohttp import web

from hub.errors import NotFound
from hub.i18n import Text
from hub.meetings.transcript_formats import file_name, markdown, webvtt
from hub.meetings.transcripts import Transcript
from hub.web.keys import TRANSCRIPTS
from hub.web.requests import moderated_meeting

log = logging.getLogger(__name__)

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
