"""The door of a worker on another machine (`hub sfu-worker --listen HOST:PORT`): TLS with the
operator's certificate, then the hub's hello with the shared secret (hub/sfu/handshake.py);
only then is the connection a control connection (hub/sfu/worker.py `Worker.accept`).

A peer that does not speak TLS is dropped during the TLS handshake (asyncio closes it before
our code sees it); one that does but says no valid hello within `HANDSHAKE_TIMEOUT` is told
why in one `refused` frame and closed, and logged in one line with its address (at most
`LOGGED_REFUSALS` a minute, so a scanner cannot fill the log). At most `MAX_OPENING`
connections may be in their opening at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import time
from typing import Protocol

from hub.sfu import handshake
from hub.sfu.handshake import HandshakeRefused
from hub.sfu.tcp import HANDSHAKE_TIMEOUT, keep_alive, read_opening

log = logging.getLogger(__name__)

MAX_OPENING = 16
LOGGED_REFUSALS = 10  # a minute


class Accepting(Protocol):
    async def accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hub: str | None = None
    ) -> None: ...


class Gate:
    """Checks each connection's hello, then hands it to the worker; `start()` listens."""

    def __init__(self, worker: Accepting, tls: ssl.SSLContext, secret: str) -> None:
        self._worker = worker
        self._tls = tls
        self._secret = secret
        self._opening = 0
        self._refusals: list[float] = []

    async def start(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(
            self._open, host, port, ssl=self._tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
        )

    async def _open(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _peer(writer)
        if self._opening >= MAX_OPENING:
            self._refused(peer, "too many connections opening at once")
            writer.close()
            return
        self._opening += 1
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT):
                hello = handshake.check_hello(await read_opening(reader), self._secret)
        except (HandshakeRefused, TimeoutError) as exc:
            reason = str(exc) if isinstance(exc, HandshakeRefused) else "no hello in time"
            self._refused(peer, reason)
            writer.write(handshake.refusal(reason))
            writer.close()
            return
        except (ConnectionError, ssl.SSLError) as exc:
            self._refused(peer, f"connection broken during the hello ({type(exc).__name__})")
            writer.close()
            return
        finally:
            self._opening -= 1
        keep_alive(writer)
        writer.write(handshake.welcome(os.getpid()))
        log.info("control connection from %s (hub %s)", peer, hello.hub)
        with contextlib.suppress(asyncio.CancelledError):  # the worker stopping: not an error
            await self._worker.accept(reader, writer, hello.hub)

    def _refused(self, peer: str, reason: str) -> None:
        now = time.monotonic()
        self._refusals = [t for t in self._refusals if now - t < 60.0]
        self._refusals.append(now)
        if len(self._refusals) <= LOGGED_REFUSALS:
            log.warning("control connection from %s refused: %s", peer, reason)


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return "?"
