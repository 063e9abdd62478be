"""Matrix users join as themselves: the page proves who they are with a Matrix OpenID token.

The meeting page, opened as a widget in Element or Tchap, asks the Matrix client for an
OpenID token (widget API `get_openid`) and posts it here with the server name it came from.
The hub asks that homeserver (only one the operator listed in matrix.allowed_homeservers)
who the token belongs to, and the browser's session becomes `matrix:@user:server` — an
authenticated identity, no second login. The session has a login row like any other, so
logging out ends it.
"""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.auth.matrix_openid import verify_openid
from hub.auth.session import Session
from hub.errors import BadRequest
from hub.ids import Identity
from hub.meetings.service import MAX_NAME, clean_text
from hub.web.keys import CONFIG, LIMITS, LOGIN_STORE, SESSION_CODEC
from hub.web.login import LOGINS
from hub.web.requests import read_json, require_session

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
MATRIX_PROVIDER = "matrix"


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


@routes.post("/auth/matrix")
async def matrix_login(request: web.Request) -> web.Response:
    """Turn the page's session into the Matrix user's, once their homeserver vouches."""
    require_session(request)  # the page's own session and CSRF token: no login CSRF
    request.app[LIMITS].login.hit(request.remote or "-")
    body = await read_json(request, MatrixLogin)
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
    session = Session(
        identity=Identity(f"matrix:{user_id}"),
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
