"""The bridge API under /api/v1/bridge: `HubPort` over HTTP for a bot run alone (`hub bridge`).

One route per `HubPort` method, each a thin call on the app's `LocalHub` (hub/web/bridge.py),
plus `GET /api/v1/bridge/events`, a WebSocket streaming bridge events as JSON. Bodies and
answers have the shape bridge/wire.py gives them; room ids ride percent-encoded in the path.

Off unless `matrix.bridge_token` is set: every route then answers 404. Callers send
`Authorization: Bearer <token>`: none is 401, a wrong one 403. A refusal for the room is 409
with its catalog key and values; other errors are answered by the error middleware, as
everywhere.

On hub nodes (`[redis] url`) any node serves a bridge: its calls reach each live meeting at
its home node (hub/web/bot_reach.py), and its event socket reads the bot's stream, the one
reader of it while it holds the lease `bot` (hub/web/bridge_feed.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import WSCloseCode, web

from bridge import wire
from bridge.hub_port import BridgeEvent, HubRefusal
from hub.errors import BadRequest, Forbidden, Unauthorized
from hub.i18n import Text
from hub.web.bot_host import node_hub
from hub.web.bot_reach import NodeReach
from hub.web.bridge import LocalHub, local_hub
from hub.web.bridge_feed import StreamFeed
from hub.web.errors import PROBLEM_TYPE, problem_response
from hub.web.keys import CONFIG, NODES, SHARED
from hub.web.requests import read_json

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 30.0
# Events a bridge may fall behind on its socket before it is cut off (it reconnects).
MAX_PENDING_EVENTS = 1000
# 10,000 members of 255-character ids is about 2.7 MB, above the app's 1 MiB default.
MEMBERS_BODY_LIMIT = 4 * 1024 * 1024


class BridgeApi:
    """Owns the `LocalHub` a standalone bridge talks to, the bridges' open event sockets and,
    on hub nodes, this node's reach to the meetings' homes and the feed of the bot's stream.
    Created on app start when matrix.bridge_token is set; sockets closed on shutdown, the hub
    released on cleanup."""

    def __init__(
        self, hub: LocalHub, reach: NodeReach | None = None, feed: StreamFeed | None = None
    ) -> None:
        self.hub = hub
        self.sockets: set[web.WebSocketResponse] = set()
        self._reach = reach
        self.feed = feed

    async def close_sockets(self) -> None:
        await asyncio.gather(
            *(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")
                for ws in list(self.sockets)
            ),
            return_exceptions=True,
        )

    async def close(self) -> None:
        await self.hub.close()
        if self._reach is not None:
            await self._reach.close()


BRIDGE_API = web.AppKey("bridge_api", BridgeApi)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BridgeHandler = Callable[[web.Request, BridgeApi], Awaitable[web.StreamResponse]]


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header (scheme in any case); None when
    the header is missing, empty or of another scheme."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _guarded(handler: BridgeHandler) -> Handler:
    """404 while the API is off, 401/403 without the right token, 409 for a refusal."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        expected = request.app[CONFIG].matrix.bridge_token.get_secret_value()
        api = request.app.get(BRIDGE_API)
        if not expected or api is None:
            raise web.HTTPNotFound()
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            log.warning("bridge API: request without a bearer token refused")
            return problem_response(
                request,
                status=401,
                code="unauthorized",
                title=Unauthorized.title,
                text=Text("error.bridge.token_missing"),
                headers={"WWW-Authenticate": 'Bearer realm="visio-bridge"'},
            )
        if not hmac.compare_digest(token.encode(), expected.encode()):
            log.warning("bridge API: request with a wrong bearer token refused")
            raise Forbidden(text=Text("error.bridge.token_wrong"))
        try:
            return await handler(request, api)
        except HubRefusal as refusal:
            return web.json_response(
                wire.refusal_to_json(refusal), status=409, content_type=PROBLEM_TYPE
            )

    guarded.__name__ = handler.__name__
    return guarded


def _room_id(request: web.Request) -> str:
    try:
        return wire.check_room_id(request.match_info["room_id"])
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


async def start_meeting(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.StartMeeting)
    meeting = await api.hub.start_meeting(room_id, by=body.by, title=body.title)
    return web.json_response(wire.meeting_to_json(meeting))


async def room_meeting(request: web.Request, api: BridgeApi) -> web.Response:
    meeting = await api.hub.room_meeting(_room_id(request))
    return web.json_response(wire.MeetingReply(meeting=meeting).model_dump(mode="json"))


async def end_meeting(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.EndMeeting)
    await api.hub.end_meeting(room_id, by=body.by)
    return web.Response(status=204)


async def set_locked(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.SetLocked)
    meeting = await api.hub.set_locked(room_id, body.locked, by=body.by)
    return web.json_response(wire.meeting_to_json(meeting))


async def set_subtitles(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.Switch)
    await api.hub.set_subtitles(room_id, body.on, by=body.by)
    return web.Response(status=204)


async def set_recording(request: web.Request, api: BridgeApi) -> web.Response:
    body = await read_json(request, wire.Switch)
    await api.hub.set_recording(_room_id(request), body.on, by=body.by)
    return web.Response(status=204)


async def admit(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.AdmitWaiting)
    numbers = tuple(body.numbers) if body.numbers is not None else None
    names = await api.hub.admit(room_id, numbers, by=body.by)
    return web.json_response(wire.NamesReply(names=names).model_dump(mode="json"))


async def refuse(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.RefuseWaiting)
    name = await api.hub.refuse(room_id, body.number, by=body.by, reason=body.reason)
    return web.json_response(wire.NameReply(name=name).model_dump(mode="json"))


async def room_language(request: web.Request, api: BridgeApi) -> web.Response:
    language = await api.hub.room_language(_room_id(request))
    return web.json_response(wire.LanguageReply(language=language).model_dump(mode="json"))


async def set_room_language(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.SetLanguage)
    await api.hub.set_room_language(room_id, body.language, by=body.by)
    return web.Response(status=204)


async def mute(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.NamedPerson)
    name = await api.hub.mute(room_id, body.name, by=body.by)
    return web.json_response(wire.NameReply(name=name).model_dump(mode="json"))


async def invite(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.Invite)
    meeting = await api.hub.invite(room_id, body.user_id, by=body.by)
    return web.json_response(wire.meeting_to_json(meeting))


async def post_chat(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.PostChat)
    posted = await api.hub.post_chat(room_id, sender=body.sender, name=body.name, text=body.text)
    return web.json_response(wire.PostedReply(posted=posted).model_dump(mode="json"))


async def remember_status(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request, wire.RememberStatus)
    await api.hub.remember_status(room_id, body.meeting_id, body.event_id)
    return web.Response(status=204)


async def update_room(request: web.Request, api: BridgeApi) -> web.Response:
    room_id = _room_id(request)
    body = await read_json(request.clone(client_max_size=MEMBERS_BODY_LIMIT), wire.UpdateRoom)
    await api.hub.update_room(room_id, body.members)
    return web.Response(status=204)


async def events_socket(request: web.Request, api: BridgeApi) -> web.StreamResponse:
    """Every bridge event while the socket is open. A hub alone queues them per socket so a
    slow bridge never holds up the meeting that published them; one that falls too far
    behind is disconnected (code 1013) and reconnects. Hub nodes feed it the bot's stream,
    at least once (hub/web/bridge_feed.py)."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=4096)
    if api.feed is not None:
        await ws.prepare(request)
        api.sockets.add(ws)
        try:
            await api.feed.serve(ws)
        finally:
            api.sockets.discard(ws)
            await ws.close()
        return ws
    pending: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING_EVENTS)
    lagging = asyncio.Event()

    async def deliver(event: BridgeEvent) -> None:
        try:
            pending.put_nowait(json.dumps(wire.event_to_json(event), ensure_ascii=False))
        except asyncio.QueueFull:
            lagging.set()

    async def forward() -> None:
        while True:
            await ws.send_str(await pending.get())

    async def read() -> None:
        async for _ in ws:  # the bridge sends nothing; reading notices its close
            pass

    # Listening before the handshake: a bridge that sees its socket open misses no event.
    unlisten = api.hub.listen(deliver)
    tasks: list[asyncio.Task[object]] = []
    try:
        await ws.prepare(request)
        api.sockets.add(ws)
        tasks = [asyncio.create_task(work) for work in (forward(), read(), lagging.wait())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        unlisten()
        api.sockets.discard(ws)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if lagging.is_set():
        log.warning(
            "bridge events: a bridge fell %d events behind; disconnected", MAX_PENDING_EVENTS
        )
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too far behind")
    else:
        await ws.close()
    return ws


ROUTES: tuple[tuple[str, str, BridgeHandler], ...] = (
    ("POST", "/rooms/{room_id}/start", start_meeting),
    ("GET", "/rooms/{room_id}/meeting", room_meeting),
    ("POST", "/rooms/{room_id}/end", end_meeting),
    ("POST", "/rooms/{room_id}/lock", set_locked),
    ("POST", "/rooms/{room_id}/subtitles", set_subtitles),
    ("POST", "/rooms/{room_id}/recording", set_recording),
    ("POST", "/rooms/{room_id}/admit", admit),
    ("POST", "/rooms/{room_id}/refuse", refuse),
    ("GET", "/rooms/{room_id}/language", room_language),
    ("PUT", "/rooms/{room_id}/language", set_room_language),
    ("POST", "/rooms/{room_id}/mute", mute),
    ("POST", "/rooms/{room_id}/invite", invite),
    ("POST", "/rooms/{room_id}/chat", post_chat),
    ("POST", "/rooms/{room_id}/status", remember_status),
    ("PUT", "/rooms/{room_id}/members", update_room),
    ("GET", "/events", events_socket),
)


async def bridge_api_context(app: web.Application) -> AsyncIterator[None]:
    """The bridge API's `LocalHub`, only while matrix.bridge_token is set."""
    if not app[CONFIG].matrix.bridge_token.get_secret_value():
        yield
        return
    relay = app.get(NODES)  # with [redis] url: the meetings live on their home nodes
    if relay is None:
        api = BridgeApi(local_hub(app))
    else:
        hub, reach = await node_hub(app, relay.node, relay.homes)
        api = BridgeApi(hub, reach, StreamFeed(app[SHARED], relay.node, hub))
    app[BRIDGE_API] = api
    try:
        yield
    finally:
        await api.close()


async def _close_event_sockets(app: web.Application) -> None:
    """On shutdown, before the runner waits for handlers: bridges reconnect to the next hub."""
    api = app.get(BRIDGE_API)
    if api is not None:
        await api.close_sockets()


def add_bridge_api(app: web.Application) -> None:
    """Register the bridge routes (always, so they answer 404 rather than vanish when off)."""
    for method, path, handler in ROUTES:
        app.router.add_route(method, wire.PREFIX + path, _guarded(handler))
    app.cleanup_ctx.append(bridge_api_context)
    app.on_shutdown.append(_close_event_sockets)
