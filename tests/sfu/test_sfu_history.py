"""Tests for hub.sfu.history.PacketHistory: O(1) ring of sent packets keyed by sequence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.sfu.history import PacketHistory


def test_put_get() -> None:
    history = PacketHistory(8)
    assert history.size == 8
    assert history.get(3) is None
    packet = bytearray(b"\x80\x60\x00\x03")
    history.put(3, packet)
    assert history.get(3) is packet  # stored as given: no copy on the hot path
    assert history.get(11) is None  # same slot, other sequence number
    assert len(history) == 1


def test_overwrite_after_a_lap() -> None:
    history = PacketHistory(4)
    for seq in range(65530, 65536):
        history.put(seq, bytes([seq & 0xFF]))
    for seq in range(0, 3):
        history.put(seq, bytes([seq]))
    assert [history.get(s) for s in (65534, 65535, 0, 1, 2)] == [
        None,
        b"\xff",
        b"\x00",
        b"\x01",
        b"\x02",
    ]
    assert history.get(65533) is None
    history.clear()
    assert history.get(2) is None
    assert len(history) == 0


@pytest.mark.parametrize("size", [0, -4, 3, 500])
def test_size_must_be_power_of_two(size: int) -> None:
    with pytest.raises(ValueError, match=rf"^history size {size} is not a power of two$"):
        PacketHistory(size)


@given(st.integers(0, 0xFFFF), st.lists(st.integers(0, 40), max_size=300))
def test_last_size_packets_are_kept(start: int, steps: list[int]) -> None:
    """Whatever the gaps, the newest packet of each slot is returned and nothing stale."""
    history = PacketHistory(16)
    seq = start
    stored: dict[int, int] = {}  # slot -> sequence number last stored there
    for step in steps:
        seq = (seq + step) & 0xFFFF
        history.put(seq, seq.to_bytes(2, "big"))
        stored[seq & 15] = seq
    for held in stored.values():
        assert history.get(held) == held.to_bytes(2, "big")
        # Anything else mapping to that slot was overwritten or never stored.
        assert history.get((held + 16) & 0xFFFF) is None
        assert history.get((held - 16) & 0xFFFF) is None
