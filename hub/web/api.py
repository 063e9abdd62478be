"""The JSON API under /api/v1. One list of endpoints registers the routes and writes the
OpenAPI document, so the document cannot drift from the routes that really exist."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub import __version__
from hub.db.models import AccessLevel, MeetingState
from hub.meetings.service import MAX_TITLE, MeetingService, MeetingView
from hub.web.keys import CONFIG, MEETINGS
from hub.web.requests import read_json, require_session
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


async def get_meeting(request: web.Request) -> web.Response:
    session = require_session(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    return _json(meeting_out(request, meeting, session.identity))


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
    Endpoint("GET", "/meetings/{meeting_id}", get_meeting, "Get one meeting",
             response=MeetingOut),
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
