"""Control connections to workers on other machines: TLS contexts, the TCP settings that
notice a dead peer within seconds, and the hub's side of the opening (`dial`).

The hub dials the worker (the worker listens, `hub sfu-worker --listen`): the hub's
configuration is the one list of workers, a worker restarted by systemd is simply dialled
again, and the only port to open is the worker's control port, to the hub's addresses.
The hub checks the worker's certificate against the operator's CA; the worker checks the
hub's shared secret (hub/sfu/handshake.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from pathlib import Path

from hub.errors import first_line
from hub.pipes import frames
from hub.pipes.frames import FrameError
from hub.sfu import handshake
from hub.sfu.handshake import HandshakeRefused

HANDSHAKE_TIMEOUT = 5.0  # seconds for TCP, TLS and hello together
# A peer that vanished without closing (power cut, cable, firewall) is noticed within ~5 s:
# probes after 2 s of silence, every second, 3 unanswered end it; unacknowledged data ends it
# after 5 s. The hub notices sooner still (no load report for 3 s).
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 2, 1, 3
USER_TIMEOUT_MS = 5000


class DialError(OSError):
    """The worker could not be reached or did not let us in; one line, no secret in it."""


def server_context(certificate: Path, key: Path) -> ssl.SSLContext:
    """The worker's: its certificate and key, TLS 1.2 at least (ssl.SSLError, OSError)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certificate, key)
    return context


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """The hub's: the worker's certificate must chain to `ca_file` (or the system's CAs) and
    carry the configured name."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def keep_alive(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # options Linux has; others skip them
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_COUNT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, USER_TIMEOUT_MS)


async def read_opening(reader: asyncio.StreamReader) -> bytes:
    """One handshake frame (at most `handshake.MAX_HELLO` bytes)."""
    try:
        body = await frames.read_frame(reader, handshake.MAX_HELLO)
    except FrameError as exc:
        raise HandshakeRefused(f"hello: {exc}") from None
    if body is None:
        raise HandshakeRefused("connection closed during the handshake")
    return body


async def dial(
    host: str, port: int, *, tls: ssl.SSLContext, server_name: str, secret: str, hub: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, int]:
    """A control connection to the worker at host:port, TLS checked and hello accepted:
    (reader, writer, the worker's pid); DialError in one line otherwise."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=tls, server_hostname=server_name
            )
            keep_alive(writer)
            writer.write(handshake.hello(secret, hub))
            pid = handshake.check_answer(await read_opening(reader))
    except TimeoutError:
        _close(writer)
        raise DialError(f"no TLS handshake and answer within {HANDSHAKE_TIMEOUT:.0f} s") from None
    except ssl.SSLCertVerificationError as exc:
        _close(writer)
        raise DialError(f"its certificate is refused: {exc.verify_message}") from None
    except ssl.SSLError as exc:
        _close(writer)
        raise DialError(f"TLS failed: {exc.reason or first_line(exc)}") from None
    except HandshakeRefused as exc:
        _close(writer)
        raise DialError(str(exc)) from None
    except OSError as exc:
        _close(writer)
        raise DialError(exc.strerror or first_line(exc)) from None
    return reader, writer, pid


def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is not None:
        writer.close()
