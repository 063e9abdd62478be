"""The meeting's WebSocket route, and what the app does with the sockets at a meeting's end
and at shutdown. Each socket is run by a `Connection` (hub/web/ws.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from hub.auth.session import Session
from hub.db.models import MeetingState
from hub.errors import Forbidden, HubError, SharedStateUnavailable
from hub.federation.cascade import CASCADE
from hub.federation.forward import FORWARDER
from hub.i18n import Text
from hub.ids import MeetingId
from hub.meetings.events import MeetingEnded, MeetingEvent
from hub.meetings.notices import Ended
from hub.meetings.service import MeetingView
from hub.web import page_messages as out
from hub.web import signaling as sig
from hub.web.keys import CONFIG, LIMITS, LIVE, MEDIA, MEETINGS, NODES, SESSION, SOCKETS
from hub.web.sockets import FAREWELL_TIMEOUT, PageSocket
from hub.web.ws import Connection

log = logging.getLogger(__name__)

HEARTBEAT = 10.0  # a ping every 10 s; no pong within 5 s closes the socket


def meeting_end_listener(app: web.Application) -> Callable[[MeetingEvent], Awaitable[None]]:
    """When a meeting ends, everyone in it is told and disconnected, and its media stops."""

    async def on_event(event: MeetingEvent) -> None:
        if not isinstance(event, MeetingEnded):
            return
        await end_here(app, event.meeting_id)
        relay = app.get(NODES)
        if relay is not None:  # the meeting may be at home on another node
            try:
                await relay.meeting_ended(event.meeting_id)
            except SharedStateUnavailable:
                log.warning("the meeting's home node could not be told it ended",
                            extra={"meeting_id": event.meeting_id})  # fmt: skip

    return on_event


async def end_here(app: web.Application, meeting_id: MeetingId) -> None:
    """Tell everyone in the meeting on this node it ended, disconnect them, stop its media."""
    await app[LIVE].end_all(meeting_id, Ended("ended"))
    await app[MEDIA].close_room(meeting_id)


def check_origin(request: web.Request) -> None:
    """Refuse cross-site WebSocket hijacking: the page must come from this very host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not a browser (browsers always send Origin on WebSocket requests)
    allowed = {request.app[CONFIG].public_url, f"{request.scheme}://{request.host}"}
    if origin.rstrip("/") not in allowed:
        raise Forbidden(text=Text("error.origin"))


async def meeting_socket(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/meetings/{meeting_id}/ws — upgrade, then run the participant's connection.

    No session is required before the upgrade: the join message brings the session's or a
    join token's identity (see hub/web/visitors.py).
    """
    check_origin(request)
    meeting = await request.app[MEETINGS].get(request.match_info["meeting_id"])
    if meeting.state is MeetingState.ENDED:
        raise Forbidden(text=Text("error.meeting.ended"))
    # Someone who has knocked too often is refused before the upgrade, with Retry-After.
    await request.app[LIMITS].lobby.check(request.remote or "-")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=sig.MAX_FRAME * 2)
    try:
        await ws.prepare(request)
    except ConnectionError:  # the client went away during the upgrade: nothing to run
        log.info("client went away during the WebSocket upgrade", extra={
            "meeting_id": meeting.id})  # fmt: skip
        return ws
    relay = request.app.get(NODES)
    remote, session = request.remote or "-", request.get(SESSION)
    if relay is None:  # a hub alone
        await run_page(request.app, ws, meeting, remote, session)
    else:
        await relay.serve(ws, meeting, remote=remote, session=session)
    return ws


async def run_page(
    app: web.Application,
    socket: PageSocket,
    meeting: MeetingView,
    remote: str,
    session: Session | None,
) -> None:
    """Run one page's `Connection` to its end: a socket of this process, or one another hub
    node holds for this meeting's home (hub/web/relay.py)."""
    connection = Connection(app, socket, meeting, remote=remote, session=session)
    app[SOCKETS].add(socket)
    try:
        await connection.run()
    except (TimeoutError, ConnectionResetError):
        pass
    except HubError as exc:
        with contextlib.suppress(Exception):
            await connection.refuse(exc)
    finally:
        app[SOCKETS].discard(socket)
        await socket.close()


async def say_farewell(app: web.Application) -> None:
    """On shutdown (SIGTERM): every page is told the hub restarts and its socket is closed
    with a code that makes it reconnect, and so is every partner hub with people in our
    meetings or whose link this node passes to another; aiohttp then has no handler left to
    wait for."""
    goodbyes = [app[SOCKETS].farewell(out.to_json(out.Restarting()), FAREWELL_TIMEOUT)]
    cascade = app.get(CASCADE)
    if cascade is not None:
        goodbyes.append(cascade.farewell(FAREWELL_TIMEOUT))
    forwarder = app.get(FORWARDER)
    if forwarder is not None:  # partners' links this node passes to other nodes
        goodbyes.append(forwarder.farewell(FAREWELL_TIMEOUT))
    await asyncio.gather(*goodbyes)
