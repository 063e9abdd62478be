"""Per-request context shared by handlers: the session, and helpers to read JSON bodies."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from hub.auth.session import Session
from hub.bounded_json import TooDeep, loads
from hub.errors import BadRequest, Forbidden, JsonTooDeep, Unauthorized
from hub.i18n import Text
from hub.ids import Identity, MeetingId
from hub.meetings.conference import Conference, Conferences
from hub.meetings.presence import Presence
from hub.meetings.subtitles import NOT_PRESENT
from hub.web.keys import CONFIG, MEETINGS, SESSION, SESSION_CODEC, TRANSCRIPTS

Model = TypeVar("Model", bound=BaseModel)


def current_session(request: web.Request) -> Session | None:
    return request.get(SESSION)


def require_session(request: web.Request) -> Session:
    """The caller's session, checked for CSRF on state-changing methods; else 401/403."""
    session = current_session(request)
    if session is None:
        raise Unauthorized(text=Text("error.session_required"))
    request.app[SESSION_CODEC].require_csrf(request, session)
    return session


def widget_mode(request: web.Request) -> bool:
    """The meeting page opened as a Matrix widget (`?widget=1`, the URL the bot puts in rooms)."""
    return request.query.get("widget") == "1"


def may_create_meetings(request: web.Request, session: Session) -> bool:
    """Anyone logged in; a guest only where the configuration allows it."""
    return not session.is_guest or request.app[CONFIG].guests_can_create


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


async def read_json(request: web.Request, model: type[Model]) -> Model:
    """Parse the body as `model`; a precise 400 for non-JSON, too deep JSON or invalid fields."""
    if request.content_type != "application/json":
        raise BadRequest("the body must be application/json")
    try:
        data = loads(await request.read())
    except TooDeep as exc:
        raise JsonTooDeep(f"the body is not acceptable: {exc}") from None
    except ValueError:  # UnicodeDecodeError included
        raise BadRequest("the body is not valid JSON") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadRequest(validation_message(exc)) from None


def present_in_call(
    conferences: Conferences, meeting_id: MeetingId, identity: Identity
) -> tuple[Conference, Presence]:
    """The live meeting and the caller as a person in it (Forbidden otherwise): checked
    before the request's body is read, as a moderator's page is in the call (subtitles,
    recording)."""
    live = conferences.get(meeting_id)
    actor = live.present_as(identity) if live is not None else None
    if live is None or actor is None:
        raise Forbidden(text=NOT_PRESENT)
    return live, actor


async def moderated_meeting(request: web.Request, refusal: Text) -> MeetingId:
    """The meeting in the path, if the caller owns it or moderated it (its transcript's and
    recordings' readers): else 401, 403 with `refusal`, 404."""
    session = require_session(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if not await request.app[TRANSCRIPTS].may_read(meeting.id, session.identity):
        raise Forbidden(text=refusal)
    return MeetingId(meeting.id)
