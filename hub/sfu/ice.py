"""ICE for the SFU's peer connections: only the servers and addresses the operator configured.

aiortc's default `RTCConfiguration()` queries a public Google STUN server; we always pass an
explicit (usually empty) server list. aioice offers every interface but never loopback and
has no option to choose; we gather host candidates ourselves from the configured addresses
before aiortc's own gathering runs, which then finds the work done (through
hub/sfu/internals.py).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from hub.config_sfu import IceServerConfig
from hub.sfu.internals import gather_host_candidates, ice_connection, ice_sockets


def rtc_configuration(ice_servers: Sequence[IceServerConfig]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in ice_servers
        ],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )


async def gather_on(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Offer host candidates on `addresses` only (call before setLocalDescription)."""
    if not addresses:
        return
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.transport is None:
            continue
        connection = ice_connection(transceiver.receiver.transport)
        if id(connection) in seen:
            continue
        seen.add(id(connection))
        await gather_host_candidates(connection, list(addresses))


RECEIVE_BUFFER = 4 * 1024 * 1024  # bytes; the kernel caps it at net.core.rmem_max


def enlarge_receive_buffers(pc: RTCPeerConnection) -> None:
    """Give each ICE socket a few megabytes of receive buffer (call after gathering).

    The default (~200 KB, about 90 full packets) overflows during a keyframe burst while the
    event loop is busy fanning out: the benchmark saw every hub loss at its own socket.
    """
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.transport is None:
            continue
        connection = ice_connection(transceiver.receiver.transport)
        if id(connection) in seen:
            continue
        seen.add(id(connection))
        for sock in ice_sockets(connection):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
