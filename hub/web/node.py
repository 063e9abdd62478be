"""This `hub serve` process as one node behind a load balancer: its name, whether it is being
drained (`hub drain`), and how its people are moved off it.

Draining: /health/ready answers 503 "draining" so the load balancer stops sending people
here; a new meeting socket is closed at once with 1012 and a reason saying so (the page
reconnects, through the load balancer, to another node); every open meeting socket is told
`restarting` and closed with 1012 (the page's existing path, static/js/call.js), once the
meetings at home here were handed over, their home leases let go (hub/web/relay.py); then the
node waits, bounded, until its sockets are gone (their people taken out of the meeting and
recorded) and reports what was left. Stopping the process afterwards is the caller's
(hub/web/admin_socket.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from hub import __version__
from hub.web import page_messages as out
from hub.web.sockets import CLOSE_SERVICE_RESTART, FAREWELL_TIMEOUT, OpenSockets

log = logging.getLogger(__name__)

# The close reason of a meeting socket refused while draining (at most 123 bytes, RFC 6455).
DRAINING_REASON = "Serveur en maintenance, reconnexion… / Server draining, reconnecting…"
POLL = 0.1  # seconds between two looks at the sockets still open


@dataclass(frozen=True)
class DrainReport:
    """What a drain did: sockets open when it began, those still open at its end."""

    node: str
    sockets_before: int
    sockets_left: int
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "node": self.node,
            "sockets_before": self.sockets_before,
            "sockets_left": self.sockets_left,
            "seconds": round(self.seconds, 2),
        }


class Node:
    """Owns this node's name and drain state; reads the app's open meeting sockets. Made by
    the app factory; nothing to start or stop (a drain runs inside `drain()`)."""

    def __init__(self, name: str, sockets: OpenSockets) -> None:
        self.name = name or socket.gethostname()
        self._sockets = sockets
        self._drain: asyncio.Task[DrainReport] | None = None
        self.draining_since: float | None = None  # time.monotonic() when it began
        # Run first when a drain begins: with `[redis] url`, the meetings at home here are
        # handed over to other nodes (hub/web/relay.py `NodeRelay.hand_over`).
        self.hand_over: list[Callable[[], Awaitable[None]]] = []

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    @property
    def open_sockets(self) -> int:
        return len(self._sockets)

    async def drain(self, within: float) -> DrainReport:
        """Move everyone off this node within `within` seconds; a second call while a drain
        runs waits for the same one."""
        if self._drain is None:
            self.draining_since = time.monotonic()
            log.info("draining node %s: %d open meeting sockets", self.name, len(self._sockets))
            self._drain = asyncio.ensure_future(self._run(within))
        return await asyncio.shield(self._drain)

    async def _run(self, within: float) -> DrainReport:
        started = time.monotonic()
        deadline = started + within
        before = len(self._sockets)
        for hand_over in self.hand_over:
            await hand_over()
        frame = out.to_json(out.Restarting())
        told_at = -FAREWELL_TIMEOUT
        # Tell again every FAREWELL_TIMEOUT: a socket whose upgrade was under way when the
        # drain began joins the set after the first farewell.
        while len(self._sockets) and (now := time.monotonic()) < deadline:
            if now - told_at >= FAREWELL_TIMEOUT:
                told_at = now
                await self._sockets.farewell(frame, min(FAREWELL_TIMEOUT, deadline - now))
            await asyncio.sleep(min(POLL, max(0.0, deadline - time.monotonic())))
        await self._sockets.settle(max(0.0, min(FAREWELL_TIMEOUT, deadline - time.monotonic())))
        report = DrainReport(self.name, before, len(self._sockets), time.monotonic() - started)
        if report.sockets_left:
            log.warning(
                "node %s drained for %.1f s: %d meeting sockets still open",
                self.name, report.seconds, report.sockets_left,
            )  # fmt: skip
        else:
            log.info("node %s drained in %.1f s: no meeting socket left", self.name, report.seconds)
        return report


def refuse_while_draining(
    node: Node, is_meeting_socket: Callable[[web.Request], bool]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """A middleware: while the node drains, a meeting socket is upgraded only to be told
    `restarting` and closed with 1012 and DRAINING_REASON, so the page comes back through the
    load balancer (to another node) instead of failing as after a refused upgrade."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not node.draining or not is_meeting_socket(request):
            return await handler(request)
        ws = web.WebSocketResponse()
        if not ws.can_prepare(request).ok:
            return await handler(request)  # not an upgrade: the route answers as usual
        try:
            await ws.prepare(request)
            await ws.send_str(out.to_json(out.Restarting()))
            await ws.close(code=CLOSE_SERVICE_RESTART, message=DRAINING_REASON.encode())
        except ConnectionError:
            pass  # the page went away first: nothing to tell
        return ws

    return middleware


class NodeCollector(Collector):
    """/metrics: `hub_node_info{node, version}`, `hub_node_draining`, `hub_meeting_sockets`,
    read from the node when /metrics is read."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(
            "hub_node_info", "This hub node: its name and version (always 1).",
            labels=["node", "version"],
        )  # fmt: skip
        info.add_metric([self._node.name, __version__], 1)
        yield info
        yield GaugeMetricFamily(
            "hub_node_draining",
            "1 while `hub drain` moves people off this node (/health/ready answers 503).",
            value=1 if self._node.draining else 0,
        )
        yield GaugeMetricFamily(
            "hub_meeting_sockets",
            "Meeting WebSockets (pages in a meeting) open on this node.",
            value=self._node.open_sockets,
        )
