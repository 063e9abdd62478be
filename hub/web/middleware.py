"""Request-scoped middlewares: the real client behind trusted proxies, request id for logs and
answers, HTTP metrics, sessions and security headers."""

from __future__ import annotations

import re
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Middleware

from hub.log import request_id_var
from hub.web.errors import Handler
from hub.web.keys import CLIENT, CONFIG, LOGIN_STORE, METRICS, SESSION, SESSION_CODEC
from hub.web.proxies import TrustedProxies
from hub.web.requests import widget_mode

REQUEST_ID_HEADER = "X-Request-Id"
# A proxy's id is reused only if it is short and plain, so it cannot inject into log lines.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def real_client_middleware(proxies: TrustedProxies) -> Middleware:
    """The one place that decides who the client is: every handler below sees the real
    client's address in `request.remote` and its scheme in `request.scheme` (rate limits, the
    /metrics allow-list, the WebSocket Origin check), not the reverse proxy's."""

    @web.middleware
    async def real_client(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = proxies.client(request.remote, request.scheme, request.headers)
        # On the original too: aiohttp hands the access logger the request it made, not the clone.
        request[CLIENT] = client
        if client.address == request.remote and client.scheme == request.scheme:
            return await handler(request)
        return await handler(request.clone(remote=client.address, scheme=client.scheme))

    return real_client


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _ACCEPTABLE_ID.match(incoming) else secrets.token_hex(8)
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        request_id_var.reset(token)


def route_name(request: web.Request) -> str:
    """The route template (never the raw path, whose ids would explode metric cardinality)."""
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app[METRICS]
        route = route_name(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_duration.labels(route).observe(time.perf_counter() - started)


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the caller's session; a person opening a page without one becomes a guest.

    A login's cookie counts only while its auth_sessions row is open (one primary-key
    lookup; static files skip it). The /auth/ pages never make a guest: a failed login must
    leave no session behind.
    """
    if request.path.startswith("/static/"):
        return await handler(request)
    codec = request.app[SESSION_CODEC]
    session = codec.read(request)
    if (
        session is not None
        and session.provider is not None
        and not await request.app[LOGIN_STORE].is_open(session.session_id)
    ):
        session = None
    fresh = False
    if (
        session is None
        and request.method == "GET"
        and "text/html" in request.headers.get("Accept", "")
        and not request.path.startswith("/auth/")
    ):
        session, fresh = codec.new_guest(), True
    if session is not None:
        request[SESSION] = session
    response = await handler(request)
    if fresh and session is not None and not response.prepared:
        codec.set_cookie(response, session)
    return response


# Pages load only their own scripts, styles and media; connect-src 'self' covers the
# same-origin WebSocket (CSP level 3). No page may be framed (clickjacking), except the meeting
# page in widget mode by the Matrix clients the operator listed (frame_ancestors below).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'"
)
WIDGET_PAGE = "/m/{meeting_id}"  # the route the bot's widget URL opens, with ?widget=1
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # a meeting code in a URL must not leak to other sites
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer (page, error, API, static file) carries the same protective headers."""
    response = await handler(request)
    if not response.prepared:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = (
            f"{CONTENT_SECURITY_POLICY}; frame-ancestors {frame_ancestors(request)}"
        )
        config = request.app[CONFIG]
        if not config.dev and config.public_url.startswith("https://"):
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


# The product, never its version nor Python's and aiohttp's (aiohttp's default names all three).
SERVER_NAME = "visio-hub"


async def name_the_server(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: runs for every answer aiohttp routes, including error answers,
    streamed and static files and WebSocket upgrades, which middlewares see already sent."""
    response.headers["Server"] = SERVER_NAME


def frame_ancestors(request: web.Request) -> str:
    """Who may frame this answer: the configured Matrix clients for the meeting page in widget
    mode (its error answers too, so the iframe can show them), nobody otherwise."""
    origins = request.app[CONFIG].matrix.widget_parent_origins
    if origins and widget_mode(request) and route_name(request) == WIDGET_PAGE:
        return " ".join(origins)
    return "'none'"
