"""Ring buffer of recently sent RTP packets, to answer subscriber NACKs without the publisher.

Packets are stored already rewritten for the subscriber (outgoing SSRC, sequence number and
timestamp), so a retransmission is a lookup and a send: no parsing, no rewriting. The slot
is the outgoing sequence number masked to the ring size; the full sequence number is stored
beside it so a NACK for a packet already overwritten (or never sent) misses instead of
returning a different packet. With 512 slots and video at ~1000 packets/s the history
covers about half a second, more than the round trips NACK is useful for.
"""

from __future__ import annotations

__all__ = ["PacketHistory"]


class PacketHistory:
    """Fixed-size, O(1) store of outgoing packets keyed by outgoing sequence number."""

    __slots__ = ("_mask", "_packets", "_seqs")

    def __init__(self, size: int = 512) -> None:
        """Create a history of `size` slots; a power of two so the index is a mask."""
        if size <= 0 or size & (size - 1):
            raise ValueError(f"history size {size} is not a power of two")
        self._mask = size - 1
        # Parallel lists rather than tuples: put then costs two stores and no allocation.
        self._seqs = [-1] * size
        self._packets: list[bytes | bytearray | None] = [None] * size

    @property
    def size(self) -> int:
        """Number of slots."""
        return self._mask + 1

    def put(self, sequence_number: int, packet: bytes | bytearray) -> None:
        """Store a sent packet; the caller must not mutate a stored bytearray afterwards."""
        index = sequence_number & self._mask
        self._seqs[index] = sequence_number
        self._packets[index] = packet

    def get(self, sequence_number: int) -> bytes | bytearray | None:
        """Return the packet sent with `sequence_number`, or None if it is no longer held.

        A packet exactly 65536 sequence numbers older can only be returned if no packet
        in between reused its slot, i.e. after a gap of at least 65536 - size numbers.
        """
        index = sequence_number & self._mask
        if self._seqs[index] != sequence_number:
            return None
        return self._packets[index]

    def clear(self) -> None:
        """Forget every packet, e.g. when the outgoing stream is reset."""
        size = self._mask + 1
        self._seqs = [-1] * size
        self._packets = [None] * size

    def __len__(self) -> int:
        """Number of slots currently holding a packet."""
        return sum(1 for p in self._packets if p is not None)
