"""Every use of aiortc, aioice and pylibsrtp beyond their documented API, and its check list.

The SFU hooks aiortc 1.16 / aioice 0.13 where they offer no option (docs/sfu-aiortc-hooks.md):
it reads attributes their constructors set, replaces methods per instance, and sends the
short way (`Egress`). Only this module touches those names; `RELIED_ON` lists each one, and
`check_internals` refuses to start, in one line, an install that lacks any of them, rather
than fail in the middle of a meeting. tests/sfu/test_sfu_internals.py keeps the list and the
code in step (a private name used here and not listed, or used anywhere else, fails it).

Nothing is patched globally: every replacement is on one object the SFU owns.
"""

from __future__ import annotations

import importlib
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from aiortc.rtcdtlstransport import RTCDtlsTransport, State

from hub.errors import StartupError

SendRtp = Callable[[bytes], Awaitable[None]]
RtpHook = Callable[[bytes, int], Awaitable[None]]
RtcpHook = Callable[[bytes], Awaitable[None]]
DatagramReceived = Callable[[bytes, Any], None]
# The receive session while DTLS is connected (else None), and whether DTLS is connecting.
SrtpChanged = Callable[[Any, bool], None]

_CONNECTED = State.CONNECTED
_CONNECTING = State.CONNECTING

LIBRARIES = ("aiortc", "aioice", "pylibsrtp")

# aiortc's receivers estimate the bandwidth of what they receive (REMB) with 1,000 one-
# millisecond buckets, one object each, per video receiver (name-mangled: `__remote_...`).
RECEIVE_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"


# -- the check list --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribute:
    """`name` appears in the code of `where` ("module:Class" means its constructor; else a
    function, e.g. the one in the library that reads an attribute we set)."""

    where: str
    name: str


@dataclass(frozen=True)
class Method:
    """Class `where` ("module:Class") has the method or property `name`."""

    where: str
    name: str


DTLS = "aiortc.rtcdtlstransport:RTCDtlsTransport"
GATHERER = "aiortc.rtcicetransport:RTCIceGatherer"
SENDER = "aiortc.rtcrtpsender:RTCRtpSender"
RECEIVER = "aiortc.rtcrtpreceiver:RTCRtpReceiver"
PEER = "aiortc.rtcpeerconnection:RTCPeerConnection"
CONNECTION = "aioice.ice:Connection"
PROTOCOL = "aioice.ice:StunProtocol"
PAIR = "aioice.ice:CandidatePair"

RELIED_ON: tuple[Attribute | Method, ...] = (
    # Decrypted packets in (`hook_packets`), our packets out (`rtp_sender`, `Egress`).
    Method(DTLS, "_handle_rtp_data"),
    Method(DTLS, "_handle_rtcp_data"),
    Attribute(f"{DTLS}._recv_next", "_handle_rtp_data"),  # called through the instance
    Attribute(f"{DTLS}._recv_next", "_handle_rtcp_data"),
    Method(DTLS, "_send_rtp"),
    Attribute(DTLS, "_state"),
    Attribute(DTLS, "_rx_srtp"),
    Attribute(DTLS, "_tx_srtp"),
    Method(DTLS, "transport"),
    # Our SSRCs and msid are the sender's: aiortc writes them into the SDP.
    Attribute(SENDER, "_ssrc"),
    Attribute(SENDER, "_rtx_ssrc"),
    Attribute(SENDER, "_stream_id"),
    Attribute("aiortc.rtcpeerconnection:create_media_description_for_transceiver", "_track_id"),
    # No decoder, encoder or RTCP task ever starts: aiortc calls these, and we replace them.
    # Nor is a receive bandwidth estimator kept (`drop_receive_estimators`).
    Attribute(RECEIVER, RECEIVE_ESTIMATOR),
    Method(RECEIVER, "receive"),
    Method(SENDER, "send"),
    Attribute(f"{PEER}._RTCPeerConnection__connect", "receive"),
    Attribute(f"{PEER}._RTCPeerConnection__connect", "send"),
    # The ICE connection under a DTLS transport, and what the SFU reads or replaces of it.
    Method("aiortc.rtcicetransport:RTCIceTransport", "iceGatherer"),
    Attribute("aiortc.rtcicetransport:RTCIceTransport", "_connection"),  # Egress
    Attribute(GATHERER, "_connection"),
    Attribute(CONNECTION, "_local_candidates_start"),
    Attribute(CONNECTION, "_local_candidates"),
    Attribute(CONNECTION, "_local_candidates_end"),
    Attribute(f"{CONNECTION}.gather_candidates", "_local_candidates_start"),
    Method(CONNECTION, "get_component_candidates"),
    Attribute(CONNECTION, "_protocols"),
    Attribute(CONNECTION, "_check_list"),
    Attribute(CONNECTION, "_early_checks"),
    Attribute(CONNECTION, "_remote_candidates"),
    Attribute(CONNECTION, "_queue"),
    Attribute(CONNECTION, "_nominated"),
    Attribute(CONNECTION, "_query_consent_task"),
    Attribute(CONNECTION, "remote_password"),
    Method(CONNECTION, "query_consent"),
    Attribute(f"{CONNECTION}.connect", "query_consent"),  # called through the instance
    Method(CONNECTION, "build_request"),
    Method(PROTOCOL, "datagram_received"),
    Method(PROTOCOL, "request"),
    Attribute(f"{PROTOCOL}.connection_made", "transport"),
    Attribute(PAIR, "protocol"),
    Method(PAIR, "remote_addr"),
)


def _resolve(where: str) -> Any:
    module, _, path = where.partition(":")
    found: Any = importlib.import_module(module)
    for part in path.split("."):
        found = getattr(found, part) if not isinstance(found, type) else vars(found)[part]
    return found


def _label(entry: Attribute | Method) -> str:
    return f"{entry.where.partition(':')[2]}.{entry.name}"


def missing(entries: Iterable[Attribute | Method]) -> list[str]:
    """`Owner.name` for each entry this install does not have."""
    absent = []
    for entry in entries:
        try:
            found = _resolve(entry.where)
            if isinstance(entry, Method):
                present = hasattr(found, entry.name)
            else:
                code = vars(found)["__init__"] if isinstance(found, type) else found
                present = entry.name in code.__code__.co_names
        except (ImportError, AttributeError, KeyError):
            absent.append(f"{_label(entry)} (no {entry.where})")
            continue
        if not present:
            absent.append(_label(entry))
    return absent


def check_internals(entries: Sequence[Attribute | Method] = RELIED_ON) -> None:
    """Refuse to start, in one line, if the installed libraries lack what the SFU relies on."""
    absent = missing(entries)
    if absent:
        installed = ", ".join(f"{name} {version(name)}" for name in LIBRARIES)
        raise StartupError(
            f"{installed} lack what the SFU relies on (hub/sfu/internals.py; pinned: aiortc "
            f"1.16, aioice 0.13): {', '.join(absent)}"
        )


# -- reading ---------------------------------------------------------------------------------


def ice_connection(dtls: Any) -> Any:
    """The aioice `Connection` under an aiortc DTLS transport (fixed for its life)."""
    return dtls.transport.iceGatherer._connection


def ice_protocols(connection: Any) -> list[Any]:
    """The connection's aioice `StunProtocol`s, one per local socket."""
    protocols: list[Any] = connection._protocols
    return protocols


def ice_sockets(connection: Any) -> list[socket.socket]:
    """The connection's UDP sockets (those already open)."""
    sockets = []
    for protocol in connection._protocols:
        sock = protocol.transport.get_extra_info("socket") if protocol.transport else None
        if sock is not None:
            sockets.append(sock)
    return sockets


def ice_knows(connection: Any, source: tuple[Any, Any]) -> bool:
    """Whether ICE has `source` (host, port) for this connection: a pair it checks, a peer
    whose authenticated check it holds until it can pair it, or a signalled candidate."""
    return (
        any(pair.remote_addr == source for pair in connection._check_list)
        or any(check[1] == source for check in connection._early_checks)
        or any(
            (candidate.host, candidate.port) == source
            for candidate in connection._remote_candidates
        )
    )


def ice_backlog(connection: Any) -> int:
    """Datagrams aioice has queued for aiortc's DTLS reader."""
    backlog: int = connection._queue.qsize()
    return backlog


def nominated_pairs(connection: Any) -> dict[int, Any]:
    """The connection's nominated candidate pairs by component (aioice's own, live dict)."""
    pairs: dict[int, Any] = connection._nominated
    return pairs


def sender_ssrcs(sender: Any) -> tuple[int, int]:
    """The SSRC and RTX SSRC aiortc announces for a sender (ours to use)."""
    return sender._ssrc, sender._rtx_ssrc


def set_msid(sender: Any, stream_id: str, track_id: str) -> None:
    """The a=msid aiortc writes for a sender: which MediaStream and track it is."""
    sender._stream_id = stream_id
    sender._track_id = track_id


def rtp_sender(transport: Any) -> SendRtp:
    """aiortc's own send (SRTP protect, then ICE) of a DTLS transport: resolve it once per
    leg or connection, not per packet."""
    send: SendRtp = transport._send_rtp
    return send


def deliver_rtcp(dtls: Any, data: bytes) -> Awaitable[None]:
    """Hand decrypted RTCP to the transport's handler (ours once `hook_packets` ran)."""
    handled: Awaitable[None] = dtls._handle_rtcp_data(data)
    return handled


def follow_srtp(dtls: Any, changed: SrtpChanged) -> Callable[[], None]:
    """Call `changed(receive session or None, connecting)` now and whenever the DTLS state
    changes (aiortc sets the sessions before it turns connected); returns what stops it.

    So a socket callback reads two local variables per datagram, not the transport."""

    def update() -> None:
        state = dtls._state
        changed(dtls._rx_srtp if state is _CONNECTED else None, state is _CONNECTING)

    update()
    dtls.on("statechange", update)

    def stop() -> None:
        dtls.remove_listener("statechange", update)

    return stop


async def gather_host_candidates(connection: Any, addresses: list[str]) -> bool:
    """Give the connection host candidates on `addresses` only, so that aioice's own gathering
    finds the work done; False if gathering had already started."""
    if connection._local_candidates_start:
        return False
    connection._local_candidates_start = True
    connection._local_candidates += await connection.get_component_candidates(
        component=1, addresses=addresses
    )
    connection._local_candidates_end = True
    return True


async def request_consent(connection: Any, pair: Any, retransmissions: int) -> None:
    """One ICE consent request on `pair` (raises aioice's `stun.TransactionError`)."""
    request = connection.build_request(pair, nominate=False)
    await pair.protocol.request(
        request, pair.remote_addr, integrity_key=connection.remote_password.encode("utf8"),
        retransmissions=retransmissions,
    )  # fmt: skip


def end_consent(connection: Any) -> None:
    """Tell aioice the consent task is over (it would cancel it while closing)."""
    connection._query_consent_task = None


# -- replacing, per instance -----------------------------------------------------------------


def hook_packets(dtls: Any, on_rtp: RtpHook, on_rtcp: RtcpHook) -> None:
    """Route the transport's decrypted RTP and RTCP to our handlers (idempotent)."""
    if dtls._handle_rtp_data is not on_rtp:
        dtls._handle_rtp_data = on_rtp
        dtls._handle_rtcp_data = on_rtcp


def drop_receive_estimators(transceivers: Iterable[Any]) -> None:
    """Free the estimators of the transceivers' receivers: the SFU reads every packet before
    aiortc's receivers could, so they never estimate anything, yet the garbage collector walked
    their buckets on each full collection with media stopped (90,000 objects in a 10-person
    meeting). aiortc's receiver skips the estimate when it is None, as for audio."""
    for transceiver in transceivers:
        if getattr(transceiver.receiver, RECEIVE_ESTIMATOR, None) is not None:
            setattr(transceiver.receiver, RECEIVE_ESTIMATOR, None)


def replace_receive(receiver: Any, receive: Callable[[Any], Awaitable[None]]) -> None:
    """aiortc calls `receive(parameters)` instead of starting the receiver (first call only:
    a receiver keeps its first replacement)."""
    if "receive" not in vars(receiver):
        receiver.receive = receive


def replace_send(sender: Any, send: Callable[[Any], Awaitable[None]]) -> None:
    """aiortc calls `send(parameters)` instead of starting the sender's encoder and RTCP."""
    sender.send = send


def replace_consent_query(connection: Any, query: Callable[[], Awaitable[None]]) -> bool:
    """aioice runs `query()` as the connection's consent task; False if already replaced."""
    if "query_consent" in vars(connection):
        return False
    connection.query_consent = query
    return True


def stack_datagram_received(protocol: Any) -> DatagramReceived:
    """aioice's own socket callback of `protocol`, also after `replace_datagram_received`."""
    original: DatagramReceived = (
        getattr(protocol, "_hub_original", None) or protocol.datagram_received
    )
    return original


def replace_datagram_received(protocol: Any, callback: DatagramReceived) -> None:
    """Every datagram of `protocol`'s socket goes to `callback` first."""
    protocol._hub_original = stack_datagram_received(protocol)
    protocol.datagram_received = callback


# -- the short way out -------------------------------------------------------------------------


class Egress:
    """Send a forwarded packet the short way: SRTP-protect it and hand it to the selected ICE
    pair, for the send side of one subscriber connection's (bundled) DTLS transport.

    aiortc's own path (`_send_rtp`) does the same two things through four nested coroutines;
    on the per-packet, per-subscriber path that indirection costs more than the protection
    itself (docs/sfu-aiortc-hooks.md section 8). `send` is synchronous and returns False
    whenever the connection is not in the plain connected state, so the caller can fall back
    to aiortc's path and no edge case (DTLS not finished, ICE pair changing, closing) is
    handled twice.
    """

    __slots__ = ("_address", "_dtls", "_pair", "_sendto", "packets")

    def __init__(self, dtls_transport: Any) -> None:
        self._dtls = dtls_transport
        self.packets = 0
        # The selected pair's socket and peer address, read again only when ICE selects
        # another pair: aioice builds the address tuple anew on each read (8 % of a join
        # storm's samples, py-spy).
        self._pair: Any = None
        self._sendto: Any = None
        self._address: tuple[str, int] = ("", 0)

    @classmethod
    def of(cls, transport: object) -> Egress | None:
        """The fast path for an aiortc DTLS transport; None for anything else (a test double)."""
        return cls(transport) if isinstance(transport, RTCDtlsTransport) else None

    def send(self, packet: bytes) -> bool:
        """Protect and send `packet` now; False if the caller must use aiortc's path."""
        dtls = self._dtls
        if dtls._state is not _CONNECTED:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        if pair is not self._pair:
            if pair is None:
                return False
            self._pair, self._address = pair, pair.remote_addr
            self._sendto = pair.protocol.transport.sendto
        self._sendto(dtls._tx_srtp.protect(packet), self._address)
        self.packets += 1
        return True
