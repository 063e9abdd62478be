"""A hub node among others (`[redis] url`): each page's socket reaches its meeting's home.

A live meeting runs on one node, its home (hub/nodes/homes.py): its conference, its SFU room
and the `Connection` of every person in it. A socket that lands on the home is run there as
on a hub alone. A socket that lands on another node is relayed: that node opens a session on
the home over the bus (hub/nodes/wire.py, on the home's `node:{id}` channel) and passes the
page's frames both ways, untouched; the home runs the person's `Connection` over a
`BusSocket` (hub/web/bus_socket.py), so the person is an endpoint of the conference like any
other and every rule, order and SDP exchange happens once, at the home. Media does not cross:
the page's ICE and DTLS go straight to the home's SFU, whose candidates are its own.

Failure: a node that no longer listens on its channel is dead (Redis counts the receivers of
each publish; every second each node pings the nodes it relays to or for). A dead home's
relayed pages are closed with 1012, so they reconnect; a dead page node's people leave. The
next node to see a person of a meeting whose home died waits for the home's lease to expire
(≤ 3 s) and becomes home; the roster is rebuilt by who comes back (rejoin tickets) and the
dead home's open presences are closed in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from functools import partial
from typing import Any

from aiohttp import WSMsgType, web
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from hub.auth.session import Session, SessionCodec
from hub.db.models import MeetingState
from hub.errors import HubError, SharedStateUnavailable
from hub.ids import MeetingId
from hub.meetings.service import MeetingService, MeetingView
from hub.nodes import wire
from hub.nodes.homes import Home, MeetingHomes
from hub.shared.bus import MessagesLost
from hub.shared.channel import ChannelReader
from hub.shared.port import SharedState, node_channel
from hub.tasks import Tasks
from hub.web import page_messages as out
from hub.web.bus_socket import BusSocket
from hub.web.sockets import CLOSE_SERVICE_RESTART, OpenSockets, PageSocket

log = logging.getLogger(__name__)

RunPage = Callable[[PageSocket, MeetingView, str, Session | None], Awaitable[None]]

WATCH_EVERY = 1.0  # seconds between two pings of the nodes we relay to or for
RETRY_EVERY = 0.2  # while a dead home's lease has not expired yet
TAKEOVER_WAIT = 8.0  # at most this long for a home (then: close, the page comes back later)
CLOSE_TRY_AGAIN = 1013  # "try again later": not a 4xxx code, so the page comes back
CLOSE_ENDED = 4001
MAX_OUTBOX = 1024  # frames waiting for a page that does not read


class _RelayedPage:
    """A page's socket on this node whose meeting is at home elsewhere: what the home sends
    it is written in order by a task of its own (a slow page holds up nobody else)."""

    def __init__(self, ws: web.WebSocketResponse, home: str) -> None:
        self.ws = ws
        self.home = home
        self._queue: asyncio.Queue[wire.ToPage | wire.ClosePage] = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())

    def put(self, message: wire.ToPage | wire.ClosePage) -> None:
        """Queued for the page; a page that stopped reading (MAX_OUTBOX behind) is closed."""
        if self._queue.qsize() >= MAX_OUTBOX:
            if self._queue.qsize() == MAX_OUTBOX:  # once: then only the close is pending
                log.warning("a relayed page stopped reading: its socket is closed")
                self._queue.put_nowait(wire.ClosePage(message.session, CLOSE_TRY_AGAIN, "too slow"))
            return
        self._queue.put_nowait(message)

    async def _write(self) -> None:
        while True:
            message = await self._queue.get()
            with contextlib.suppress(ConnectionError, RuntimeError):
                if isinstance(message, wire.ToPage):
                    await self.ws.send_str(message.text)
                    continue
                await self.ws.close(code=message.code, message=message.reason.encode())
            if isinstance(message, wire.ClosePage):
                return

    async def stop(self) -> None:
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


class NodeRelay:
    """This node's id, its home leases, its channel and the sessions relayed through it:
    pages here whose home is elsewhere (`_pages`) and pages elsewhere whose home is here
    (`_relayed`). Made by the app factory with `[redis] url`; `start()` subscribes to the
    node's channel and starts the watch, `close()` stops them and lets the leases go."""

    def __init__(
        self,
        state: SharedState,
        *,
        meetings: MeetingService,
        codec: SessionCodec,
        sockets: OpenSockets,
        run_page: RunPage,
        end_meeting: Callable[[MeetingId], Coroutine[Any, Any, None]],
        address: str = "",
    ) -> None:
        self.node = secrets.token_hex(6)
        self.homes = MeetingHomes(state, self.node, self._home_lost, address=address)
        # Also told when this node stops being a meeting's home (the partners' links here).
        self.home_lost_hooks: list[Callable[[MeetingId], None]] = []
        # Awaited for each meeting a drain hands over, before its lease goes (the partners'
        # links here are told and let go).
        self.hand_over_hooks: list[Callable[[MeetingId], Awaitable[None]]] = []
        # Told when this node takes a meeting over from a home that died or let it go.
        self.took_over_hooks: list[Callable[[MeetingId], None]] = []
        self._state = state
        self._meetings = meetings
        self._codec = codec
        self._sockets = sockets
        self._run_page = run_page
        self._end_meeting = end_meeting
        self._pages: dict[str, _RelayedPage] = {}
        self._relayed: dict[str, BusSocket] = {}
        self._here: dict[MeetingId, set[PageSocket]] = {}
        self.pages_relayed = 0  # since start: page sockets here relayed to another home
        self.sessions_hosted = 0  # since start: other nodes' pages run here, at home
        self.takeovers = 0  # meetings taken over here from a home that died
        self._tasks = Tasks()
        self._channel = ChannelReader(state, node_channel(self.node), self._handle, self._lost)

    async def start(self) -> None:
        await self._channel.start()
        self._tasks.spawn(self._watch(), name="node watch")
        log.info("hub node %s: meetings shared through %s", self.node, self._state.describe())

    async def close(self) -> None:
        await self._channel.close()
        self._tasks.cancel()
        await self.homes.close()

    @property
    def relaying(self) -> int:
        """Page sockets on this node relayed now to their meeting's home elsewhere."""
        return len(self._pages)

    @property
    def hosting(self) -> int:
        """Pages on other nodes whose sessions run here now, at their meeting's home."""
        return len(self._relayed)

    async def _send(self, node: str, message: wire.NodeMessage) -> int:
        return await self._state.publish_on(node_channel(node), wire.to_json(message))

    # -- a page's socket on this node -----------------------------------------------------------

    async def serve(
        self, ws: web.WebSocketResponse, meeting: MeetingView, *, remote: str,
        session: Session | None,
    ) -> None:  # fmt: skip
        """Run the page here if this node is (or becomes) its meeting's home, else relay it
        to the home; a home that is gone is waited for until its lease expires."""
        deadline = asyncio.get_running_loop().time() + TAKEOVER_WAIT
        try:
            while not ws.closed:
                home = await self.homes.claim(meeting.id)
                if home.node == self.node:
                    await self._run_here(ws, meeting, home, remote, session)
                    return
                if home.node is not None and await self._relay(ws, home.node, meeting.id,
                                                               remote, session):  # fmt: skip
                    return
                if asyncio.get_running_loop().time() > deadline:
                    log.warning("no home for the meeting in %.0f s", TAKEOVER_WAIT,
                                extra={"meeting_id": meeting.id})  # fmt: skip
                    break
                await asyncio.sleep(RETRY_EVERY)
        except SharedStateUnavailable:
            pass  # logged by the shared state
        await ws.close(code=CLOSE_TRY_AGAIN, message=b"try again")

    async def _run_here(
        self, socket: PageSocket, meeting: MeetingView, home: Home, remote: str,
        session: Session | None,
    ) -> None:  # fmt: skip
        here = self._here.setdefault(meeting.id, set())
        here.add(socket)
        try:
            if home.fresh:
                await self.took_over(meeting.id)
            await self._run_page(socket, meeting, remote, session)
        finally:
            here.discard(socket)
            if not here and self._here.get(meeting.id) is here:
                del self._here[meeting.id]
            await self.homes.release(meeting.id, home)

    async def took_over(self, meeting: MeetingId) -> None:
        """This node just became the meeting's home: the presences a dead home left open are
        closed (its people come back with new rows; a partner's people with their link)."""
        for hook in self.took_over_hooks:
            hook(meeting)
        closed = await self._meetings.close_presences_left_behind(meeting)
        if closed:
            self.takeovers += 1
            log.info("meeting taken over: %d presence(s) of its last home closed",
                     closed, extra={"meeting_id": meeting})  # fmt: skip

    async def _relay(
        self, ws: web.WebSocketResponse, home: str, meeting: MeetingId, remote: str,
        session: Session | None,
    ) -> bool:  # fmt: skip
        """Pass the page's frames to its home and back until either side closes; False
        when nobody listens on the home's channel (it died: its lease expires soon)."""
        key = secrets.token_urlsafe(12)
        page = self._pages[key] = _RelayedPage(ws, home)
        cookie = None if session is None else self._codec.encode(session)
        try:
            if not await self._send(home, wire.Open(key, self.node, meeting, remote, cookie)):
                return False
            self.pages_relayed += 1
            self._sockets.add(ws)
            try:
                async for frame in ws:
                    if frame.type is WSMsgType.ERROR:
                        break
                    text = frame.data if frame.type is WSMsgType.TEXT else None
                    if frame.type is WSMsgType.BINARY:
                        text = frame.data.decode("utf-8", "replace")
                    if text is not None and not await self._send(home, wire.FromPage(key, text)):
                        page.put(wire.ClosePage(key, CLOSE_SERVICE_RESTART, "meeting home gone"))
                        break
            finally:
                self._sockets.discard(ws)
            return True
        finally:
            del self._pages[key]
            await page.stop()
            with contextlib.suppress(SharedStateUnavailable):
                await self._send(home, wire.PageGone(key))

    async def meeting_ended(self, meeting: MeetingId) -> None:
        """The meeting was ended here (it is over in the database): if its home is another
        node, that node ends it for its people."""
        home = await self.homes.where(meeting)
        if home is not None and home != self.node:
            await self._send(home, wire.MeetingOver(meeting))

    # -- what other nodes send --------------------------------------------------------------------

    def _lost(self, exc: MessagesLost) -> None:
        """This node's channel lost messages: every relayed session ends (frames are
        missing: their pages reconnect)."""
        log.warning("node messages lost (%s): relayed sessions end", exc)
        self._end_all_relayed()

    def _handle(self, text: str) -> None:
        try:
            message = wire.parse(text)
        except wire.WireError as exc:
            log.warning("node message refused: %s", exc)
            return
        match message:
            case wire.Open():
                self._open(message)
            case wire.FromPage() | wire.PageGone():
                socket = self._relayed.get(message.session)
                if socket is None:
                    log.info("node message for an unknown session: %s", type(message).__name__)
                elif isinstance(message, wire.FromPage):
                    socket.feed(message.text)
                else:
                    socket.gone()
            case wire.ToPage() | wire.ClosePage():
                page = self._pages.get(message.session)
                if page is None:
                    log.info("node message for an unknown session: %s", type(message).__name__)
                else:
                    page.put(message)
            case wire.MeetingOver(meeting=meeting):
                if self.homes.holds(meeting):
                    self._tasks.spawn(self._end_meeting(meeting), name="meeting over")
            case wire.Ping():
                pass

    def _open(self, message: wire.Open) -> None:
        if message.session in self._relayed or message.node == self.node:
            log.warning("node message refused: open of a session already open or from itself")
            return
        socket = BusSocket(message.session, message.node, partial(self._send, message.node))
        self._relayed[message.session] = socket  # before any frame of it arrives
        self.sessions_hosted += 1
        self._tasks.spawn(self._serve_relayed(socket, message), name="relayed page")

    async def _serve_relayed(self, socket: BusSocket, message: wire.Open) -> None:
        try:
            home = await self.homes.claim(message.meeting)
            if home.node != self.node:  # no longer ours (or this node drains): it asks again
                await _say_restarting(socket)
                return
            try:
                meeting = await self._meetings.get(message.meeting)
            except HubError:
                await self.homes.release(message.meeting, home)
                raise
            if meeting.state is MeetingState.ENDED:
                await self.homes.release(message.meeting, home)
                await socket.close(code=CLOSE_ENDED, message=b"ended")
                return
            session = None if message.cookie is None else self._codec.decode(message.cookie)
            await self._run_here(socket, meeting, home, message.remote, session)
        except (HubError, SharedStateUnavailable) as exc:
            log.info("relayed page refused: %s", exc, extra={"meeting_id": message.meeting})
            with contextlib.suppress(Exception):
                await socket.close(code=CLOSE_TRY_AGAIN, message=b"try again")
        finally:
            self._relayed.pop(socket.session, None)

    # -- failure ----------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Every second: is each node we relay to or for still listening?"""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            nodes = {s.node for s in self._relayed.values()} | {
                p.home for p in self._pages.values()
            }
            for node in nodes:
                try:
                    alive = await self._send(node, wire.Ping(self.node)) > 0
                except SharedStateUnavailable:
                    continue
                if not alive:
                    log.warning("hub node %s is gone: its relayed sessions end", node)
                    self._end_relayed_with(node)

    def _end_relayed_with(self, node: str) -> None:
        for socket in [s for s in self._relayed.values() if s.node == node]:
            socket.gone()
        for key, page in [(k, p) for k, p in self._pages.items() if p.home == node]:
            page.put(wire.ClosePage(key, CLOSE_SERVICE_RESTART, "meeting home gone"))

    def _end_all_relayed(self) -> None:
        for node in {s.node for s in self._relayed.values()} | {
            p.home for p in self._pages.values()
        }:
            self._end_relayed_with(node)

    # -- a drain ----------------------------------------------------------------------------------

    async def hand_over(self) -> None:
        """This node is being drained: it takes no meeting any more (a claim only says who is
        home; a relayed page that arrives is told `restarting`), and each meeting at home here
        goes to another node: the partners' links are handed over and the home leases let go,
        right before the drain tells every socket here, these meetings' pages and the pages
        other nodes relay included, to reconnect (`Node.drain`'s farewell). Each page then
        finds its meeting free and reconnects, with its rejoin ticket, to a node that becomes
        its home."""
        self.homes.stop_taking()
        meetings = self.homes.at_home()
        if not meetings:
            return
        started = asyncio.get_running_loop().time()
        await asyncio.gather(
            *(hook(meeting) for meeting in meetings for hook in self.hand_over_hooks)
        )
        await self.homes.close()
        sockets = sum(len(self._here.get(meeting, ())) for meeting in meetings)
        log.info(
            "handed %d meeting(s) over (%d socket(s) to tell): leases let go in %.0f ms",
            len(meetings), sockets, (asyncio.get_running_loop().time() - started) * 1000,
        )  # fmt: skip

    def _home_lost(self, meeting: MeetingId) -> None:
        """This node is no longer the meeting's home: its people here are told the hub
        restarts and reconnect (to the new home)."""
        sockets = list(self._here.get(meeting, ()))
        for socket in sockets:
            self._tasks.spawn(_say_restarting(socket))
        for hook in self.home_lost_hooks:
            hook(meeting)


async def _say_restarting(socket: PageSocket) -> None:
    with contextlib.suppress(Exception):
        await socket.send_str(out.to_json(out.Restarting()))
        await socket.close(code=CLOSE_SERVICE_RESTART, message=b"service restart")


class RelayCollector(Collector):
    """/metrics with `[redis] url`: what this node relays and holds, read when /metrics is
    read: `hub_node_meetings_at_home`, `hub_node_relayed_pages` and `hub_node_hosted_sessions`
    (now), `hub_node_pages_relayed_total`, `hub_node_sessions_hosted_total` and
    `hub_node_takeovers_total` (since start)."""

    def __init__(self, relay: NodeRelay) -> None:
        self._relay = relay

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        relay = self._relay
        yield GaugeMetricFamily(
            "hub_node_meetings_at_home",
            "Live meetings at home on this node (home leases it holds).",
            value=relay.homes.held,
        )
        for (gauge, now), (counter, total), what in (
            (("hub_node_relayed_pages", relay.relaying),
             ("hub_node_pages_relayed", relay.pages_relayed),
             "Page sockets on this node relayed to their meeting's home on another node"),
            (("hub_node_hosted_sessions", relay.hosting),
             ("hub_node_sessions_hosted", relay.sessions_hosted),
             "Sessions of pages on other nodes run here, at their meeting's home"),
        ):  # fmt: skip
            yield GaugeMetricFamily(gauge, f"{what}, now.", value=now)
            yield CounterMetricFamily(counter, f"{what}, since start.", value=total)
        yield CounterMetricFamily(
            "hub_node_takeovers",
            "Meetings this node took over from a home that died (its presences closed).",
            value=relay.takeovers,
        )
