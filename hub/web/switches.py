"""The routes that switch something on or off in a live meeting (hub/web/api.py lists them):
live subtitles and recording. One body (`Switch`), one check of the caller (in the meeting),
then the conference's own rule, the same as for a moderator's page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StrictBool

from hub.meetings.conference import Conference
from hub.meetings.presence import Presence
from hub.meetings.subtitles import SubtitleState
from hub.web.keys import LIVE, MEETINGS
from hub.web.openapi import NO_MEETING, Endpoint, Refusal
from hub.web.requests import present_in_call, read_json, require_session


class Switch(BaseModel):
    """Start (`on`: true) or stop; the caller must be in the meeting as its owner or a
    moderator."""

    model_config = ConfigDict(extra="forbid")

    on: StrictBool


class SubtitlesOut(BaseModel):
    state: SubtitleState


class RecordingOut(BaseModel):
    recording: bool


def _json(model: BaseModel) -> web.Response:
    return web.Response(text=model.model_dump_json(), content_type="application/json")


Turn = Callable[[Conference, Presence, bool], Awaitable[None]]


async def _switch(request: web.Request, turn: Turn) -> Conference:
    """The caller, in the meeting, turns the switch through the conference (its rules)."""
    session = require_session(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    live, actor = present_in_call(request.app[LIVE], meeting.id, session.identity)
    body = await read_json(request, Switch)
    await turn(live, actor, body.on)
    return live


async def set_subtitles(request: web.Request) -> web.Response:
    live = await _switch(request, Conference.set_subtitles)
    return _json(SubtitlesOut(state=live.subtitles))


async def set_recording(request: web.Request) -> web.Response:
    live = await _switch(request, Conference.set_recording)
    return _json(RecordingOut(recording=live.recording))


NOT_MODERATING = Refusal(
    403,
    "The caller is not in the meeting as its owner or a moderator, or this hub has "
    "subtitles disabled (code forbidden)",
)
SUBTITLES_ALREADY = Refusal(409, "Subtitles are already on, or already off (code conflict)")
NOT_RECORDING_MODERATOR = Refusal(
    403,
    "The caller is not in the meeting as its owner or a moderator, or this hub has "
    "recording disabled (code forbidden)",
)
RECORDING_ALREADY = Refusal(409, "Recording is already on, or already off (code conflict)")

SWITCH_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/meetings/{meeting_id}/subtitles", set_subtitles,
             "Start or stop live subtitles (an owner or moderator in the meeting)",
             request=Switch, response=SubtitlesOut,
             refusals=(NO_MEETING, NOT_MODERATING, SUBTITLES_ALREADY)),
    Endpoint("POST", "/meetings/{meeting_id}/recording", set_recording,
             "Start or stop recording (an owner or moderator in the meeting)",
             request=Switch, response=RecordingOut,
             refusals=(NO_MEETING, NOT_RECORDING_MODERATOR, RECORDING_ALREADY)),
)  # fmt: skip
