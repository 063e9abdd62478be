"""HTTP side of federation: what partners ask us (signed, under /_hub/federation/v1) and the
page that sends our people into a partner's meeting (/f/{server}/{meeting}).

Every /_hub/federation/v1 request was verified before its handler runs (origin, destination,
time window, nonce, allow-list, signature: hub/federation/server.py); a handler reads who
asks with `verified(request)` and answers for meetings this hub hosts only.
"""

from __future__ import annotations

import logging

from aiohttp import web
from pydantic import ValidationError

from hub.db.models import MeetingState
from hub.errors import BadRequest, Conflict, NotFound
from hub.i18n import Text
from hub.ids import Identity, MatrixUserId, MeetingId, ServerName
from hub.meetings.ids import parse_meeting_id
from hub.meetings.presence import LobbyEntry
from hub.meetings.service import MeetingView, clean_text
from hub.web.keys import ADMISSIONS, FEDERATION, LIVE, MEETINGS
from hub.web.requests import validation_message

from . import messages as m
from .cascade import CASCADE
from .join import API, mirror_meeting
from .link import LINK_HEARTBEAT
from .people import labelled
from .server import verified

log = logging.getLogger(__name__)

routes = web.RouteTableDef()


async def _hosted(request: web.Request) -> MeetingView:
    """A meeting this hub hosts and that has not ended (a partner sees nothing else)."""
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if meeting.host_instance is not None or meeting.state is MeetingState.ENDED:
        raise NotFound(text=Text("error.meeting.missing"))
    return meeting


@routes.get(API + "/meetings/{meeting_id}")
async def meeting_info(request: web.Request) -> web.Response:
    verified(request)
    meeting = await _hosted(request)
    live = request.app[LIVE].get(meeting.id)
    info = m.MeetingInfo(
        id=meeting.id,
        title=meeting.title,
        access_level=meeting.access_level.value,
        locked=live.locked if live is not None else meeting.locked,
    )
    return web.json_response(info.model_dump())


def _matrix_user(identity: str, homeservers: tuple[str, ...]) -> MatrixUserId | None:
    """A partner's Matrix user, when their homeserver belongs to that partner."""
    said = Identity.read(identity)
    user_id = said.matrix_user if said is not None else None
    if user_id is None or not user_id.startswith("@"):
        return None
    server = user_id.split(":", 1)[1] if ":" in user_id else ""
    return user_id if server in homeservers else None


@routes.post(API + "/meetings/{meeting_id}/admissions")
async def admission(request: web.Request) -> web.Response:
    """A partner vouches for one of its people: enter (with a role) or wait in our lobby."""
    asker = verified(request)
    meeting = await _hosted(request)
    try:
        body = m.AdmissionRequest.model_validate_json(asker.body)
    except ValidationError as exc:
        raise BadRequest(f"admission: {validation_message(exc)}") from None
    app = request.app
    partner = asker.partner
    origin = ServerName(asker.origin)
    identity = Identity.vouched_by(body.identity, origin)
    admissions = app[ADMISSIONS]
    visitor = await admissions.visitor(
        meeting,
        identity,
        # Their sign-in counts here only if we trust that partner's users.
        authenticated=body.authenticated and partner.inbound_trusted,
        matrix_user=_matrix_user(body.identity, partner.matrix_homeservers),
    )
    result = admissions.decide(meeting, visitor, "partner's person", partner=origin)
    links = app[CASCADE]
    if result.enter:
        links.admit(meeting.id, origin, identity, result.role)
        answer = m.AdmissionAnswer(verdict="enter", role=result.role.value)
        return web.json_response(answer.model_dump(exclude_none=True))
    link = links.hosted.get((meeting.id, origin))
    if link is None:
        raise Conflict(text=Text("error.federation.cascade_first"))
    name = labelled(
        clean_text(body.name, field="name", limit=m.MAX_NAME_LENGTH),
        partner.label,
        body.identity,
        hosting=True,
    )
    live, entry = admissions.knock(meeting, identity, name, result.role, body.message)
    link.hold_lobby_entry(entry.entry_id)
    await live.announce_lobby()
    links.spawn(_send_verdict(app, meeting.id, origin, entry))
    answer = m.AdmissionAnswer(verdict="lobby", role=result.role.value, ticket=entry.entry_id)
    return web.json_response(answer.model_dump(exclude_none=True))


async def _send_verdict(
    app: web.Application, meeting_id: MeetingId, partner: ServerName, entry: LobbyEntry
) -> None:
    """When our moderators decide about a partner's person, tell the partner (over the link)."""
    verdict = await entry.decision
    links = app[CASCADE]
    if verdict == "admitted":
        links.admit(meeting_id, partner, entry.identity, entry.role)
    link = links.hosted.get((meeting_id, partner))
    if link is None:
        return  # the link closed: the partner already told its person to come back
    link.lobby_entry_decided(entry.entry_id)
    await link.send(m.Verdict(type="verdict", ticket=entry.entry_id, verdict=verdict))


@routes.get(API + "/meetings/{meeting_id}/link")
async def link_socket(request: web.Request) -> web.StreamResponse:
    """The cascade link a partner opens to one of our meetings (signed upgrade)."""
    asker = verified(request)
    meeting = await _hosted(request)
    ws = web.WebSocketResponse(heartbeat=LINK_HEARTBEAT, max_msg_size=m.MAX_LINK_FRAME)
    await ws.prepare(request)
    await request.app[CASCADE].serve_inbound(
        meeting, ServerName(asker.origin), asker.partner.label, ws
    )
    return ws


@routes.get("/f/{server_name}/{meeting_id}")
async def partner_meeting(request: web.Request) -> web.Response:
    """Our link to a partner's meeting: mirror it here, then our own meeting page."""
    federation = request.app.get(FEDERATION)
    meeting_id = parse_meeting_id(request.match_info["meeting_id"])
    if federation is None or meeting_id is None:
        raise NotFound(text=Text("error.meeting.missing"))
    host = ServerName(request.match_info["server_name"].lower())
    mirror = await mirror_meeting(federation, request.app[MEETINGS], host, meeting_id)
    raise web.HTTPSeeOther(f"/m/{mirror.id}")
