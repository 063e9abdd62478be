"""The recording routes of the JSON API (hub/web/api.py lists them): the meeting's owner or
moderators list its recordings and download their files, always through the hub (no store URL
is ever handed out). Starting and stopping is hub/web/switches.py's."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from hub.errors import NotFound
from hub.i18n import Text
from hub.recording.manifest import Manifest, is_recording_id, key
from hub.recording.retention import manifests
from hub.web.keys import RECORDINGS
from hub.web.openapi import NO_MEETING, Endpoint, Refusal
from hub.web.requests import moderated_meeting

NOT_THEIRS = Text("error.recording.not_theirs")
NO_FILE = Text("error.recording.missing")


class RecordingList(BaseModel):
    recordings: list[Manifest]


async def _moderated(request: web.Request) -> str:
    # The same rule as for its transcript: its owner, or whoever moderated it.
    return await moderated_meeting(request, NOT_THEIRS)


async def recordings_of(app: web.Application, meeting_id: str) -> list[Manifest]:
    """The meeting's stored recordings, oldest first (none without recording)."""
    relay = app.get(RECORDINGS)
    found = [] if relay is None else [m async for m in manifests(relay.store, f"{meeting_id}/")]
    found.sort(key=lambda manifest: manifest.started_at)
    return found


async def list_recordings(request: web.Request) -> web.Response:
    meeting_id = await _moderated(request)
    body = RecordingList(recordings=await recordings_of(request.app, meeting_id)).model_dump_json()
    return web.Response(text=body, content_type="application/json")


async def download(request: web.Request) -> web.StreamResponse:
    meeting_id = await _moderated(request)
    relay = request.app.get(RECORDINGS)
    rid, file = request.match_info["recording_id"], request.match_info["file"]
    if relay is None or not is_recording_id(rid):
        raise NotFound(text=NO_FILE)
    try:
        manifest = Manifest.parse(await relay.store.read(key(meeting_id, rid)))
    except ValueError:
        raise NotFound(text=NO_FILE) from None
    if file != "manifest.json" and file not in manifest.files():
        raise NotFound(text=NO_FILE)  # only what the manifest lists, never an arbitrary key
    name = key(meeting_id, rid, file)
    size = await relay.store.size(name)
    media = {"webm": "video/webm", "ogg": "audio/ogg", "json": "application/json"}
    response = web.StreamResponse(
        headers={
            "Content-Type": media.get(file.rpartition(".")[2], "application/octet-stream"),
            "Content-Length": str(size),
            "Content-Disposition": f'attachment; filename="{meeting_id}-{rid}-{file}"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for chunk in relay.store.chunks(name):
        await response.write(chunk)
    await response.write_eof()
    return response


NOT_THEIR_MEETING = Refusal(403, "The caller is not the meeting's owner or a moderator of it")
NO_RECORDING = Refusal(404, "No such meeting, recording or file (code not_found)")

RECORDING_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/meetings/{meeting_id}/recordings", list_recordings,
             "List a meeting's recordings (its owner or moderators)", response=RecordingList,
             refusals=(NO_MEETING, NOT_THEIR_MEETING)),
    Endpoint("GET", "/meetings/{meeting_id}/recordings/{recording_id}/{file}", download,
             "Download one file of a recording (its owner or moderators)",
             refusals=(NO_RECORDING, NOT_THEIR_MEETING)),
)  # fmt: skip
