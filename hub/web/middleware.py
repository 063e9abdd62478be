"""Request-scoped middlewares: request id for logs and answers, and HTTP metrics."""

from __future__ import annotations

import re
import secrets
import time

from aiohttp import web

from hub.log import request_id_var
from hub.web.errors import Handler
from hub.web.keys import METRICS, SESSION, SESSION_CODEC

REQUEST_ID_HEADER = "X-Request-Id"
# A proxy's id is reused only if it is short and plain, so it cannot inject into log lines.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


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
    """Attach the caller's session; a person opening a page without one becomes a guest."""
    codec = request.app[SESSION_CODEC]
    session = codec.read(request)
    fresh = False
    if (
        session is None
        and request.method == "GET"
        and "text/html" in request.headers.get("Accept", "")
    ):
        session, fresh = codec.new_guest(), True
    if session is not None:
        request[SESSION] = session
    response = await handler(request)
    if fresh and session is not None and not response.prepared:
        codec.set_cookie(response, session)
    return response
