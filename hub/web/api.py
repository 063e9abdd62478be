"""The JSON API under /api/v1. One list of endpoints registers the routes and writes the
OpenAPI document, so the document cannot drift from the routes that really exist."""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub import __version__
from hub.auth.session import Session
from hub.auth.tokens import DEFAULT_LIFETIME, MAX_LIFETIME
from hub.db.models import AccessLevel, MeetingState, Role
from hub.errors import Forbidden, NotFound
from hub.ids import Identity
from hub.meetings.invitations import InvitationView
from hub.meetings.service import MAX_NAME, MAX_TITLE, MeetingService, MeetingView, clean_text
from hub.web.keys import CONFIG, INVITATIONS, JOIN_TOKENS, LIMITS, MEETINGS
from hub.web.requests import may_create_meetings, read_json, require_session
from hub.web.ws import meeting_socket

API_PREFIX = "/api/v1"


class CreateMeeting(BaseModel):
    """What a person gives to create a meeting."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=MAX_TITLE)
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

    invitee: str = Field(min_length=3, max_length=320)
    role: Literal["participant", "moderator"] = "participant"


class InvitationOut(BaseModel):
    id: int
    invitee: str
    role: Role
    created_at: datetime


class InvitationList(BaseModel):
    invitations: list[InvitationOut]


class CreateJoinToken(BaseModel):
    """A personal link: whoever opens it enters as `name`, with `role`, until it expires."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME)
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
        raise Forbidden("Connectez-vous pour créer une réunion / Log in to create a meeting")
    request.app[LIMITS].create_meeting.hit(request.remote or "-")
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
        raise Forbidden("Réservé à l'organisateur / Only the meeting's owner may do this")
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
        raise NotFound("Invitation introuvable / No such invitation")
    await request.app[INVITATIONS].revoke(meeting.id, int(raw))
    return web.Response(status=204)


async def create_join_token(request: web.Request) -> web.Response:
    _, meeting = await owned_meeting(request)
    if meeting.state is MeetingState.ENDED:
        raise Forbidden("La réunion est terminée / The meeting has ended")
    body = await read_json(request, CreateJoinToken)
    issued_at = int(time.time())
    token = request.app[JOIN_TOKENS].issue(
        meeting_id=meeting.id,
        identity=Identity(f"guest:{secrets.token_urlsafe(12)}"),
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


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    """One API route and how the OpenAPI document describes it."""

    method: str
    path: str
    handler: Handler
    summary: str
    status: int = 200
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    websocket: bool = False


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("POST", "/meetings", create_meeting, "Create a meeting owned by the caller",
             status=201, request=CreateMeeting, response=MeetingOut),
    Endpoint("GET", "/meetings", list_meetings, "List the caller's meetings that have not ended",
             response=MeetingList),
    Endpoint("GET", "/meetings/{meeting_id}", get_meeting, "Get one of the caller's meetings",
             response=MeetingOut),
    Endpoint("POST", "/meetings/{meeting_id}/invitations", create_invitation,
             "Invite someone by e-mail or Matrix id (owner only)", status=201,
             request=CreateInvitation, response=InvitationOut),
    Endpoint("GET", "/meetings/{meeting_id}/invitations", list_invitations,
             "List a meeting's invitations (owner only)", response=InvitationList),
    Endpoint("DELETE", "/meetings/{meeting_id}/invitations/{invitation_id}", delete_invitation,
             "Withdraw an invitation (owner only)", status=204),
    Endpoint("POST", "/meetings/{meeting_id}/tokens", create_join_token,
             "Issue a personal join link valid for at most an hour (owner only)", status=201,
             request=CreateJoinToken, response=JoinTokenOut),
    Endpoint("POST", "/meetings/{meeting_id}/end", end_meeting,
             "End a meeting for everyone (owner only)", response=MeetingOut),
    Endpoint("GET", "/meetings/{meeting_id}/ws", meeting_socket,
             "Join the meeting: WebSocket carrying signaling, chat and state (docs/signaling.md)",
             status=101, websocket=True),
)  # fmt: skip


def openapi_document(endpoints: tuple[Endpoint, ...]) -> dict[str, Any]:
    """OpenAPI 3.1 for `endpoints`: schemas from the pydantic models that validate them."""
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    problem = {"$ref": "#/components/schemas/Problem"}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "operationId": endpoint.handler.__name__,
            "responses": {
                "400": {"description": "Invalid request", "content": {
                    "application/problem+json": {"schema": problem}}},
                "401": {"description": "No session or token"},
                "403": {"description": "Not allowed"},
            },
        }  # fmt: skip
        parameters = [
            {"name": part[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for part in endpoint.path.split("/")
            if part.startswith("{")
        ]
        if parameters:
            operation["parameters"] = parameters
        if endpoint.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(endpoint.request)}},
            }
        success: dict[str, Any] = {"description": "Success"}
        if endpoint.response is not None:
            success["content"] = {"application/json": {"schema": ref(endpoint.response)}}
        if endpoint.websocket:
            success = {"description": "Switching protocols to a WebSocket"}
        operation["responses"][str(endpoint.status)] = success
        paths.setdefault(API_PREFIX + endpoint.path, {})[endpoint.method.lower()] = operation
    schemas["Problem"] = {
        "type": "object",
        "required": ["status", "code", "title", "detail"],
        "properties": {
            "status": {"type": "integer"},
            "code": {"type": "string"},
            "title": {"type": "string"},
            "detail": {"type": "string"},
            "reference": {"type": "string"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Visio hub API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "visio_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "security": [{"session": [], "csrf": []}],
    }


def add_api_routes(app: web.Application, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> None:
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, API_PREFIX + endpoint.path, endpoint.handler)
    document = openapi_document(endpoints)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(API_PREFIX + "/openapi.json", openapi)
