"""The local admin socket of `hub serve`: how `hub drain` reaches a running node.

A Unix stream socket at `<server.data_dir>/admin.sock`, born 0600 and answering only a peer
of our own user or root (checked again with SO_PEERCRED), so nothing on the network can
reach it and no secret is needed. One request line, JSON, `{"command": "drain", "timeout":
SECONDS}`; answered by JSON lines: `draining` (the node, its pid, its open meeting sockets),
then `drained` (the report); after which the node stops, as on SIGTERM, and the connection
stays open until the process ends, so `hub drain` sees the end. A refused line is answered
`{"error": ...}`, logged once, and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from hub.web.node import Node

log = logging.getLogger(__name__)

SOCKET_NAME = "admin.sock"
MAX_LINE = 4096  # bytes of one request line
READ_TIMEOUT = 5.0  # seconds for the request line to arrive
MAX_DRAIN_TIMEOUT = 3600.0
# AF_UNIX paths hold 107 bytes and a terminating NUL on Linux.
MAX_PATH_BYTES = 107


def admin_socket_path(data_dir: Path) -> Path:
    return data_dir / SOCKET_NAME


@dataclass(frozen=True)
class DrainRequest:
    timeout: float


def parse_request(line: bytes) -> DrainRequest:
    """The one request the socket takes; ValueError with a precise message otherwise."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the request is not a JSON line") from None
    if not isinstance(message, dict):
        raise ValueError("the request is not a JSON object")
    unknown = sorted(set(message) - {"command", "timeout"})
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    if message.get("command") != "drain":
        raise ValueError("unknown command (only 'drain')")
    timeout = message.get("timeout")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError("timeout: must be a number of seconds")
    if not 0 < timeout <= MAX_DRAIN_TIMEOUT:
        raise ValueError(f"timeout: must be more than 0 and at most {MAX_DRAIN_TIMEOUT:.0f} s")
    return DrainRequest(float(timeout))


def _peer_uid(writer: asyncio.StreamWriter) -> int | None:
    """The connecting process's user id (Linux SO_PEERCRED), None where not available."""
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, option, 12))
    return int(uid)


class AdminSocket:
    """Owns the listening socket and its file; `stop` is set once a drain has ended, so the
    process stops. `hub serve` opens it once it listens and closes it last (hub/cli.py)."""

    def __init__(self, data_dir: Path, node: Node, stop: asyncio.Event) -> None:
        self.path = admin_socket_path(data_dir)
        self._node = node
        self._stop = stop
        self._server: asyncio.Server | None = None

    async def open(self) -> bool:
        """Listen; False (logged once) when the socket cannot be made: `hub drain` is then
        unavailable, the hub runs as before."""
        if len(os.fsencode(self.path)) > MAX_PATH_BYTES:
            log.warning("no admin socket (`hub drain`): its path %s is too long", self.path)
            return False
        if self.path.is_socket():
            if await self._answers():
                log.warning(
                    "no admin socket (`hub drain`): %s belongs to another running hub "
                    "(give each node its own server.data_dir)", self.path,
                )  # fmt: skip
                return False
            self.path.unlink()  # left by a hub that was killed
        mask = os.umask(0o177)  # born 0600: only our user (and root) may connect
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_LINE
            )
        except OSError as exc:
            log.warning("no admin socket (`hub drain`): %s: %s", self.path, exc.strerror)
            return False
        finally:
            os.umask(mask)
        return True

    async def _answers(self) -> bool:
        try:
            _, writer = await asyncio.open_unix_connection(str(self.path))
        except OSError:
            return False
        writer.close()
        return True

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            uid = _peer_uid(writer)
            if uid is not None and uid not in (os.getuid(), 0):
                log.warning("admin socket: refused a connection from user id %d", uid)
                return
            request = await _read_request(reader)
            if isinstance(request, str):
                log.warning("admin socket: refused a request: %s", request)
                await _send(writer, {"error": request})
                return
            await self._drain(request, writer)
        except ConnectionError:
            pass  # `hub drain` went away; a drain it started goes on
        finally:
            writer.close()

    async def _drain(self, request: DrainRequest, writer: asyncio.StreamWriter) -> None:
        node = self._node
        begun = {"event": "draining", "node": node.name, "pid": os.getpid()}
        with contextlib.suppress(ConnectionError):
            await _send(writer, {**begun, "meeting_sockets": node.open_sockets})
        try:
            report = await node.drain(request.timeout)
            await _send(writer, {"event": "drained", "pid": os.getpid(), **report.to_json()})
        finally:
            log.info("stopping after the drain")
            self._stop.set()
        # Hold the connection until the process ends (its tasks are cancelled last): the
        # socket's end tells `hub drain` the node is gone.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()


async def _read_request(reader: asyncio.StreamReader) -> DrainRequest | str:
    """The request, or why it is refused."""
    try:
        line = await asyncio.wait_for(reader.readuntil(b"\n"), READ_TIMEOUT)
    except asyncio.LimitOverrunError:
        return f"the request line is longer than {MAX_LINE} bytes"
    except asyncio.IncompleteReadError:
        return "the connection closed before a whole request line"
    except TimeoutError:
        return f"no request line within {READ_TIMEOUT:.0f} s"
    try:
        return parse_request(line)
    except ValueError as exc:
        return str(exc)


async def _send(writer: asyncio.StreamWriter, message: dict[str, object]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()
