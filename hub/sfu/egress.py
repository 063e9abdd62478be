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

from hub.sfu.internals import missing_attributes

_CONNECTED = State.CONNECTED


class Egress:
    """The send side of one subscriber connection's (bundled) DTLS transport."""

    __slots__ = ("_dtls", "packets")

    def __init__(self, dtls_transport: Any) -> None:
        self._dtls = dtls_transport
        self.packets = 0

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
        return True


def check_fast_path_internals() -> list[str]:
    """Names the fast send path needs from aiortc/aioice that are missing in this install;
    attributes are looked for in the constructors (the receive side: hub/sfu/guard.py)."""
    from aioice.ice import Connection
    from aiortc.rtcicetransport import RTCIceTransport

    return missing_attributes(
        [
            (RTCDtlsTransport, "_state"),
            (RTCDtlsTransport, "_tx_srtp"),
            (RTCIceTransport, "_connection"),
            (Connection, "_nominated"),
        ]
    )
