"""Matrix users join as themselves: the page proves who they are with a Matrix OpenID token.

The meeting page, opened as a widget in Element or Tchap, asks the Matrix client for an
OpenID token (widget API `get_openid`) and posts it here with the server name it came from.
The hub asks that homeserver (only one the operator listed in matrix.allowed_homeservers)
who the token belongs to, and the browser's session becomes `matrix:@user:server` — an
authenticated identity, no second login. The session has a login row like any other, so
logging out ends it.

Inside the Matrix client's iframe the page is a third-party document: the browser neither
sends nor stores the hub's SameSite=Lax cookie there. So the widget posts its token to
`/auth/matrix/widget` instead, which answers (in the body, never a cookie) a short-lived join
token for that one meeting that proves who the person is and grants nothing more: the page
hands it to the socket on join, and the meeting's usual rules decide whether they enter.
"""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.auth.matrix_openid import verify_openid
from hub.auth.session import Session
from hub.db.models import MeetingState
from hub.errors import BadRequest, Forbidden, HubError, ServiceUnavailable
from hub.i18n import Text, negotiate, say
from hub.ids import Identity
from hub.meetings.service import MAX_NAME, clean_text
from hub.web.keys import (
    CONFIG,
    FEDERATION,
    JOIN_TOKENS,
    LIMITS,
    LOGIN_STORE,
    MEETINGS,
    SESSION_CODEC,
)
from hub.web.login import LOGINS
from hub.web.requests import read_json, require_session

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
MATRIX_PROVIDER = "matrix"
# The widget's identity token: long enough for a join and its reconnections, and the page
# asks for a fresh one (a new OpenID token) when it runs out.
WIDGET_TOKEN_LIFETIME = 900


class MatrixLogin(BaseModel):
    """What the widget got from the Matrix client, and the name it shows there."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(min_length=1, max_length=512)
    matrix_server_name: str = Field(min_length=1, max_length=255)
    display_name: str | None = Field(default=None, max_length=MAX_NAME)


class MatrixIdentity(BaseModel):
    identity: str
    display_name: str
    csrf_token: str


class WidgetLogin(MatrixLogin):
    """The same, from the meeting page in widget mode, for this meeting."""

    meeting_id: str = Field(min_length=1, max_length=64)


class WidgetIdentity(BaseModel):
    identity: str
    display_name: str
    token: str  # a join token without a role: proves the identity, grants no entry
    expires_in: int


async def _matrix_user(request: web.Request, body: MatrixLogin) -> tuple[Identity, str]:
    """The hub identity the homeserver vouches for, and the name to show for it."""
    config = request.app[CONFIG]
    user_id = await verify_openid(
        request.app[LOGINS].http,
        body.access_token,
        body.matrix_server_name,
        overrides=config.matrix.homeserver_overrides,
        allowed_homeservers=config.matrix.allowed_homeservers,
    )
    localpart = user_id[1:].split(":", 1)[0]
    try:
        name = clean_text(body.display_name or localpart, field="display_name", limit=MAX_NAME)
    except BadRequest:
        name = localpart[:MAX_NAME]
    return Identity.matrix(user_id), name


def _refused(what: str, exc: HubError) -> None:
    """One log line per refusal, with why (messages never quote the token)."""
    if not isinstance(exc, ServiceUnavailable):  # verify_openid has logged that one, in full
        log.info("%s refused (%d): %s", what, exc.status, exc.detail)


@routes.post("/auth/matrix")
async def matrix_login(request: web.Request) -> web.Response:
    """Turn the page's session into the Matrix user's, once their homeserver vouches."""
    require_session(request)  # the page's own session and CSRF token: no login CSRF
    await request.app[LIMITS].login.hit(request.remote or "-")
    try:
        identity, name = await _matrix_user(request, await read_json(request, MatrixLogin))
    except HubError as exc:
        _refused("matrix login", exc)
        raise
    config = request.app[CONFIG]
    session = Session(
        identity=identity,
        display_name=name,
        session_id=secrets.token_urlsafe(24),
        expires_at=int(time.time()) + config.auth.session_lifetime,
        provider=MATRIX_PROVIDER,
    )
    await request.app[LOGIN_STORE].open(session, id_token="")
    log.info("matrix login", extra={"identity": session.identity})
    codec = request.app[SESSION_CODEC]
    answer = MatrixIdentity(
        identity=session.identity, display_name=name, csrf_token=codec.csrf_token(session)
    )
    response = web.Response(
        text=answer.model_dump_json(),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
    codec.set_cookie(response, session)
    return response


async def _partner_way_in(
    request: web.Request, homeserver: str, meeting_id: str
) -> web.Response | None:
    """For a member of a partner ministry's homeserver (one we do not verify ourselves): not
    an error but a way in — their own hub's link to this meeting (hub/federation)."""
    federation = request.app.get(FEDERATION)
    if federation is None or homeserver in request.app[CONFIG].matrix.allowed_homeservers:
        return None
    partner = await federation.policy.partner_for_homeserver(homeserver)
    if partner is None:
        return None
    log.info("matrix widget: member of a partner's homeserver sent to its hub")
    lang = negotiate(request)
    return web.json_response(
        {
            "status": 409,
            "code": "use_partner_hub",
            "title": say(lang, Text("error.title.use_partner_hub")),
            "detail": f"{partner.label} : {partner.base_url}",
            "partner": partner.label,
            "partner_url": partner.meeting_url(federation.server_name, meeting_id),
        },
        status=409,
        content_type="application/problem+json",
        headers={"Cache-Control": "no-store", "Content-Language": lang},
    )


@routes.post("/auth/matrix/widget")
async def matrix_widget_login(request: web.Request) -> web.Response:
    """An identity token for one meeting, once the user's homeserver vouches.

    Needs no session and sets no cookie (inside the Matrix client's iframe there is neither),
    so there is no login CSRF to fear: the answer only reaches the page that posted the token.
    """
    await request.app[LIMITS].login.hit(request.remote or "-")
    try:
        body = await read_json(request, WidgetLogin)
        meeting = await request.app[MEETINGS].get(body.meeting_id)
        if meeting.state is MeetingState.ENDED:
            raise Forbidden(text=Text("error.meeting.ended"))
        elsewhere = await _partner_way_in(request, body.matrix_server_name, meeting.id)
        if elsewhere is not None:
            return elsewhere
        identity, name = await _matrix_user(request, body)
    except HubError as exc:
        _refused("matrix widget identity", exc)
        raise
    token = request.app[JOIN_TOKENS].issue(
        meeting_id=meeting.id,
        identity=identity,
        display_name=name,
        role=None,
        lifetime=WIDGET_TOKEN_LIFETIME,
    )
    log.info("matrix widget identity", extra={"identity": identity, "meeting_id": meeting.id})
    answer = WidgetIdentity(
        identity=identity, display_name=name, token=token, expires_in=WIDGET_TOKEN_LIFETIME
    )
    return web.Response(
        text=answer.model_dump_json(),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
