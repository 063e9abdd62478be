"""Every datagram that reaches a media socket is checked before aiortc, aioice or pylibsrtp
see it, and a publisher's SRTP takes the short way to the forwarder.

The media ports are in every SDP answer, so anybody can send to them. Below us, one empty
datagram makes aiortc's DTLS reader raise `IndexError` and one over 1500 bytes makes pylibsrtp
raise `ValueError`; either ends the connection's receive loop (or, raised in the socket
callback, asyncio closes the socket) and the meeting's media stops for good. So the socket
callback of each ICE protocol is wrapped per instance (nothing is patched globally):

- `classify` (pure) drops what no layer below may see: empty, oversized, truncated, or of no
  protocol multiplexed on a WebRTC port (RFC 7983);
- DTLS and SRTP/SRTCP are taken only from addresses ICE knows for this connection (a candidate
  the participant signalled or a peer that sent an authenticated connectivity check); STUN
  may come from anywhere, since that is how a new path is checked;
- SRTP and SRTCP are decrypted right here (a failure is counted, not silently skipped as
  aiortc does): a publisher's RTP goes straight to the forwarder, which skips aiortc's STUN
  parse, queue and task switch (the benchmark's profile: docs/sfu-aiortc-hooks.md), and RTCP
  to the connection's RTCP handler in a task of its own;
- anything that still raises below is caught here: counted, never a traceback.

Each drop is counted by reason (/metrics `hub_sfu_datagrams_dropped`) and logged at most once
per reason and source host a minute (`DropLog`). What it reaches of aiortc and aioice goes
through hub/sfu/internals.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import pylibsrtp
from aioice import stun
from aiortc import RTCPeerConnection

from hub.errors import first_line
from hub.sfu.internals import (
    deliver_rtcp,
    follow_srtp,
    ice_backlog,
    ice_connection,
    ice_knows,
    ice_protocols,
    replace_datagram_received,
    stack_datagram_received,
)
from hub.tasks import Tasks

log = logging.getLogger(__name__)

# pylibsrtp unprotects into a 1500-byte buffer and raises ValueError above it; aiortc reads
# DTLS records 1500 bytes at a time. WebRTC endpoints keep datagrams near 1200 bytes.
MAX_DATAGRAM = 1500
STUN_HEADER = 20
STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"
DTLS_RECORD_HEADER = 13
RTP_HEADER = 12
RTCP_HEADER = 8
LOG_WINDOW = 60.0  # seconds between two log lines for one reason and source host
LOG_KEYS = 4096  # (reason, host) pairs remembered for that; beyond it lines are skipped

MAX_QUEUED = 256  # datagrams waiting for aiortc's DTLS reader (it reads about as they come)
RtpSink = Callable[[bytes, float], None]


def classify(data: bytes) -> str | None:
    """None if the datagram may go on to aiortc/aioice; else why it must be dropped.

    Demultiplexing by first byte as RFC 7983 does: 0-3 STUN, 20-63 DTLS, 128-191 RTP/RTCP.
    """
    size = len(data)
    if size == 0:
        return "empty"
    if size > MAX_DATAGRAM:
        return "oversized"
    first = data[0]
    if first < 4:
        if size < STUN_HEADER:
            return "stun_truncated"
        length = int.from_bytes(data[2:4], "big")
        if data[4:8] != STUN_MAGIC_COOKIE or length % 4 or STUN_HEADER + length != size:
            return "stun_malformed"
        return None
    if 19 < first < 64:
        return "dtls_truncated" if size < DTLS_RECORD_HEADER else None
    if 127 < first < 192:
        if size < 2:
            return "rtp_truncated"
        if 191 < data[1] < 224:
            return "rtcp_truncated" if size < RTCP_HEADER + 4 else None
        return "rtp_truncated" if size < RTP_HEADER else None
    return "unknown_protocol"


# Drops that ordinary life causes, not an attack or a fault: a peer still sending for a moment
# after its connection closed. Logged at INFO (still counted), so WARNINGs mean something.
ROUTINE = frozenset({"srtp_without_dtls"})


class DropLog:
    """Counts dropped datagrams by reason; logs one line per reason and source host a minute."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.counts: dict[str, int] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._next_prune = 0.0
        self._clock = clock

    def drop(self, reason: str, addr: Any, detail: str = "") -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        host = str(addr[0]) if addr else "-"
        key = (reason, host)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < LOG_WINDOW:
            return
        if last is None and len(self._last) >= LOG_KEYS:
            # A flood from many hosts: still counted, no longer each logged. The table is
            # pruned at most once a second (pruning for every datagram stalled the loop).
            if now < self._next_prune:
                return
            self._next_prune = now + 1.0
            self._forget_before(now - LOG_WINDOW)
            if len(self._last) >= LOG_KEYS:
                return
        self._last[key] = now
        log.log(
            logging.INFO if reason in ROUTINE else logging.WARNING,
            "media datagram dropped: %s%s (from %s; more from there are only counted for %d s)",
            reason,
            f" ({detail})" if detail else "",
            host,
            int(LOG_WINDOW),
        )

    def _forget_before(self, moment: float) -> None:
        self._last = {key: at for key, at in self._last.items() if at >= moment}


class GuardCounters(Protocol):
    """What the guard counts (hub/sfu/counters.py has them, with the rest of the SFU's)."""

    datagrams: DropLog
    packets_in_fast: int  # publisher RTP decrypted in the socket callback


def guard_connection(
    pc: RTCPeerConnection, counters: GuardCounters, sink: RtpSink | None = None
) -> int:
    """Wrap the socket callback of every ICE protocol of `pc` (idempotent; call after each
    local description, when its sockets exist). With `sink`, decrypted SRTP goes to it at
    once (publish connections). Returns how many protocols were newly wrapped."""
    wrapped = 0
    seen: set[int] = set()
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        if dtls is None:
            continue
        connection = ice_connection(dtls)
        if id(connection) in seen:
            continue
        seen.add(id(connection))
        for protocol in ice_protocols(connection):
            current = getattr(protocol, "_hub_guard", None)
            if current is None or current[0] is not dtls or current[1] is not sink:
                if current is not None:
                    current[2]()  # the replaced callback no longer follows its DTLS state
                _wrap(protocol, connection, dtls, counters, sink)
                wrapped += 1
    return wrapped


def _wrap(
    protocol: Any, connection: Any, dtls: Any, counters: GuardCounters, sink: RtpSink | None
) -> None:
    drops = counters.datagrams
    original = stack_datagram_received(protocol)
    known: set[tuple[Any, Any]] = set()  # remote addresses ICE has for this connection
    clock = time.monotonic
    # The DTLS transport's receive session while it is connected, and whether it is
    # connecting: kept current by the transport's state changes, read once per datagram.
    srtp: Any = None
    connecting = False

    def srtp_changed(session: Any, now_connecting: bool) -> None:
        nonlocal srtp, connecting
        srtp, connecting = session, now_connecting

    stop_following = follow_srtp(dtls, srtp_changed)

    def known_source(addr: Any) -> bool:
        """A pair ICE checks, a candidate the participant signalled, or a peer whose
        authenticated check aioice holds until it can pair it (the browser may start DTLS
        before that: dropping it would cost a DTLS retransmission, ~0.4 s per join)."""
        if addr in known:  # IPv4 addresses come as (host, port): one lookup per packet
            return True
        source = (addr[0], addr[1])
        if source in known:
            return True
        if ice_knows(connection, source):
            known.add(source)
            return True
        return False

    def enqueue(data: bytes, addr: Any) -> None:
        """On to aioice, which queues it (unbounded) for aiortc's DTLS reader: bounded here."""
        if ice_backlog(connection) >= MAX_QUEUED:
            drops.drop("queue_full", addr)
        else:
            original(data, addr)

    tasks = Tasks()

    async def handle_rtcp(plain: bytes, addr: Any) -> None:
        try:
            await deliver_rtcp(dtls, plain)
        except Exception as exc:  # our RTCP handling failed on this packet: only it is lost
            drops.drop("rtcp_handler_error", addr, f"{type(exc).__name__}: {first_line(exc)}")

    def datagram_received(data: bytes, addr: Any) -> None:
        try:
            reason = classify(data)
            if reason is not None:
                drops.drop(reason, addr)
                return
            first = data[0]
            if first < 4:  # STUN, from anywhere: a new path is checked this way
                try:
                    stun.parse_message(data)
                except Exception:  # aioice would queue it as data, or raise
                    drops.drop("stun_malformed", addr)
                    return
                original(data, addr)
                return
            if not known_source(addr):
                drops.drop("unknown_source", addr)
                return
            if first < 64:  # DTLS: aiortc's reader hands it to OpenSSL
                enqueue(data, addr)
                return
            session = srtp
            if session is None:
                if connecting:
                    # The peer finished DTLS before us: its first media (the first keyframe)
                    # comes right behind the Finished message still queued for aiortc's
                    # reader. Queued behind it, it is decrypted once the handshake is done.
                    enqueue(data, addr)
                else:
                    drops.drop("srtp_without_dtls", addr)
                return
            if 191 < data[1] < 224:  # SRTCP (RFC 5761)
                try:
                    plain = session.unprotect_rtcp(data)
                except (pylibsrtp.Error, ValueError):
                    drops.drop("srtcp_unprotect_failed", addr)
                    return
                tasks.spawn(handle_rtcp(plain, addr))
                return
            if sink is None:
                drops.drop("rtp_on_subscribe_connection", addr)
                return
            try:
                plain = session.unprotect(data)
            except (pylibsrtp.Error, ValueError):
                drops.drop("srtp_unprotect_failed", addr)
                return
            counters.packets_in_fast += 1
            try:
                sink(plain, clock())
            except Exception as exc:  # our forwarding bug: cost this packet only
                drops.drop("forwarding_error", addr, f"{type(exc).__name__}: {first_line(exc)}")
        except Exception as exc:  # a layer below raised: the socket and the meeting go on
            drops.drop("rejected_by_stack", addr, f"{type(exc).__name__}: {first_line(exc)}")

    protocol._hub_guard = (dtls, sink, stop_following)
    replace_datagram_received(protocol, datagram_received)
