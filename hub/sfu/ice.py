"""ICE for the SFU's peer connections: only the servers and addresses the operator configured.

aiortc's default `RTCConfiguration()` queries a public Google STUN server; we always pass an
explicit (usually empty) server list. aioice offers every interface but never loopback and
has no option to choose; we gather host candidates ourselves from the configured addresses
before aiortc's own gathering runs, which then finds the work done (aioice 0.13 internals,
checked by `check_internals`).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.rtcconfiguration import RTCBundlePolicy

from hub.config_sections import IceServerConfig
from hub.sfu.internals import (
    RECEIVE_ESTIMATOR,
    ice_connection,
    missing_attributes,
    missing_methods,
)


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
        if id(connection) in seen or connection._local_candidates_start:
            continue
        seen.add(id(connection))
        connection._local_candidates_start = True
        connection._local_candidates += await connection.get_component_candidates(
            component=1, addresses=list(addresses)
        )
        connection._local_candidates_end = True


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
        for protocol in connection._protocols:
            sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


def check_internals() -> None:
    """Fail at start, not mid-meeting, if aiortc/aioice no longer have what the SFU hooks."""
    from aioice import Connection
    from aiortc.rtcdtlstransport import RTCDtlsTransport
    from aiortc.rtcrtpreceiver import RTCRtpReceiver
    from aiortc.rtcrtpsender import RTCRtpSender

    from hub.sfu.egress import check_fast_path_internals
    from hub.sfu.guard import check_guard_internals
    from hub.sfu.liveness import check_liveness_internals

    missing = missing_methods(
        [
            (RTCDtlsTransport, "_handle_rtp_data"),
            (RTCDtlsTransport, "_handle_rtcp_data"),
            (RTCDtlsTransport, "_send_rtp"),
            (RTCRtpReceiver, "receive"),
            (RTCRtpSender, "send"),
            (Connection, "get_component_candidates"),
        ]
    )
    missing += check_fast_path_internals() + check_guard_internals()
    missing += check_liveness_internals()
    missing += missing_attributes([(RTCRtpReceiver, RECEIVE_ESTIMATOR)])
    if missing:
        raise RuntimeError(
            "this aiortc/aioice version lacks what the SFU hooks: " + ", ".join(missing)
        )
