"""Micro-benchmark of the SFU per-packet path: check_rtp + rewrite_header + history.put.

Run from the repository root: ``python -m bench.rtp_rewrite``. Prints microseconds per
packet for the bare path and with StreamRewriter.rewrite included.
"""

from __future__ import annotations

import timeit

from hub.sfu.history import PacketHistory
from hub.sfu.rewrite import StreamRewriter
from hub.sfu.rtp import check_rtp, rewrite_header

# A Chrome-like VP8 packet: one-byte extensions (abs-send-time, transport-cc, mid) and a
# ~1100-byte payload, the typical size of a video packet.
PACKET = bytes.fromhex(
    "906001009a3f00001a2b3c4dbede000322abcdef31010240310000009080812cb02a009d012a8002e001"
) + bytes(1100)

LOOPS = 200_000


def bare() -> float:
    """Microseconds per packet for check + copy-free rewrite + history store."""
    history = PacketHistory(512)
    buf = bytearray(PACKET)
    seq = 0

    def one() -> None:
        nonlocal seq
        check_rtp(buf)
        seq = (seq + 1) & 0xFFFF
        rewrite_header(buf, 0x12345678, seq, 90000, None)
        history.put(seq, buf)

    return min(timeit.repeat(one, number=LOOPS, repeat=5)) / LOOPS * 1e6


def with_copy_and_rewriter() -> float:
    """Microseconds per packet including a per-subscriber copy and the sequence mapping."""
    history = PacketHistory(512)
    rewriter = StreamRewriter(0x12345678, 90000, first_sequence=1, first_timestamp=1)
    state = [0]

    def one() -> None:
        seq = state[0] = (state[0] + 1) & 0xFFFF
        check_rtp(PACKET)
        result = rewriter.rewrite(0x1A2B3C4D, seq, 900, 0.0)
        assert result is not None
        buf = bytearray(PACKET)
        rewrite_header(buf, rewriter.ssrc, result.sequence_number, result.timestamp)
        history.put(result.sequence_number, buf)

    return min(timeit.repeat(one, number=LOOPS, repeat=5)) / LOOPS * 1e6


def main() -> None:
    """Print both measurements."""
    print(f"check_rtp + rewrite_header + history.put: {bare():.3f} us/packet")
    print(f"  + bytearray copy + StreamRewriter.rewrite: {with_copy_and_rewriter():.3f} us/packet")


if __name__ == "__main__":
    main()
