"""A partner's requests for one of our meetings reach the node where that meeting lives.

With several hub nodes (`[redis] url`), a live meeting's conference, lobby and cascade links
are on its home node (hub/nodes/homes.py), but a partner reaches us through the load
balancer, which may pick any node. So before its signature is checked, a request for a
meeting (`…/meetings/{id}`, `…/admissions`, the `…/link` WebSocket) is passed unchanged to the
home's direct address (`server.node_url`, which the home publishes in its lease): same
method, path, signature and body, so the home checks the signature once and claims the nonce
once (a check here and again at home would see a replay). A WebSocket is pumped both ways,
frame by frame, until either side closes. If nobody is home, this node becomes home for the
request, and for a link for its whole life, as for a page's socket; when this node stops
being home, the partners' links here are told it restarts, so they come back to the new one.

Never logged here: the Authorization header (the signature) or the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator

import aiohttp
from aiohttp import WSMsgType, hdrs, web
from yarl import URL

from hub.auth.http import read_bounded
from hub.errors import HubError, NotFound, ServiceUnavailable
from hub.i18n import Text
from hub.ids import MeetingId
from hub.meetings.ids import parse_meeting_id
from hub.nodes.homes import Home
from hub.tasks import Tasks
from hub.web.errors import Handler
from hub.web.keys import FEDERATION, NODES
from hub.web.relay import NodeRelay

from . import messages as m
from .cascade import CASCADE, CascadeLinks
from .join import API
from .link import LINK_HEARTBEAT

log = logging.getLogger(__name__)

MEETING_PATH = re.compile(rf"^{re.escape(API)}/meetings/([^/]+)(?:/(admissions|link))?$")
# Set on a request this node passes to another: the receiver serves it or refuses it, never
# passes it on (two nodes with different views of who is home cannot bounce it forever).
FORWARDED_BY = "X-Hub-Forwarded-By"
PASSED_ON = (hdrs.AUTHORIZATION, hdrs.CONTENT_TYPE, hdrs.ACCEPT)
PASSED_BACK = (hdrs.CONTENT_TYPE, hdrs.RETRY_AFTER)
HOME_WAIT = 5.0  # a dead home's lease expires within 3 s: then this node may take the meeting
RETRY_EVERY = 0.2
HANDOVER_WAIT = 1.0  # for partners' links to hear that the meeting leaves this node
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=2, sock_read=10)
MAX_ANSWER = 1024 * 1024


class HomeUnreachable(ServiceUnavailable):
    code = "meeting_home_unreachable"


class MeetingMoved(ServiceUnavailable):
    code = "meeting_moved"


def _refuse(request: web.Request, meeting: str, error: HubError) -> HubError:
    """One line for a request not served (never its headers or body), then the error."""
    log.warning("partner request for a meeting not served: %s %s: %s (%s)",
                request.method, _shown(request), error.detail, error.code,
                extra={"meeting_id": meeting})  # fmt: skip
    return error


def _shown(request: web.Request) -> str:
    """The path as it came, still percent-encoded (a decoded one could hold a line break)."""
    return request.rel_url.raw_path[:200]


class _NoConnection(Exception):
    """Nothing reached the home (refused, no route): the request may be tried again."""


@contextlib.contextmanager
def _reaching(node: str) -> Iterator[None]:
    """A request to the home node: nothing reached it, `_NoConnection` (it may be tried
    again); it went out but no answer came, `HomeUnreachable` (never sent twice). A home's
    refused WebSocket upgrade passes through, for the caller to answer with its status."""
    try:
        yield
    except aiohttp.WSServerHandshakeError:
        raise
    except aiohttp.ClientConnectorError as exc:
        raise _NoConnection(f"node {node}: {type(exc).__name__}") from None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise HomeUnreachable(
            text=Text("error.node.no_answer", {"failure": type(exc).__name__})
        ) from None


class PartnerForwarder:
    """Owns the HTTP session to the other nodes and the partners' links it pumps. Made by
    `forwarding_context` when this node is one of several and federation is on; `close()`
    ends the pumps and the session."""

    def __init__(self, relay: NodeRelay, links: CascadeLinks) -> None:
        self._relay = relay
        self._links = links
        self._session = aiohttp.ClientSession(
            timeout=TIMEOUT, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False
        )
        self._tasks = Tasks()
        # One event per pumped link: set, it ends the pump with 1012 (this node stops).
        self._pumped: set[asyncio.Event] = set()
        self._pumps_done = asyncio.Event()
        self._pumps_done.set()
        relay.home_lost_hooks.append(self._home_lost)
        relay.hand_over_hooks.append(self._hand_over)

    async def close(self) -> None:
        with contextlib.suppress(ValueError):
            self._relay.home_lost_hooks.remove(self._home_lost)
        with contextlib.suppress(ValueError):
            self._relay.hand_over_hooks.remove(self._hand_over)
        self._tasks.cancel()
        await self._session.close()

    async def farewell(self, within: float) -> None:
        """This node stops: every partner link it pumps is told the hub restarts and closed
        with 1012 (it reconnects through the load balancer to another node), and so is its
        upstream, within `within` seconds; aiohttp has no pump left to wait for."""
        for stopping in self._pumped:
            stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pumps_done.wait(), within)

    async def route(
        self, request: web.Request, handler: Handler, meeting: MeetingId
    ) -> web.StreamResponse:
        """Serve the request here while this node is (or becomes) the meeting's home, else
        pass it to the home; a home that does not answer is waited for until its lease
        expires (HOME_WAIT), then 503."""
        homes = self._relay.homes
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HOME_WAIT
        forwarded = FORWARDED_BY in request.headers
        while True:
            home = await homes.claim(meeting)
            if home.node == homes.node:
                try:
                    if home.fresh:
                        await self._relay.took_over(meeting)
                    return await handler(request)  # a link: as long as it is open
                finally:
                    await homes.release(meeting, home)
            if home.node is not None and forwarded:
                raise _refuse(request, meeting, MeetingMoved(text=Text("error.node.moved")))
            if home.node is not None and home.address is None:
                silent = Text("error.node.no_address", {"node": home.node})
                raise _refuse(request, meeting, HomeUnreachable(text=silent))
            if home.node is not None:
                try:
                    return await self._forward(request, home)
                except _NoConnection as exc:
                    failure = str(exc)
                except HomeUnreachable as exc:  # it may have served it: never sent twice
                    raise _refuse(request, meeting, exc) from None
            else:
                failure = "nobody is home and the lease is not free yet"
            if loop.time() + RETRY_EVERY > deadline:
                silent = Text("error.node.silent", {"failure": failure})
                raise _refuse(request, meeting, HomeUnreachable(text=silent))
            await asyncio.sleep(RETRY_EVERY)

    async def _forward(self, request: web.Request, home: Home) -> web.StreamResponse:
        assert home.address is not None and home.node is not None
        url = URL(home.address + request.rel_url.raw_path_qs, encoded=True)
        headers = {str(k): request.headers[k] for k in PASSED_ON if k in request.headers}
        headers[FORWARDED_BY] = self._relay.node
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return await self._pump(request, url, headers, home.node)
        body = await request.read()  # bounded by the app's client_max_size, as at home
        with _reaching(home.node):
            async with self._session.request(
                request.method, url, data=body, headers=headers, allow_redirects=False
            ) as answer:
                raw = await read_bounded(answer, MAX_ANSWER)
                passed = {k: answer.headers[k] for k in PASSED_BACK if k in answer.headers}
                status = answer.status
        log.info("partner request %s %s passed to node %s: %d", request.method, _shown(request),
                 home.node, status)  # fmt: skip
        return web.Response(status=status, body=raw, headers=passed)

    async def _pump(
        self, request: web.Request, url: URL, headers: dict[str, str], node: str
    ) -> web.StreamResponse:
        """A partner's link to a meeting at home elsewhere: opened there with the partner's
        own signed upgrade, then every frame passed on, both ways."""
        try:
            with _reaching(node):
                upstream = await self._session.ws_connect(
                    url, headers=headers, heartbeat=LINK_HEARTBEAT, max_msg_size=m.MAX_LINK_FRAME
                )
        except aiohttp.WSServerHandshakeError as exc:
            # The home refused it (and logged why): the partner gets the same status.
            log.info("partner link refused by node %s: %d", node, exc.status)
            return web.json_response(
                {"code": "refused_by_meeting_node", "detail": exc.message}, status=exc.status
            )
        ws = web.WebSocketResponse(heartbeat=LINK_HEARTBEAT, max_msg_size=m.MAX_LINK_FRAME)
        stopping = asyncio.Event()
        self._pumped.add(stopping)
        self._pumps_done.clear()
        async with contextlib.AsyncExitStack() as stack:
            stack.callback(self._unpumped, stopping)
            stack.push_async_callback(upstream.close)
            await ws.prepare(request)
            log.info("partner link passed to node %s", node)
            down = asyncio.ensure_future(_pass(upstream, ws))
            up = asyncio.ensure_future(_pass(ws, upstream))
            stop = asyncio.ensure_future(stopping.wait())
            try:
                await asyncio.wait((down, up, stop), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (down, up, stop):
                    task.cancel()
                await asyncio.gather(down, up, stop, return_exceptions=True)
            if stopping.is_set():  # this node stops: the partner reconnects elsewhere
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_str(m.to_json(m.Restarting(type="restarting")))
                await ws.close(code=1012)
            elif down.done():  # the home closed it (or died): the partner hears the same
                await ws.close(code=_passable(upstream.close_code))
            log.info("partner link to node %s closed", node)
        return ws

    def _unpumped(self, stopping: asyncio.Event) -> None:
        self._pumped.discard(stopping)
        if not self._pumped:
            self._pumps_done.set()

    def _home_lost(self, meeting: MeetingId) -> None:
        """This node is no longer the meeting's home: its partners' links here are told it
        restarts and closed, so they reconnect (through the load balancer, to the new home)."""
        self._tasks.spawn(self._links.farewell(HANDOVER_WAIT, meeting=meeting))

    async def _hand_over(self, meeting: MeetingId) -> None:
        """A drain hands the meeting over: its partners' links here are told it restarts and
        let go before the meeting's lease is (bounded by HANDOVER_WAIT)."""
        await self._links.farewell(HANDOVER_WAIT, meeting=meeting)


async def _pass(
    source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
    sink: web.WebSocketResponse | aiohttp.ClientWebSocketResponse,
) -> None:
    """Frames from `source` to `sink` until `source` closes."""
    async for frame in source:
        if frame.type is WSMsgType.TEXT:
            await sink.send_str(frame.data)
        elif frame.type is WSMsgType.BINARY:
            await sink.send_bytes(frame.data)
        else:
            return


def _passable(code: int | None) -> int:
    """A close code that may be sent on (1005, 1006, 1015 only report what happened; a
    home that died without closing is, for the partner, a hub restarting: 1012)."""
    if code is None or not 1000 <= code < 5000 or code in (1004, 1005, 1006, 1015):
        return 1012
    return code


FORWARDER = web.AppKey("partner_forwarder", PartnerForwarder)


@web.middleware
async def partner_forwarding(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Before the signature is checked: a partner's request for a meeting goes to its home."""
    forwarder = request.app.get(FORWARDER)
    found = MEETING_PATH.match(request.path) if forwarder is not None else None
    if forwarder is None or found is None:
        return await handler(request)
    meeting = parse_meeting_id(found.group(1))
    if meeting is None:
        missing = NotFound(text=Text("error.meeting.missing"))
        raise _refuse(request, ascii(found.group(1)[:40]), missing)
    return await forwarder.route(request, handler, meeting)


async def forwarding_context(app: web.Application) -> AsyncIterator[None]:
    """With several nodes and federation on: partners' requests reach meetings' homes."""
    relay = app.get(NODES)
    if relay is None or CASCADE not in app or FEDERATION not in app:
        yield
        return
    forwarder = app[FORWARDER] = PartnerForwarder(relay, app[CASCADE])
    try:
        yield
    finally:
        await forwarder.close()
