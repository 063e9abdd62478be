"""The JSON API under /api/v1. One list of endpoints registers the routes and writes the
OpenAPI document (hub/web/openapi.py), so the document cannot drift from the routes that
really exist."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.auth.session import Session
from hub.auth.tokens import DEFAULT_LIFETIME, MAX_LIFETIME
from hub.db.models import AccessLevel, MeetingState, Role
from hub.errors import Forbidden, NotFound
from hub.i18n import Text
from hub.ids import Identity
from hub.meetings.invitations import INVITEE_PATTERN, InvitationView
from hub.meetings.service import MAX_NAME, MAX_TITLE, MeetingService, MeetingView, clean_text
from hub.web.keys import (
    CONFIG,
    INVITATIONS,
    JOIN_TOKENS,
    LIMITS,
    MEETINGS,
    SESSION_CODEC,
)
from hub.web.meeting_socket import meeting_socket
from hub.web.openapi import NO_MEETING, Endpoint, Handler, Refusal, openapi_document
from hub.web.recording_routes import RECORDING_ENDPOINTS
from hub.web.requests import may_create_meetings, read_json, require_session
from hub.web.switches import SWITCH_ENDPOINTS
from hub.web.transcripts import (
    MARKDOWN_TYPE,
    VTT_TYPE,
    transcript_markdown,
    transcript_summary,
    transcript_vtt,
)

API_PREFIX = "/api/v1"


# What clean_text (hub/meetings/service.py) enforces, which a JSON Schema cannot say simply.
PLAIN_TEXT = (
    "Plain text: runs of whitespace become one space; blank text and control or format "
    "characters (Unicode Cc, Cf, Co, Cs) are refused with 400"
)


class CreateMeeting(BaseModel):
    """What a person gives to create a meeting."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE, description=PLAIN_TEXT)
    access_level: AccessLevel = AccessLevel.RESTRICTED


class MeetingOut(BaseModel):
    """A meeting as the API shows it (the owner's identity is not shown)."""

    id: str
    title: str
    access_level: AccessLevel
    state: MeetingState
    url: str
    is_owner: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class MeetingList(BaseModel):
    meetings: list[MeetingOut]


class CreateInvitation(BaseModel):
    """Invite someone by e-mail address or Matrix id; they then enter without waiting."""

    model_config = ConfigDict(extra="forbid")

    invitee: str = Field(
        min_length=3,
        max_length=320,
        description="An e-mail address (name@example.org) or a Matrix user id (@user:server); "
        "a partner hub's user is partner:<their identity>@<partner server name>. Anything "
        "else is refused with 400.",
        examples=["camille@example.org", "@camille:matrix.example.org"],
        # Documented only: parse_invitee checks it, with a message saying which form is wrong.
        json_schema_extra={"pattern": INVITEE_PATTERN},
    )
    role: Literal["participant", "moderator"] = "participant"


class InvitationOut(BaseModel):
    id: int
    invitee: str = Field(
        description="Who is invited, with its kind: email:<address in lower case>, "
        "matrix:@user:server or partner:<identity>@<server>",
        examples=["email:camille@example.org", "matrix:@camille:matrix.example.org"],
    )
    role: Role
    created_at: datetime


class InvitationList(BaseModel):
    invitations: list[InvitationOut]


class CreateJoinToken(BaseModel):
    """A personal link: whoever opens it enters as `name`, with `role`, until it expires."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME, description=PLAIN_TEXT)
    role: Literal["participant", "moderator"] = "participant"
    lifetime: int = Field(default=DEFAULT_LIFETIME, ge=60, le=MAX_LIFETIME)


class JoinTokenOut(BaseModel):
    token: str
    # The meeting link carrying the token in its #fragment (never sent to any server).
    url: str
    expires_at: datetime


def meeting_out(request: web.Request, meeting: MeetingView, viewer: str) -> MeetingOut:
    return MeetingOut(
        id=meeting.id,
        title=meeting.title,
        access_level=meeting.access_level,
        state=meeting.state,
        url=f"{request.app[CONFIG].public_url}/m/{meeting.id}",
        is_owner=meeting.owner_identity == viewer,
        created_at=meeting.created_at,
        started_at=meeting.started_at,
        ended_at=meeting.ended_at,
    )


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        text=model.model_dump_json(), status=status, content_type="application/json"
    )


async def create_meeting(request: web.Request) -> web.Response:
    session = require_session(request)
    if not may_create_meetings(request, session):
        raise Forbidden(text=Text("error.meeting.log_in_to_create"))
    await request.app[LIMITS].create_meeting.hit(request.remote or "-")
    body = await read_json(request, CreateMeeting)
    meeting = await request.app[MEETINGS].create(
        owner=session.identity, title=body.title, access_level=body.access_level
    )
    return _json(meeting_out(request, meeting, session.identity), status=201)


async def list_meetings(request: web.Request) -> web.Response:
    session = require_session(request)
    meetings = await request.app[MEETINGS].list_owned(session.identity)
    return _json(
        MeetingList(meetings=[meeting_out(request, m, session.identity) for m in meetings])
    )


async def owned_meeting(request: web.Request) -> tuple[Session, MeetingView]:
    """The caller's session and the meeting in the path, if the caller owns it; else 401/403."""
    session = require_session(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if meeting.owner_identity != session.identity:
        raise Forbidden(text=Text("error.owner_only"))
    return session, meeting


async def get_meeting(request: web.Request) -> web.Response:
    session, meeting = await owned_meeting(request)
    return _json(meeting_out(request, meeting, session.identity))


def invitation_out(view: InvitationView) -> InvitationOut:
    return InvitationOut(
        id=view.id, invitee=view.invitee, role=view.role, created_at=view.created_at
    )


async def create_invitation(request: web.Request) -> web.Response:
    session, meeting = await owned_meeting(request)
    body = await read_json(request, CreateInvitation)
    view = await request.app[INVITATIONS].invite(
        meeting.id, body.invitee, role=Role(body.role), by=session.identity
    )
    return _json(invitation_out(view), status=201)


async def list_invitations(request: web.Request) -> web.Response:
    _, meeting = await owned_meeting(request)
    views = await request.app[INVITATIONS].list_for(meeting.id)
    return _json(InvitationList(invitations=[invitation_out(view) for view in views]))


async def delete_invitation(request: web.Request) -> web.Response:
    _, meeting = await owned_meeting(request)
    raw = request.match_info["invitation_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(text=Text("error.invitation.missing"))
    await request.app[INVITATIONS].revoke(meeting.id, int(raw))
    return web.Response(status=204)


async def create_join_token(request: web.Request) -> web.Response:
    _, meeting = await owned_meeting(request)
    if meeting.state is MeetingState.ENDED:
        raise Forbidden(text=Text("error.meeting.ended"))
    body = await read_json(request, CreateJoinToken)
    issued_at = int(time.time())
    token = request.app[JOIN_TOKENS].issue(
        meeting_id=meeting.id,
        identity=Identity.new_guest(),
        display_name=clean_text(body.name, field="name", limit=MAX_NAME),
        role=Role(body.role),
        lifetime=body.lifetime,
        now=issued_at,
    )
    return _json(
        JoinTokenOut(
            token=token,
            url=f"{request.app[CONFIG].public_url}/m/{meeting.id}#token={token}",
            expires_at=datetime.fromtimestamp(issued_at + body.lifetime, UTC),
        ),
        status=201,
    )


async def end_meeting(request: web.Request) -> web.Response:
    session = require_session(request)
    service: MeetingService = request.app[MEETINGS]
    meeting = await service.end(request.match_info["meeting_id"], by=session.identity)
    return _json(meeting_out(request, meeting, session.identity))


# The handlers' own reasons to refuse (the session's and the body's are implied by Endpoint).
NOT_OWNER = Refusal(403, "The caller does not own the meeting (code forbidden)")
GUESTS_MAY_NOT_CREATE = Refusal(
    403, "Guests may not create meetings on this hub: log in (code forbidden)"
)
ENDED = Refusal(403, "The meeting has ended (code forbidden)")
NO_INVITATION = Refusal(404, "No such invitation (code not_found)")
NO_MEETING_ID = Refusal(409, "No free meeting id was found; try again (code conflict)")
INVITED = Refusal(409, "Already invited, or the meeting has its 500 invitations (code conflict)")
CREATING_TOO_FAST = Refusal(429, "Too many meetings created from this address (code rate_limited)")
KNOCKING_TOO_FAST = Refusal(429, "Too many knocks from this address (code rate_limited)")
NOT_A_WEBSOCKET = Refusal(400, "Not a WebSocket upgrade request (code bad_request)")
OTHER_SITE = Refusal(403, "The Origin header names another site (code forbidden)")
OWNED = (NO_MEETING, NOT_OWNER)
NOT_A_MODERATOR = Refusal(
    403, "The caller is neither the meeting's owner nor was a moderator in it (code forbidden)"
)
NO_TRANSCRIPT = Refusal(
    404, "No such meeting, or it has no transcript: never on, or expired (code not_found)"
)
TRANSCRIPT = (NOT_A_MODERATOR, NO_TRANSCRIPT)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/meetings", create_meeting, "Create a meeting owned by the caller",
             status=201, request=CreateMeeting, response=MeetingOut,
             refusals=(GUESTS_MAY_NOT_CREATE, NO_MEETING_ID, CREATING_TOO_FAST)),
    Endpoint("GET", "/meetings", list_meetings, "List the caller's meetings that have not ended",
             response=MeetingList),
    Endpoint("GET", "/meetings/{meeting_id}", get_meeting, "Get one of the caller's meetings",
             response=MeetingOut, refusals=OWNED),
    Endpoint("POST", "/meetings/{meeting_id}/invitations", create_invitation,
             "Invite someone by e-mail or Matrix id (owner only)", status=201,
             request=CreateInvitation, response=InvitationOut, refusals=(*OWNED, INVITED)),
    Endpoint("GET", "/meetings/{meeting_id}/invitations", list_invitations,
             "List a meeting's invitations (owner only)", response=InvitationList,
             refusals=OWNED),
    Endpoint("DELETE", "/meetings/{meeting_id}/invitations/{invitation_id}", delete_invitation,
             "Withdraw an invitation (owner only)", status=204,
             refusals=(*OWNED, NO_INVITATION)),
    Endpoint("POST", "/meetings/{meeting_id}/tokens", create_join_token,
             "Issue a personal join link valid for at most an hour (owner only)", status=201,
             request=CreateJoinToken, response=JoinTokenOut, refusals=(*OWNED, ENDED)),
    Endpoint("POST", "/meetings/{meeting_id}/end", end_meeting,
             "End a meeting for everyone (owner only)", response=MeetingOut, refusals=OWNED),
    *SWITCH_ENDPOINTS,
    Endpoint("GET", "/meetings/{meeting_id}/transcript.vtt", transcript_vtt,
             "Download the transcript as WebVTT, one cue per utterance with its speaker "
             "(the owner or a moderator of the meeting)", media_type=VTT_TYPE,
             refusals=TRANSCRIPT),
    Endpoint("GET", "/meetings/{meeting_id}/transcript.md", transcript_markdown,
             "Download the transcript as Markdown (the owner or a moderator of the meeting)",
             media_type=MARKDOWN_TYPE, refusals=TRANSCRIPT),
    Endpoint("GET", "/meetings/{meeting_id}/summary.md", transcript_summary,
             "Download the summary of the transcript that the operator's summary service wrote "
             "(the owner or a moderator of the meeting)", media_type=MARKDOWN_TYPE,
             refusals=TRANSCRIPT),
    Endpoint("GET", "/meetings/{meeting_id}/ws", meeting_socket,
             "Join the meeting: WebSocket carrying signaling, chat and state (docs/signaling.md)",
             status=101, websocket=True, session=False,
             refusals=(NOT_A_WEBSOCKET, OTHER_SITE, ENDED, NO_MEETING, KNOCKING_TOO_FAST)),
    *RECORDING_ENDPOINTS,
)  # fmt: skip


def api_path(handler: Handler, **parts: str) -> str:
    """The path of the endpoint `handler` answers, its `{parts}` filled in: pages link to the
    API from the one list that registers it."""
    endpoint = next(endpoint for endpoint in ENDPOINTS if endpoint.handler is handler)
    return API_PREFIX + endpoint.path.format(**parts)


def add_api_routes(app: web.Application, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> None:
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, API_PREFIX + endpoint.path, endpoint.handler)
    document = openapi_document(API_PREFIX, endpoints, app[SESSION_CODEC].cookie_name)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(API_PREFIX + "/openapi.json", openapi)
