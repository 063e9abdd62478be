"""What the SFU knows about one incoming RTP stream (one SSRC, plus its RTX SSRC): receive
statistics for receiver reports and NACKs, the publisher's last sender report, and whether
it is flowing. A published track has one `Layer`, or one per simulcast RID.
"""

from __future__ import annotations

import time

from hub.sfu.rtcp import RtcpReportBlock, RtcpSr

NACK_MAX = 64  # a gap larger than this is not worth asking for: a keyframe is cheaper
FLOWING_FOR = 1.0  # seconds since its last packet for which a layer counts as flowing


class Layer:
    """One SSRC of a published track: created with the SDP's SSRC, or empty for a simulcast
    RID until its first packet binds one (`bind`)."""

    def __init__(
        self, *, rid: str | None, clock_rate: int, ssrc: int | None, rtx_ssrc: int | None
    ) -> None:
        self.rid = rid
        self.clock_rate = clock_rate
        self.ssrc = ssrc
        self.rtx_ssrc = rtx_ssrc
        # RFC 3550 A.3, A.8.
        self._base_seq: int | None = None
        self._max_seq = 0
        self._cycles = 0
        self.received = 0
        self._received_before = 0  # packets of SSRCs this layer had before (`restart`)
        self._expected_prior = 0
        self._received_prior = 0
        self._jitter = 0.0
        self._last_transit: float | None = None
        self._last_sr = 0
        self._last_sr_at = 0.0
        self.last_pli = 0.0
        self.last_packet_at = 0.0
        self.keyframes = 0
        self.last_keyframe_at = -1e9
        self.width = 0  # from the last VP8 keyframe header, 0 before one
        self.height = 0
        self.index = 0  # its place among the track's layers, lowest first
        self.octets = 0  # bytes of its media packets, as received
        self.bitrate = 0.0  # bits/s, smoothed, from `measure`
        self._octets_then = 0
        self._measured_at: float | None = None
        self.unwanted_since: float | None = None  # since when no viewer would take it

    def restart(self) -> None:
        """Forget the receive statistics: the layer's SSRC changed (a new sequence space)."""
        self._base_seq = None
        self._max_seq = self._cycles = self._expected_prior = self._received_prior = 0
        self._received_before = self.received
        self._last_transit = None
        self._last_sr = 0
        self._last_sr_at = 0.0

    def silent(self, now: float) -> bool:
        """No media packet for FLOWING_FOR seconds (or none ever)."""
        return now - self.last_packet_at >= FLOWING_FOR

    def flowing(self, now: float) -> bool:
        """A keyframe came (so a subscriber can start) and packets are still coming."""
        return self.keyframes > 0 and now - self.last_packet_at < FLOWING_FOR

    def account(self, seq: int, timestamp: int, now: float, size: int) -> list[int] | None:
        """Count one (non-RTX) packet of `size` bytes. Returns the sequence numbers a gap left
        missing (to NACK), an empty list if the gap is too large to repair, None if nothing is
        missing."""
        self.received += 1
        self.octets += size
        self.last_packet_at = now
        result: list[int] | None = None
        if self._base_seq is None:
            self._base_seq = self._max_seq = seq
            return None
        delta = (seq - self._max_seq) & 0xFFFF
        if 0 < delta < 0x8000:
            if seq < self._max_seq:
                self._cycles += 1 << 16
            if 1 < delta <= NACK_MAX:
                result = [(self._max_seq + k) & 0xFFFF for k in range(1, delta)]
            elif delta > NACK_MAX:
                result = []
            self._max_seq = seq
        transit = now * self.clock_rate - timestamp
        if self._last_transit is not None:
            difference = abs(transit - self._last_transit)
            if difference < 0x80000000:
                self._jitter += (difference - self._jitter) / 16
        self._last_transit = transit
        return result

    def measure(self, now: float) -> None:
        """Update `bitrate` from the bytes received since the last call (about once a second)."""
        if self._measured_at is not None and now > self._measured_at:
            rate = (self.octets - self._octets_then) * 8 / (now - self._measured_at)
            self.bitrate = rate if self.bitrate == 0 else (self.bitrate + rate) / 2
        self._octets_then, self._measured_at = self.octets, now

    def on_sender_report(self, report: RtcpSr) -> None:
        self._last_sr = (report.ntp_timestamp >> 16) & 0xFFFFFFFF
        self._last_sr_at = time.monotonic()

    def report_block(self) -> RtcpReportBlock | None:
        """What we received since the last block (RFC 3550 6.4.1), None before any packet."""
        if self.ssrc is None or self._base_seq is None:
            return None
        expected = self._cycles + self._max_seq - self._base_seq + 1
        received = self.received - self._received_before
        expected_interval = expected - self._expected_prior
        received_interval = received - self._received_prior
        self._expected_prior, self._received_prior = expected, received
        lost_interval = expected_interval - received_interval
        fraction = (
            0
            if expected_interval <= 0 or lost_interval <= 0
            else min(255, (lost_interval << 8) // expected_interval)
        )
        lost = max(min(expected - received, (1 << 23) - 1), -(1 << 23))
        delay = int((time.monotonic() - self._last_sr_at) * 65536) if self._last_sr_at else 0
        return RtcpReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=lost,
            highest_sequence=(self._cycles | self._max_seq) & 0xFFFFFFFF,
            jitter=int(self._jitter) & 0xFFFFFFFF,
            last_sr=self._last_sr,
            delay_since_last_sr=delay & 0xFFFFFFFF,
        )
