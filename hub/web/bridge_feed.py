"""The bridge API's event socket on hub nodes (`[redis] url`): how the bot run alone (`hub
bridge`) reads the bot's event stream, as its one consumer, from whichever node it reached.

Every node appends the bridge events of its meetings to the stream `bot:events`
(hub/web/bot_events.py). An event socket opened on any node first waits for the lease `bot`,
the one the in-process bot takes (hub/web/bot_host.py), so the stream has one reader whatever
kind of bot runs; then it reads the stream as consumer `{node}`, claiming first what an
earlier reader left pending, and sends each event with a number (bridge/wire.py). The bridge
answers that number once its bot has carried the event, and only then is the entry
acknowledged: a socket that closes or a lease that is lost leaves the event being carried
pending, and the next reader carries it again (at least once, as in process).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging

from aiohttp import WSMsgType, web

from bridge import wire
from bridge.hub_port import BridgeEvent
from hub.shared.lease import Lease
from hub.shared.port import SharedState
from hub.web.bot_host import BOT_LEASE, RETRY_EVERY
from hub.web.bridge import LocalHub

log = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012  # the lease was lost: the bridge reconnects (maybe elsewhere)


class StreamFeed:
    """The bot's stream for the event sockets of this node. Holds nothing between sockets:
    `serve` takes the lease `bot` in the name of `node` for one socket and lets it go when
    the socket ends."""

    def __init__(self, state: SharedState, node: str, hub: LocalHub) -> None:
        self._state = state
        self._node = node
        self._hub = hub
        self._numbers = itertools.count(1)

    async def serve(self, ws: web.WebSocketResponse) -> None:
        """Run one prepared event socket to its end."""
        lease = Lease(self._state, BOT_LEASE, holder=self._node)
        acks: dict[int, asyncio.Future[None]] = {}
        reading = asyncio.create_task(self._read_answers(ws, acks))
        acquiring = asyncio.create_task(lease.acquire(retry_every=RETRY_EVERY))
        lost = asyncio.create_task(lease.lost.wait())
        try:
            await asyncio.wait({reading, acquiring}, return_when=asyncio.FIRST_COMPLETED)
            if not acquiring.done():
                return  # the bridge went away before this node could read for it
            log.info("bridge events: this node reads the bot's stream for the bridge")
            unlisten = self._hub.listen(lambda event: self._send(ws, event, acks))
            try:
                await asyncio.wait({reading, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                unlisten()  # nothing more read here, so nothing more acknowledged
                for done in acks.values():
                    done.cancel()  # the event being carried stays pending
            if lost.done():
                await ws.close(code=CLOSE_SERVICE_RESTART, message=b"bot lease lost")
        finally:
            for task in (reading, acquiring, lost):
                task.cancel()
            await asyncio.gather(reading, acquiring, lost, return_exceptions=True)
            await lease.release()

    async def _send(
        self, ws: web.WebSocketResponse, event: BridgeEvent, acks: dict[int, asyncio.Future[None]]
    ) -> None:
        """Send `event` and return once the bridge says its bot carried it; cancelled (the
        stream's reader then stops, the entry pending) when the socket closes first."""
        number = next(self._numbers)
        done = acks[number] = asyncio.get_running_loop().create_future()
        try:
            try:
                await ws.send_str(json.dumps(wire.event_frame(event, number), ensure_ascii=False))
            except (ConnectionError, RuntimeError):  # closed under us: not carried
                done.cancel()
            await done
        finally:
            del acks[number]

    @staticmethod
    async def _read_answers(
        ws: web.WebSocketResponse, acks: dict[int, asyncio.Future[None]]
    ) -> None:
        """The bridge's `{"ack": n}` answers until the socket closes; anything else is said in
        one log line and ignored."""
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                number = wire.ack_from_json(json.loads(message.data))
            except (ValueError, RecursionError) as exc:
                log.warning("bridge events: an answer refused: %s", str(exc)[:200])
                continue
            done = acks.get(number)
            if done is not None and not done.done():
                done.set_result(None)
