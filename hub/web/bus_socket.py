"""The socket of a page held by another hub node, as the meeting's home node sees it.

The home node runs that person's `Connection` (hub/web/ws.py) exactly as for a socket of its
own; only the socket differs: what the page sends arrives as `FromPage` messages from the
node that holds it (`feed`), what the connection sends leaves as `ToPage` (in order: one
publish at a time) and closing it sends `ClosePage`. Nobody listening on that node's channel
any more means the node died: the socket counts as closed and the person leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMessage, WSMsgType

from hub.errors import SharedStateUnavailable
from hub.nodes import wire

Send = Callable[[wire.NodeMessage], Awaitable[int]]

log = logging.getLogger(__name__)
_CLOSED = WSMessage(WSMsgType.CLOSED, None, None)
# Frames a relayed page may have waiting at the home: a socket held here is read one frame at
# a time (aiohttp's own backpressure); a page past this is ending its own session.
MAX_WAITING = 256


class BusSocket:
    """One relayed page: made by the relay when the page's node opens the session, ended by
    `gone()` (the page's socket closed there, or that node died) or `close()` (from here)."""

    def __init__(self, session: str, node: str, send: Send) -> None:
        self.session = session
        self.node = node  # the node holding the page's real socket
        self._send = send
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._sending = asyncio.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def feed(self, text: str) -> None:
        """A frame the page sent; past MAX_WAITING unread ones, the session ends."""
        if self._closed:
            return
        if self._inbox.qsize() >= MAX_WAITING:
            log.warning("a relayed page sent faster than its frames are handled: session ended")
            self.gone()
            return
        self._inbox.put_nowait(text)

    def gone(self) -> None:
        """The page's socket is closed (or its node is dead): its connection ends."""
        self._closed = True
        self._inbox.put_nowait(None)

    async def receive(self) -> WSMessage:
        text = await self._inbox.get()
        if text is None:
            self._inbox.put_nowait(None)  # every later receive sees the end too
            return _CLOSED
        return WSMessage(WSMsgType.TEXT, text, None)

    def __aiter__(self) -> BusSocket:
        return self

    async def __anext__(self) -> WSMessage:
        message = await self.receive()
        if message.type is WSMsgType.CLOSED:
            raise StopAsyncIteration
        return message

    async def send_str(self, data: str) -> None:
        if self._closed:
            raise ConnectionResetError("the page's socket is closed")
        async with self._sending:
            if await self._send(wire.ToPage(self.session, data)) == 0:
                self.gone()
                raise ConnectionResetError(f"node {self.node} no longer listens")

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        if self._closed:
            return False
        self.gone()
        reason = message.decode("utf-8", "replace")[: wire.MAX_REASON]
        async with self._sending:
            with contextlib.suppress(SharedStateUnavailable):  # logged by the shared state
                await self._send(wire.ClosePage(self.session, code, reason))
        return True
