"""Send a forwarded packet the short way: SRTP-protect it and hand it to the selected ICE pair.

aiortc's own path (`RTCDtlsTransport._send_rtp`) does the same two things through four nested
coroutines; on the per-packet, per-subscriber path that indirection costs more than the
protection itself (docs/sfu-aiortc-hooks.md section 8). `Egress.send` is synchronous and
returns False whenever the connection is not in the plain connected state, so the caller can
fall back to aiortc's path and no edge case (DTLS not finished, ICE pair changing, closing) is
handled twice. Depends on aiortc 1.16 / aioice 0.13 internals, checked by `check_internals`.
"""

from __future__ import annotations

from typing import Any

from aiortc.rtcdtlstransport import RTCDtlsTransport, State

_CONNECTED = State.CONNECTED


class Egress:
    """The send side of one subscriber connection's (bundled) DTLS transport."""

    __slots__ = ("_dtls", "octets", "packets")

    def __init__(self, dtls_transport: Any) -> None:
        self._dtls = dtls_transport
        self.packets = 0
        self.octets = 0

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
        if pair is None:
            return False
        protected = dtls._tx_srtp.protect(packet)
        pair.protocol.transport.sendto(protected, pair.remote_addr)
        self.packets += 1
        self.octets += len(protected)
        return True


def check_egress_internals() -> list[str]:
    """Names the fast path needs from aiortc/aioice that are missing in this install."""
    from aioice import Connection

    missing = []
    if not hasattr(RTCDtlsTransport, "_send_rtp"):
        missing.append("RTCDtlsTransport._send_rtp")
    if "_nominated" not in Connection.__init__.__code__.co_names:
        missing.append("aioice Connection._nominated")
    return missing
