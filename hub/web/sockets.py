"""Every meeting WebSocket this process holds, so that a stopping hub says goodbye to each
page instead of leaving it to find out (and to aiohttp's shutdown to wait for it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from aiohttp import WSMessage

log = logging.getLogger(__name__)

CLOSE_SERVICE_RESTART = 1012  # RFC 6455 "service restart": pages reconnect by themselves
FAREWELL_TIMEOUT = 2.0  # seconds for all the goodbyes together


class PageSocket(Protocol):
    """What a `Connection` (hub/web/ws.py) needs of a page's socket: aiohttp's
    WebSocketResponse, or a socket held by another hub node (hub/web/bus_socket.py)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...

    async def receive(self) -> WSMessage: ...

    def __aiter__(self) -> PageSocket: ...

    async def __anext__(self) -> WSMessage: ...


class OpenSockets:
    """The open meeting sockets and those still leaving; `farewell` tells each page and
    closes it, all at once."""

    def __init__(self) -> None:
        self._sockets: set[PageSocket] = set()
        self._leaving: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._sockets)

    def add(self, ws: PageSocket) -> None:
        self._sockets.add(ws)

    def discard(self, ws: PageSocket) -> None:
        self._sockets.discard(ws)

    def hold(self, task: asyncio.Task[None]) -> None:
        """Keep a socket's leaving task alive to its end (asyncio holds weak references)."""
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def farewell(self, frame: str, within: float = FAREWELL_TIMEOUT) -> None:
        """Tell every page (`frame`) and close its socket with 1012, all at once, never
        longer than `within` seconds (a page that does not answer its close frame is let go)."""
        sockets = list(self._sockets)
        if not sockets:
            return

        async def goodbye(ws: PageSocket) -> None:
            with contextlib.suppress(Exception):
                await ws.send_str(frame)
                await ws.close(code=CLOSE_SERVICE_RESTART, message=b"service restart")

        log.info("telling %d open meeting sockets that the hub restarts", len(sockets))
        _, late = await asyncio.wait(
            [asyncio.ensure_future(goodbye(ws)) for ws in sockets], timeout=within
        )
        for task in late:
            task.cancel()

    async def settle(self, within: float = FAREWELL_TIMEOUT) -> None:
        """Wait (at most `within` seconds) for the sockets still leaving: their people are taken out
        of the meeting and recorded before the SFU and the database close."""
        if self._leaving:
            await asyncio.wait(list(self._leaving), timeout=within)
