"""Tests for hub.sfu.rewrite.StreamRewriter: numbering, drops, switches, translations."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sfu.rewrite import Rewritten, StreamRewriter

A = 0xAAAA0001
B = 0xBBBB0002
C = 0xCCCC0003
OUT = 0x0123ABCD


def seq_diff(a: int, b: int) -> int:
    """Signed 16-bit distance from a to b."""
    return ((b - a + 0x8000) & 0xFFFF) - 0x8000


def ts_diff(a: int, b: int) -> int:
    """Signed 32-bit distance from a to b."""
    return ((b - a + 0x80000000) & 0xFFFFFFFF) - 0x80000000


def test_first_source_passes_through_by_default() -> None:
    rw = StreamRewriter(OUT, 90000)
    assert rw.rewrite(A, 100, 5000, 0.0) == Rewritten(100, 5000, False)
    assert rw.rewrite(A, 101, 5000, 0.0) == Rewritten(101, 5000, False)
    assert rw.source_ssrc == A


def test_first_values_and_wraparound() -> None:
    rw = StreamRewriter(OUT, 48000, first_sequence=65534, first_timestamp=0xFFFFFE00)
    assert rw.rewrite(A, 7, 960, 0.0) == Rewritten(65534, 0xFFFFFE00, False)
    assert rw.rewrite(A, 8, 1440, 0.01) == Rewritten(65535, 0xFFFFFFE0, False)
    assert rw.rewrite(A, 9, 2400, 0.03) == Rewritten(0, 928, False)  # both wrapped


def test_incoming_wraparound() -> None:
    rw = StreamRewriter(OUT, 48000, first_sequence=1000, first_timestamp=0)
    assert rw.rewrite(A, 65535, 0xFFFFFC40, 0.0) == Rewritten(1000, 0, False)
    assert rw.rewrite(A, 0, 0x00000000, 0.02) == Rewritten(1001, 960, False)
    assert rw.rewrite(A, 1, 960, 0.04) == Rewritten(1002, 1920, False)


def test_loss_leaves_gap_and_late_packet_fills_it() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=10, first_timestamp=0)
    assert rw.rewrite(A, 500, 1000, 0.0) == Rewritten(10, 0, False)
    assert rw.rewrite(A, 502, 4000, 0.1) == Rewritten(12, 3000, False)
    assert rw.incoming_sequence(11) == (A, 501)  # a subscriber NACK for 11 goes upstream as 501
    assert rw.outgoing_sequence(A, 501) == 11
    assert rw.rewrite(A, 501, 1000, 0.2) == Rewritten(11, 0, False)
    # A retransmission of an already forwarded packet is flagged.
    assert rw.rewrite(A, 501, 1000, 0.3) == Rewritten(11, 0, True)


def test_drop_closes_gap() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.drop(A, 11, 0, 0.0)
    rw.drop(A, 12, 0, 0.0)
    assert rw.rewrite(A, 13, 3000, 0.0) == Rewritten(1, 3000, False)
    # Copies of dropped packets never go out: their slots were given away.
    assert rw.rewrite(A, 11, 0, 0.0) is None
    assert rw.outgoing_sequence(A, 12) is None
    assert rw.incoming_sequence(1) == (A, 13)
    assert rw.incoming_sequence(2) is None  # not allocated yet


def test_drop_after_loss_keeps_the_lost_slot() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.drop(A, 12, 0, 0.0)  # 11 is missing, 12 withheld
    assert rw.rewrite(A, 13, 0, 0.0) == Rewritten(2, 0, False)
    assert rw.rewrite(A, 11, 0, 0.0) == Rewritten(1, 0, False)


def test_late_drop_leaves_a_hole() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.rewrite(A, 12, 0, 0.0)
    rw.drop(A, 11, 0, 0.0)  # too late: 12 already went out as 2
    assert rw.rewrite(A, 13, 0, 0.0) == Rewritten(3, 0, False)
    assert rw.incoming_sequence(1) is None


def test_drop_of_forwarded_packet_is_ignored() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.drop(A, 10, 0, 0.0)
    assert rw.rewrite(A, 10, 0, 0.0) == Rewritten(0, 0, True)
    assert rw.rewrite(A, 11, 0, 0.0) == Rewritten(1, 0, False)


def test_switch_continues_numbering_and_time() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=100, first_timestamp=1000)
    rw.rewrite(A, 40000, 7, 10.0)
    rw.rewrite(A, 40001, 3007, 10.033)
    # New publisher SSRC 0.5 s later: timestamp advances by 0.5 s of 90 kHz from the last.
    assert rw.rewrite(B, 3, 999999, 10.533) == Rewritten(102, 4000 + 45000, False)
    assert rw.rewrite(B, 4, 999999 + 3000, 10.566) == Rewritten(103, 52000, False)
    assert rw.switches == 1
    assert rw.source_ssrc == B
    assert rw.translate_timestamp(999999 + 6000) == 55000
    assert rw.translate_timestamp(3007 + 10, A) == 4010
    assert rw.translate_timestamp(0, C) is None


def test_switch_minimum_one_tick() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 1, 0, 5.0)
    assert rw.rewrite(B, 1, 123, 4.0) == Rewritten(1, 1, False)  # clock went backwards


def test_switch_after_tail_loss_and_drop() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 1, 0, 0.0)
    rw.drop(A, 3, 0, 0.0)  # 2 lost, 3 withheld: slot 1 stays reserved for 2
    assert rw.rewrite(B, 50, 0, 0.0) == Rewritten(2, 1, False)
    assert rw.incoming_sequence(1) == (A, 2)
    # The late packet 2 of the previous source still maps to its reserved slot.
    assert rw.rewrite(A, 2, 0, 0.0) == Rewritten(1, 0, False)
    assert rw.rewrite(A, 2, 0, 0.0) == Rewritten(1, 0, True)
    assert rw.source_ssrc == B


def test_switch_back_to_previous_source() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.rewrite(B, 500, 0, 1.0)
    # A kept sending while B was forwarded: its newer packets mean a switch back.
    assert rw.rewrite(A, 30, 0, 2.0) == Rewritten(2, 180000, False)
    assert rw.switches == 2


def test_first_source_dropped_then_switch() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=7, first_timestamp=70)
    rw.drop(A, 1, 0, 0.0)
    rw.drop(A, 2, 0, 0.0)
    assert rw.rewrite(A, 3, 100, 0.0) == Rewritten(7, 170, False)
    assert rw.rewrite(B, 9, 5, 1.0) == Rewritten(8, 170 + 90000, False)


def test_same_ssrc_forward_jump_is_restart() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0, max_dropout=3000)
    rw.rewrite(A, 10, 0, 0.0)
    assert rw.rewrite(A, 2999 + 10, 0, 0.0) == Rewritten(2999, 0, False)  # just a big loss
    assert rw.rewrite(A, 2999 + 10 + 3000, 77, 1.0) == Rewritten(3000, 90000, False)
    assert rw.switches == 1


def test_backward_jump_needs_two_packets() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0, reorder_window=100)
    rw.rewrite(A, 5000, 0, 0.0)
    rw.rewrite(A, 5001, 3000, 0.0)
    # A stray old packet is ignored, and a following in-window packet cancels probation.
    assert rw.rewrite(A, 100, 0, 0.1) is None
    assert rw.rewrite(A, 5002, 6000, 0.1) == Rewritten(2, 6000, False)
    assert rw.rewrite(A, 101, 0, 0.1) is None
    assert rw.switches == 0
    # A restarted publisher with a lower number: believed on its second packet; the first
    # one's slot stays open and is filled by its retransmission.
    assert rw.rewrite(A, 200, 900, 1.0) is None
    assert rw.rewrite(A, 201, 900, 1.0) == Rewritten(4, 6000 + 81000, False)
    assert rw.switches == 1
    assert rw.incoming_sequence(3) == (A, 200)
    assert rw.rewrite(A, 200, 900, 1.1) == Rewritten(3, 6000 + 81000, False)


def test_late_packet_before_source_start_is_refused() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    rw.rewrite(A, 10, 0, 0.0)
    rw.rewrite(B, 100, 0, 0.0)
    assert rw.rewrite(B, 99, 0, 0.0) is None  # would take slot 0, which A used
    assert rw.outgoing_sequence(B, 99) is None


def test_window_limits() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0, reorder_window=8)
    for seq in range(20):
        rw.rewrite(A, seq, 0, 0.0)
    assert rw.rewrite(A, 12, 0, 0.0) == Rewritten(12, 0, True)
    assert rw.rewrite(A, 11, 0, 0.0) is None  # 8 behind: outside the window
    assert rw.incoming_sequence(12) == (A, 12)
    assert rw.incoming_sequence(11) is None
    assert rw.incoming_sequence(20) is None  # not allocated yet
    assert rw.outgoing_sequence(A, 11) is None
    assert rw.outgoing_sequence(B, 12) is None


def test_drops_older_than_window_are_folded() -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0, reorder_window=4)
    out = []
    for seq in range(100):
        if seq % 3 == 1:
            rw.drop(A, seq, 0, 0.0)
        else:
            result = rw.rewrite(A, seq, 0, 0.0)
            assert result is not None
            out.append(result.sequence_number)
    assert out == list(range(len(out)))
    assert rw.incoming_sequence(out[-1]) == (A, 99)
    assert rw.incoming_sequence(out[-2]) == (A, 98)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ssrc": -1}, r"^SSRC -1 is out of range"),
        ({"clock_rate": 0}, r"^clock rate 0 must be positive$"),
        ({"first_sequence": 65536}, r"^first sequence number 65536 is out of range 0-65535$"),
        ({"first_timestamp": 1 << 32}, r"^first timestamp 4294967296 is out of range"),
        ({"reorder_window": 0}, r"^reorder window 0 is out of range 1-16384$"),
        ({"max_dropout": 40000}, r"^max dropout 40000 is out of range 1-32768$"),
    ],
)
def test_constructor_errors(kwargs: dict[str, int], message: str) -> None:
    args: dict[str, int] = {"ssrc": OUT, "clock_rate": 90000, **kwargs}
    with pytest.raises(ValueError, match=message):
        StreamRewriter(**args)


# --- property tests -----------------------------------------------------------------------

FORWARD, LOST, DROP = "forward", "lost", "drop"


@dataclass
class Packet:
    seq: int
    ts: int
    fate: str
    dup: bool
    dt: float


@dataclass
class Segment:
    ssrc: int
    packets: list[Packet]
    gap: float
    restart: bool


@st.composite
def scenarios(draw: st.DrawFn) -> list[Segment]:
    """Segments of in-order packets from successive sources, with fates per packet.

    Each segment is one source instance: another SSRC, or the same SSRC jumping forward by
    at least max_dropout (a restart). An SSRC used before continues forward from where it
    stopped, as a simulcast layer the SFU did not forward meanwhile would. The first packet
    of each segment arrives so that every segment is a source the rewriter sees.
    """
    pool = [A, B, C]
    last_seq: dict[int, int] = {}
    last_ts: dict[int, int] = {}
    segments: list[Segment] = []
    previous: int | None = None
    fates = [FORWARD, FORWARD, LOST, DROP]  # forwarding twice: most packets go out
    for _ in range(draw(st.integers(1, 5))):
        restart = previous is not None and draw(st.integers(0, 3)) == 0
        if restart:
            assert previous is not None
            ssrc = previous
            seq = (last_seq[ssrc] + draw(st.integers(3000, 20000))) & 0xFFFF
            ts = draw(st.integers(0, 0xFFFFFFFF))
        else:
            ssrc = draw(st.sampled_from([s for s in pool if s != previous]))
            if ssrc in last_seq:
                seq = (last_seq[ssrc] + draw(st.integers(1, 20000))) & 0xFFFF
                ts = (last_ts[ssrc] + draw(st.integers(0, 900000))) & 0xFFFFFFFF
            else:
                seq = draw(st.one_of(st.integers(0xFFC0, 0xFFFF), st.integers(0, 0xFFFF)))
                ts = draw(st.one_of(st.integers(0xFFFF0000, 0xFFFFFFFF), st.integers(0, 2**32 - 1)))
        packets = []
        for i in range(draw(st.integers(1, 60))):
            fate = draw(st.sampled_from(fates)) if i else draw(st.sampled_from([FORWARD, DROP]))
            dt = draw(st.sampled_from([0.0, 0.02]))  # 0: same instant, e.g. one frame's packets
            packets.append(Packet(seq, ts, fate, draw(st.integers(0, 7)) == 0, dt))
            seq = (seq + 1) & 0xFFFF
            ts = (ts + draw(st.sampled_from([0, 0, 960, 3000, 3003]))) & 0xFFFFFFFF
        last_seq[ssrc] = (seq - 1) & 0xFFFF
        last_ts[ssrc] = ts
        segments.append(Segment(ssrc, packets, draw(st.just(0.0) | st.floats(0, 5)), restart))
        previous = ssrc
    return segments


def _reserved_gaps(segments: list[Segment]) -> list[list[bool]]:
    """Per packet: is it a lost packet whose slot stays reserved (arrivals on both sides)?"""
    reserved = []
    for segment in segments:
        arrived = [i for i, p in enumerate(segment.packets) if p.fate != LOST]
        first, last = arrived[0], arrived[-1]
        reserved.append(
            [p.fate == LOST and first < i < last for i, p in enumerate(segment.packets)]
        )
    return reserved


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF))
def test_in_order_numbering_is_contiguous(
    segments: list[Segment], first_sequence: int, first_timestamp: int
) -> None:
    rw = StreamRewriter(OUT, 90000, first_sequence=first_sequence, first_timestamp=first_timestamp)
    reserved = _reserved_gaps(segments)
    now = 0.0
    sent: list[tuple[int, int, Packet, Rewritten]] = []  # (segment, index, packet, result)
    for s, segment in enumerate(segments):
        now += segment.gap
        for i, packet in enumerate(segment.packets):
            now += packet.dt
            if packet.fate == LOST:
                continue
            if packet.fate == DROP:
                rw.drop(segment.ssrc, packet.seq, packet.ts, now)
                if packet.dup:
                    assert rw.rewrite(segment.ssrc, packet.seq, packet.ts, now) is None
                continue
            result = rw.rewrite(segment.ssrc, packet.seq, packet.ts, now)
            assert result is not None and not result.duplicate
            if packet.dup:
                again = rw.rewrite(segment.ssrc, packet.seq, packet.ts, now)
                assert again == result._replace(duplicate=True)
            sent.append((s, i, packet, result))
        assert rw.source_ssrc == segment.ssrc
    assert rw.switches == len(segments) - 1

    if sent and sent[0][:2] == (0, 0):
        first = sent[0][3]
        assert first.sequence_number == first_sequence
        assert first.timestamp == first_timestamp
    for (s1, i1, p1, r1), (s2, i2, p2, r2) in pairwise(sent):
        # Slots skipped between two sent packets: exactly the reserved lost ones.
        skipped = sum(reserved[s1][i1 + 1 :] if s1 != s2 else reserved[s1][i1 + 1 : i2])
        if s1 != s2:
            skipped += sum(sum(r) for r in reserved[s1 + 1 : s2]) + sum(reserved[s2][:i2])
        assert seq_diff(r1.sequence_number, r2.sequence_number) == 1 + skipped
        if s1 == s2:
            assert ts_diff(r1.timestamp, r2.timestamp) == ts_diff(p1.ts, p2.ts)
        else:
            assert ts_diff(r1.timestamp, r2.timestamp) >= 1

    # Translations for everything sent by the current and previous sources.
    last = len(segments) - 1
    for s, _, packet, result in sent:
        ssrc = segments[s].ssrc
        if s == last:
            assert rw.incoming_sequence(result.sequence_number) == (ssrc, packet.seq)
            assert rw.outgoing_sequence(ssrc, packet.seq) == result.sequence_number
            assert rw.translate_timestamp(packet.ts) == result.timestamp
            assert rw.translate_timestamp(packet.ts, ssrc) == result.timestamp
        elif s == last - 1:
            assert rw.incoming_sequence(result.sequence_number) == (ssrc, packet.seq)
            if ssrc != segments[last].ssrc:
                assert rw.outgoing_sequence(ssrc, packet.seq) == result.sequence_number
                assert rw.translate_timestamp(packet.ts, ssrc) == result.timestamp


@st.composite
def reordered(draw: st.DrawFn) -> tuple[list[Segment], list[tuple[int, int]]]:
    """A scenario plus an arrival order: local shuffles and copies, first packets first.

    Late copies of a segment's packets may also arrive during the next segment (a
    retransmission after a switch) unless that segment is a same-SSRC restart, where they
    would look like the start of yet another restart.
    """
    segments = draw(scenarios())
    per_segment: list[list[tuple[int, int]]] = []
    for s, segment in enumerate(segments):
        n = len(segment.packets)
        keys = [0.0] + [i + draw(st.floats(0, 12)) for i in range(1, n)]
        arrivals = [(s, i) for _, i in sorted(zip(keys, range(n), strict=True))]
        for _ in range(draw(st.integers(0, 5))):
            arrivals.insert(draw(st.integers(1, len(arrivals))), (s, draw(st.integers(0, n - 1))))
        per_segment.append(arrivals)
    for s in range(len(segments) - 1):
        if segments[s + 1].restart or not draw(st.booleans()):
            continue
        n = len(segments[s].packets)
        late = [(s, draw(st.integers(0, n - 1))) for _ in range(draw(st.integers(1, 3)))]
        following = per_segment[s + 1]
        at = draw(st.integers(1, len(following)))
        per_segment[s + 1] = following[:at] + late + following[at:]
    return segments, [entry for arrivals in per_segment for entry in arrivals]


@settings(max_examples=200, deadline=None)
@given(reordered())
def test_reordered_mapping_is_consistent(
    scenario: tuple[list[Segment], list[tuple[int, int]]],
) -> None:
    segments, order = scenario
    rw = StreamRewriter(OUT, 90000, first_sequence=0, first_timestamp=0)
    now = 0.0
    mapped: dict[tuple[int, int], Rewritten] = {}
    unwrapped: dict[tuple[int, int], int] = {}
    last_out = 0
    current = -1
    for s, i in order:
        packet = segments[s].packets[i]
        if s > current:
            current = s
            now += segments[s].gap
        now += 0.001
        if packet.fate == LOST:
            continue
        if packet.fate == DROP:
            rw.drop(segments[s].ssrc, packet.seq, packet.ts, now)
            # Whatever the SFU withholds never gets a slot, even when it shows up again.
            assert rw.outgoing_sequence(segments[s].ssrc, packet.seq) is None
            continue
        result = rw.rewrite(segments[s].ssrc, packet.seq, packet.ts, now)
        if (s, i) in mapped:
            # Same slot and timestamp every time it shows up again.
            assert result == mapped[(s, i)]._replace(duplicate=True)
            continue
        # Everything else is inside the window and after its source's first packet.
        assert result is not None and not result.duplicate
        mapped[(s, i)] = result
        last_out += seq_diff(last_out, result.sequence_number)
        unwrapped[(s, i)] = last_out
    # Injective, and ordered like the input: within a source by sequence number, and every
    # source's slots after all slots of the sources before it.
    keys = sorted(unwrapped)
    values = [unwrapped[k] for k in keys]
    assert values == sorted(values)
    assert len(set(values)) == len(values)
    # With no withheld packets, numbering within a source follows the input exactly.
    for (s1, i1), (s2, i2) in pairwise(keys):
        if s1 == s2 and not any(p.fate == DROP for p in segments[s1].packets):
            assert unwrapped[(s2, i2)] - unwrapped[(s1, i1)] == i2 - i1
            ts1 = segments[s1].packets[i1].ts
            ts2 = segments[s2].packets[i2].ts
            assert ts_diff(mapped[(s1, i1)].timestamp, mapped[(s2, i2)].timestamp) == ts_diff(
                ts1, ts2
            )
