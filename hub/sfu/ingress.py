"""Receive a publisher's media the short way: decrypt in the socket callback, forward at once.

aiortc's receive path tries to parse every datagram as STUN, queues it, switches to the DTLS
transport's reader task, decrypts, and only then calls the SFU; the benchmark's profile shows
that per-packet cost dominating when a stream has few subscribers. `install_ingress` wraps
the `datagram_received` of each of the connection's ICE sockets: an SRTP (not SRTCP) datagram
on a connected transport is decrypted and handed to the forwarder right there; everything else
(STUN checks, DTLS, RTCP) takes aiortc's path unchanged. Depends on aiortc 1.16 / aioice 0.13
internals, listed in docs/sfu-aiortc-hooks.md.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import State

from hub.sfu.forwarder import SfuCounters

log = logging.getLogger(__name__)

_CONNECTED = State.CONNECTED
RtpSink = Callable[[bytes, float], None]


def install_ingress(pc: RTCPeerConnection, sink: RtpSink, counters: SfuCounters) -> None:
    """Route the SRTP packets arriving on `pc`'s sockets to `sink` (idempotent)."""
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is None:
            continue
        connection = dtls.transport.iceGatherer._connection
        for protocol in connection._protocols:
            if getattr(protocol, "_hub_ingress", None) is not sink:
                _wrap(protocol, dtls, sink, counters)


def _wrap(protocol: Any, dtls: Any, sink: RtpSink, counters: SfuCounters) -> None:
    original = getattr(protocol, "_hub_original", None) or protocol.datagram_received
    clock = time.monotonic

    def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
        # 128-191: RTP/RTCP (RFC 7983); second byte 192-223: RTCP (RFC 5761).
        if (
            len(data) > 12
            and 127 < data[0] < 192
            and not 191 < data[1] < 224
            and dtls._state is _CONNECTED
            and dtls._rx_srtp is not None
        ):
            try:
                plain = dtls._rx_srtp.unprotect(data)
            except pylibsrtp.Error:
                counters.drop("srtp_unprotect_failed")
                return
            counters.packets_in_fast += 1
            try:
                sink(plain, clock())
            except Exception:  # a forwarding bug must not take the socket down with it
                log.exception("forwarding a packet failed")
                counters.drop("forwarding_error")
            return
        original(data, addr)

    protocol._hub_original = original
    protocol._hub_ingress = sink
    protocol.datagram_received = datagram_received
