"""Tests for hub.sfu.rtcp: Chrome-like compounds, exact round trips, errors, NACK helpers."""

from __future__ import annotations

from contextlib import suppress
from itertools import pairwise

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sfu_samples import (
    BYE,
    CHROME_RR_REMB,
    CHROME_SR_SDES,
    FIR,
    NACK,
    OPUS,
    OPUS_SSRC,
    PLI,
    REMB,
    RR,
    SDES,
    SR,
    TRANSPORT_CC,
    VP8_SSRC,
    h,
)

from hub.sfu.rtcp import (
    RtcpBye,
    RtcpFir,
    RtcpNack,
    RtcpPacket,
    RtcpPli,
    RtcpRemb,
    RtcpReportBlock,
    RtcpRr,
    RtcpSdes,
    RtcpSr,
    RtcpUnknown,
    SdesChunk,
    build_nack_items,
    check_rtcp,
    expand_nack_item,
    expand_nack_items,
    is_rtcp,
    parse_compound,
    serialize_compound,
)

ALL_SAMPLES = [
    CHROME_SR_SDES,
    CHROME_RR_REMB,
    NACK,
    PLI,
    FIR,
    BYE,
    TRANSPORT_CC,
    RR + NACK,
    SR + SDES + BYE,
]


def roundtrip(data: bytes) -> list[RtcpPacket]:
    packets = parse_compound(data)
    assert serialize_compound(packets) == data
    assert b"".join(bytes(p) for p in packets) == data
    return packets


@pytest.mark.parametrize("data", ALL_SAMPLES)
def test_samples_round_trip(data: bytes) -> None:
    roundtrip(data)
    check_rtcp(data)
    assert is_rtcp(data)


def test_chrome_sr_sdes() -> None:
    sr, sdes = roundtrip(CHROME_SR_SDES)
    assert sr == RtcpSr(
        ssrc=OPUS_SSRC,
        ntp_timestamp=0xE60B3A1C4F5C28F5,
        rtp_timestamp=123456,
        packet_count=300,
        octet_count=40000,
        reports=[
            RtcpReportBlock(
                ssrc=VP8_SSRC,
                fraction_lost=5,
                packets_lost=3,
                highest_sequence=0x1010F,
                jitter=0x12,
                last_sr=0x3A1C4F5C,
                delay_since_last_sr=0x8000,
            )
        ],
    )
    assert sdes == RtcpSdes([SdesChunk(OPUS_SSRC, [(1, b"Jk6d9t/Pqw+0eL1z")])])


def test_chrome_rr_remb() -> None:
    rr, remb = roundtrip(CHROME_RR_REMB)
    assert isinstance(rr, RtcpRr)
    assert rr.ssrc == 1
    assert rr.reports[0].packets_lost == -1  # signed 24-bit
    assert isinstance(remb, RtcpRemb)
    assert remb.bitrate == 1_500_000
    assert (remb.mantissa, remb.exponent) == (187500, 3)
    assert remb.ssrcs == [OPUS_SSRC, VP8_SSRC]
    assert bytes(RtcpRemb.from_bitrate(1, 1_500_000, [OPUS_SSRC, VP8_SSRC])) == REMB


def test_remb_from_bitrate_rounds_down_with_smallest_exponent() -> None:
    remb = RtcpRemb.from_bitrate(1, 262_143, [])
    assert (remb.mantissa, remb.exponent) == (262_143, 0)
    remb = RtcpRemb.from_bitrate(1, 262_145, [])
    assert (remb.mantissa, remb.exponent, remb.bitrate) == (131_072, 1, 262_144)
    assert parse_compound(bytes(remb)) == [remb]


def test_nack_pli_fir_bye() -> None:
    (nack,) = roundtrip(NACK)
    assert nack == RtcpNack(1, VP8_SSRC, [(261, 0b101)])
    assert nack.sequence_numbers() == [261, 262, 264]
    assert roundtrip(PLI) == [RtcpPli(1, VP8_SSRC)]
    assert roundtrip(FIR) == [RtcpFir(1, 0, [(VP8_SSRC, 7)])]
    assert roundtrip(BYE) == [RtcpBye([OPUS_SSRC], b"closed")]


def test_unknown_feedback_kept_raw() -> None:
    (packet,) = roundtrip(TRANSPORT_CC)
    assert packet == RtcpUnknown(205, 15, TRANSPORT_CC[4:])


def test_unknown_packet_types_kept_raw() -> None:
    app = h("80 cc 00 03 5c 4a 3f 12 71 72 73 74 00 00 00 01")  # APP "qrst"
    xr = h("80 cf 00 02 00 00 00 01 04 00 00 00")  # XR, empty RRTR-ish block
    afb = h("8f ce 00 03 00 00 00 01 00 00 00 00 41 42 43 44")  # AFB, not REMB
    for data in (app, xr, afb):
        (packet,) = roundtrip(data)
        assert isinstance(packet, RtcpUnknown)
    assert roundtrip(app + xr + afb)[0] == RtcpUnknown(204, 0, app[4:])


def test_bye_variants_round_trip() -> None:
    for packet in (
        RtcpBye([]),
        RtcpBye([1, 2]),
        RtcpBye([1], b""),
        RtcpBye([1], b"abc"),
        RtcpBye([1], b"abcd"),
        RtcpBye([1], b"x" * 255),
    ):
        assert parse_compound(bytes(packet)) == [packet]


def test_sdes_variants_round_trip() -> None:
    for items in ([], [(1, b"")], [(1, b"ab")], [(1, b"abc"), (6, b"tool")], [(2, b"x" * 255)]):
        packet = RtcpSdes([SdesChunk(5, items), SdesChunk(6, [(1, b"c")])])
        data = bytes(packet)
        assert len(data) % 4 == 0
        assert parse_compound(data) == [packet]


def test_padding_round_trip() -> None:
    # RR with no report blocks plus 4 bytes of padding (as SRTCP senders may add).
    data = h("a0 c9 00 02 00 00 00 01 00 00 00 04")
    (rr,) = roundtrip(data)
    assert rr == RtcpRr(1, padding=4)
    # A BYE whose reason alignment and packet padding share the last word.
    bye = RtcpBye([1], b"ab", padding=1)
    assert parse_compound(bytes(bye)) == [bye]
    pli = RtcpPli(1, 2, padding=8)
    assert parse_compound(bytes(pli) + NACK) == [pli, parse_compound(NACK)[0]]


def test_sr_extension_kept() -> None:
    data = h("80 c8 00 07 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00 05")
    data += h("de ad be ef")
    (sr,) = roundtrip(data)
    assert isinstance(sr, RtcpSr)
    assert sr.extension == h("de ad be ef")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", r"^RTCP packet is truncated \(0 < 4 bytes\)$"),
        (SR + h("81 c9"), r"^RTCP packet is truncated \(2 < 4 bytes\)$"),
        (h("40 c9 00 01 00 00 00 01"), r"^RTCP packet has version 1, expected 2$"),
        (
            h("80 c9 00 02 00 00 00 01"),
            r"^RTCP packet length 12 runs past end of data \(8 bytes left\)$",
        ),
        (SR[:-4], r"^RTCP packet length 52 runs past end of data \(48 bytes left\)$"),
        (h("a0 c9 00 01 00 00 00 00"), r"^RTCP padding length is zero$"),
        (
            h("a0 c9 00 01 00 00 00 05"),
            r"^RTCP padding length 5 exceeds packet body length 4$",
        ),
        (
            h("81 c9 00 01 00 00 00 01"),
            r"^RTCP RR is truncated \(8 bytes, 1 report blocks need 32\)$",
        ),
        (
            h("80 c8 00 01 00 00 00 01"),
            r"^RTCP SR is truncated \(8 bytes, 0 report blocks need 28\)$",
        ),
        (h("81 ca 00 00"), r"^RTCP SDES chunk is truncated \(missing SSRC\)$"),
        (
            h("81 ca 00 02 00 00 00 01 01 02 61 62"),
            r"^RTCP SDES chunk is missing its terminating null octet$",
        ),
        (
            h("81 ca 00 02 00 00 00 01 01 05 61 62"),
            r"^RTCP SDES item runs past end of packet$",
        ),
        (
            h("81 ca 00 03 00 00 00 01 00 00 00 00 00 00 00 02"),
            r"^RTCP SDES has 4 bytes of trailing data after its chunks$",
        ),
        (
            # The null octet ends the body but the chunk is not aligned: three bytes of
            # packet padding stand in for the alignment nulls.
            h("a1 ca 00 03 00 00 00 01 01 02 61 62 00 00 00 03"),
            r"^RTCP SDES chunk is truncated \(missing alignment nulls\)$",
        ),
        (
            h("a1 ca 00 02 00 00 00 01 01 00 00 03"),
            r"^RTCP SDES item is truncated \(missing length octet\)$",
        ),
        (h("82 cb 00 01 00 00 00 01"), r"^RTCP BYE is truncated \(8 bytes, 2 sources need 12\)$"),
        (h("81 cb 00 02 00 00 00 01 05 61 62 63"), r"^RTCP BYE reason runs past end of packet$"),
        (
            h("81 cb 00 03 00 00 00 01 01 61 00 00 00 00 00 00"),
            r"^RTCP BYE has 6 bytes of trailing data after its reason$",
        ),
        (h("81 cd 00 01 00 00 00 01"), r"^RTCP feedback packet is truncated \(8 < 12 bytes\)$"),
        (
            h("a1 cd 00 03 00 00 00 01 00 00 00 02 00 01 00 02"),
            r"^RTCP NACK FCI length 2 is not a multiple of 4$",
        ),
        (
            h("81 ce 00 03 00 00 00 01 00 00 00 02 00 00 00 00"),
            r"^RTCP PLI has 4 bytes of FCI, expected none$",
        ),
        (
            h("84 ce 00 03 00 00 00 01 00 00 00 00 00 00 00 02"),
            r"^RTCP FIR FCI length 4 is not a multiple of 8$",
        ),
        (
            h("8f ce 00 03 00 00 00 01 00 00 00 00 52 45 4d 42"),
            r"^RTCP REMB is truncated$",
        ),
        (
            h("8f ce 00 04 00 00 00 01 00 00 00 00 52 45 4d 42 01 00 00 01"),
            r"^RTCP REMB length 20 does not match its 1 SSRCs \(24 bytes\)$",
        ),
    ],
)
def test_parse_compound_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_compound(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(1501), r"^RTCP packet is too large \(1501 > 1500 bytes\)$"),
        (PLI[:7], r"^RTCP packet is truncated \(7 < 8 bytes\)$"),
        (h("40 c9 00 01 00 00 00 01"), r"^RTCP packet has version 1, expected 2$"),
        (h("80 bf 00 01 00 00 00 01"), r"^RTCP packet type 191 is out of range 192-223$"),
        (h("80 e0 00 01 00 00 00 01"), r"^RTCP packet type 224 is out of range 192-223$"),
    ],
)
def test_check_rtcp_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_rtcp(data)


def test_is_rtcp_demux() -> None:
    assert not is_rtcp(OPUS)
    assert is_rtcp(PLI)
    assert not is_rtcp(b"\x80")
    assert is_rtcp(b"\x80\xc0") and is_rtcp(b"\x80\xdf")
    assert not is_rtcp(b"\x80\xbf") and not is_rtcp(b"\x80\xe0")


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (RtcpRr(1, [RtcpReportBlock(1, 0, 0, 0, 0, 0, 0)] * 32), r"^RTCP count 32 is out"),
        (RtcpRr(1, extension=b"abc"), r"^RTCP packet length 11 is not a multiple of 4$"),
        (RtcpRr(1, padding=256), r"^RTCP padding 256 is out of range 0-255$"),
        (RtcpRr(1, [RtcpReportBlock(1, 0, 1 << 23, 0, 0, 0, 0)]), r"does not fit 24 bits$"),
        (RtcpBye([1], b"x" * 256), r"^RTCP BYE reason is too long \(256 > 255 bytes\)$"),
        (RtcpSdes([SdesChunk(1, [(0, b"")])]), r"^RTCP SDES item type 0 is out of range"),
        (RtcpSdes([SdesChunk(1, [(1, bytes(256))])]), r"^RTCP SDES item is too long"),
        (RtcpRemb(1, 1 << 18, 0), r"^REMB mantissa 262144 does not fit 18 bits$"),
        (RtcpRemb(1, 1, 64), r"^REMB exponent 64 does not fit 6 bits$"),
    ],
)
def test_serialize_errors(packet: RtcpPacket, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bytes(packet)


# --- NACK helpers ---------------------------------------------------------------------


def test_expand_nack_wraps() -> None:
    assert expand_nack_item(65534, 0b1000_0000_0000_0011) == [65534, 65535, 0, 14]
    assert expand_nack_items([(1, 0), (100, 1)]) == [1, 100, 101]


def test_build_nack_wraps_oldest_first() -> None:
    assert build_nack_items([0, 65535, 65530, 3]) == [(65530, (1 << 4) | (1 << 5) | (1 << 8))]
    assert build_nack_items([]) == []
    assert build_nack_items([5, 22, 23]) == [(5, 0), (22, 1)]
    assert build_nack_items([5, 21]) == [(5, 1 << 15)]
    nack = RtcpNack.from_sequence_numbers(1, 2, [10, 11, 12])
    assert nack.items == [(10, 0b11)]


def _largest_ring_gap(seqs: list[int]) -> int:
    ordered = sorted(seqs)
    gaps = [b - a for a, b in pairwise(ordered)]
    return max([*gaps, ordered[0] + 0x10000 - ordered[-1]])


@st.composite
def _nack_sets(draw: st.DrawFn) -> set[int]:
    """Either arbitrary numbers or a burst around a random base, often straddling 65535."""
    if draw(st.booleans()):
        return draw(st.sets(st.integers(0, 0xFFFF), max_size=300))
    base = draw(st.one_of(st.integers(0xFFC0, 0xFFFF), st.integers(0, 0xFFFF)))
    offsets = draw(st.sets(st.integers(0, 400), max_size=200))
    return {(base + o) & 0xFFFF for o in offsets}


@given(_nack_sets())
@example({0xFFFF, 0, 16})
@example({0, 0x8000})
@example(set(range(0, 0x10000, 16)))
def test_nack_build_expand_round_trip(seqs: set[int]) -> None:
    items = build_nack_items(seqs)
    expanded = expand_nack_items(items)
    assert len(expanded) == len(seqs)  # nothing reported twice
    assert set(expanded) == seqs
    pids = [pid for pid, _ in items]
    assert set(pids) <= seqs
    if seqs and _largest_ring_gap(list(seqs)) >= 17:
        # Certificate of minimality: the PIDs are pairwise at least 17 apart on the ring,
        # so no single FCI window could cover two of them.
        for i, a in enumerate(pids):
            for b in pids[i + 1 :]:
                distance = (b - a) & 0xFFFF
                assert min(distance, 0x10000 - distance) >= 17
    nack = RtcpNack(1, 2, items)
    assert parse_compound(bytes(nack)) == [nack]


# --- properties over arbitrary input -----------------------------------------------------

_u32 = st.integers(0, 0xFFFFFFFF)


def _report_blocks() -> st.SearchStrategy[list[RtcpReportBlock]]:
    block = st.builds(
        RtcpReportBlock,
        _u32,
        st.integers(0, 255),
        st.integers(-(1 << 23), (1 << 23) - 1),
        _u32,
        _u32,
        _u32,
        _u32,
    )
    return st.lists(block, max_size=3)


_padding = st.sampled_from([0, 4, 8])
_words = st.binary(max_size=12).map(lambda b: b[: len(b) // 4 * 4])

_packets: st.SearchStrategy[RtcpPacket] = st.one_of(
    st.builds(
        RtcpSr,
        _u32,
        st.integers(0, (1 << 64) - 1),
        _u32,
        _u32,
        _u32,
        _report_blocks(),
        _words,
        padding=_padding,
    ),
    st.builds(RtcpRr, _u32, _report_blocks(), _words, padding=_padding),
    st.builds(
        RtcpSdes,
        st.lists(
            st.builds(
                SdesChunk,
                _u32,
                st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=20)), max_size=3),
            ),
            max_size=3,
        ),
        padding=_padding,
    ),
    st.builds(
        RtcpBye,
        st.lists(_u32, max_size=3),
        st.none() | st.binary(max_size=10),
        padding=st.integers(0, 3).map(lambda n: 4 * n),
    ),
    st.builds(
        RtcpNack,
        _u32,
        _u32,
        st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF)), max_size=4),
        padding=_padding,
    ),
    st.builds(RtcpPli, _u32, _u32, padding=_padding),
    st.builds(
        RtcpFir,
        _u32,
        _u32,
        st.lists(st.tuples(_u32, st.integers(0, 255)), max_size=3),
        padding=_padding,
    ),
    st.builds(
        RtcpRemb,
        _u32,
        st.integers(0, (1 << 18) - 1),
        st.integers(0, 63),
        st.lists(_u32, max_size=4),
        _u32,
        padding=_padding,
    ),
    st.builds(
        RtcpUnknown,
        st.sampled_from([204, 207, 195]),
        st.integers(0, 31),
        _words,
        padding=_padding,
    ),
)


@given(st.lists(_packets, min_size=1, max_size=5))
def test_generated_compounds_round_trip(packets: list[RtcpPacket]) -> None:
    data = serialize_compound(packets)
    parsed = parse_compound(data)
    assert parsed == packets
    assert serialize_compound(parsed) == data


@st.composite
def _mutated_rtcp(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(ALL_SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@given(st.one_of(st.binary(max_size=1600), _mutated_rtcp()))
@example(h("81 ca 00 01 00 00 00 01"))
@example(h("a1 ca 00 02 00 00 00 01 01 00 00 01"))
@example(h("8f ce 00 03 00 00 00 01 00 00 00 00 52 45 4d 42"))
def test_rtcp_parsers_only_raise_value_error(data: bytes) -> None:
    with suppress(ValueError):
        check_rtcp(data)
    try:
        packets = parse_compound(data)
    except ValueError:
        return
    # Whatever parsed serializes to the same length and parses to the same packets; the
    # bytes are equal too unless padding, alignment or reserved octets were not zeros.
    again = serialize_compound(packets)
    assert len(again) == len(data)
    assert parse_compound(again) == packets
