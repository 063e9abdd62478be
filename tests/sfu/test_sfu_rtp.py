"""Tests for hub.sfu.rtp: framing checks, header view, extensions, rewriting, keyframes."""

from __future__ import annotations

import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sfu_samples import (
    H264_FU_A_IDR_MIDDLE,
    H264_FU_A_IDR_START,
    H264_SINGLE_IDR,
    H264_SINGLE_NON_IDR,
    H264_STAP_A_KEY,
    OPUS,
    OPUS_HEADER_LENGTH,
    OPUS_SSRC,
    VP8_DELTA,
    VP8_HEADER_LENGTH,
    VP8_KEY,
    VP8_SSRC,
    VP8_TEMPORAL,
    h,
)

from hub.sfu.rtp import (
    MAX_PACKET_SIZE,
    RtpHeader,
    Vp8Descriptor,
    check_rtp,
    find_extension,
    is_h264_keyframe,
    is_vp8_keyframe,
    iter_extensions,
    parse_audio_level,
    rewrite_header,
)


def test_opus_header_fields() -> None:
    header = RtpHeader.parse(OPUS)
    assert header == RtpHeader(
        marker=False,
        payload_type=111,
        sequence_number=0x1234,
        timestamp=123456,
        ssrc=OPUS_SSRC,
        csrc_count=0,
        extension_profile=0xBEDE,
        header_length=OPUS_HEADER_LENGTH,
        payload_length=16,
        padding_length=0,
    )
    check_rtp(OPUS)


def test_opus_extensions_and_audio_level() -> None:
    assert list(iter_extensions(OPUS)) == [
        (1, b"\xaa"),
        (2, b"\x12\x34\x56"),
        (3, b"\x00\x2a"),
        (4, b"0"),
    ]
    level = find_extension(OPUS, 1)
    assert level == b"\xaa"
    assert parse_audio_level(level) == (True, 42)
    assert find_extension(OPUS, 4) == b"0"  # mid
    assert find_extension(OPUS, 5) is None


def test_audio_level_silence_without_voice() -> None:
    assert parse_audio_level(b"\x7f") == (False, 127)


def test_audio_level_wrong_size() -> None:
    with pytest.raises(ValueError, match=r"^RTP audio level extension must be 1 byte, got 2$"):
        parse_audio_level(b"\x80\x00")
    with pytest.raises(ValueError, match=r"^RTP audio level extension must be 1 byte, got 0$"):
        parse_audio_level(b"")


def test_two_byte_extensions() -> None:
    packet = h(
        """
        90 6f 00 01 00 00 00 01 00 00 00 02
        10 00 00 03             # two-byte profile, appbits 0, 3 words
        01 01 aa                # id 1 len 1
        00                      # padding octet between elements
        0f 00                   # id 15 len 0 (legal in the two-byte form)
        10 03 61 62 63          # id 16 len 3
        00                      # padding
        de ad
        """
    )
    assert list(iter_extensions(packet)) == [(1, b"\xaa"), (15, b""), (16, b"abc")]
    assert find_extension(packet, 16) == b"abc"


def test_one_byte_id_15_stops_processing() -> None:
    packet = h("90 6f 00 01 00 00 00 01 00 00 00 02 be de 00 01 10 aa f0 10")
    assert list(iter_extensions(packet)) == [(1, b"\xaa")]


def test_unknown_extension_profile_is_opaque() -> None:
    packet = h("90 6f 00 01 00 00 00 01 00 00 00 02 ab cd 00 01 10 aa 00 00")
    assert list(iter_extensions(packet)) == []
    assert find_extension(packet, 1) is None


def test_no_extension() -> None:
    assert find_extension(H264_SINGLE_IDR, 1) is None


def test_find_extension_id_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"^RTP header extension id 0 is out of range 1-255$"):
        find_extension(OPUS, 0)


def test_extension_element_past_block() -> None:
    # One-byte element claims 4 bytes but the block has 3 left.
    packet = h("90 6f 00 01 00 00 00 01 00 00 00 02 be de 00 01 13 aa bb cc")
    with pytest.raises(
        ValueError, match=r"^RTP header extension element 1 runs past end of extension block$"
    ):
        find_extension(packet, 1)
    packet = h("90 6f 00 01 00 00 00 01 00 00 00 02 10 00 00 01 00 00 00 07")
    with pytest.raises(
        ValueError, match=r"^RTP header extension element 7 is truncated \(no length octet\)$"
    ):
        find_extension(packet, 7)
    packet = h("90 6f 00 01 00 00 00 01 00 00 00 02 10 00 00 01 07 05 00 00")
    with pytest.raises(
        ValueError, match=r"^RTP header extension element 7 runs past end of extension block$"
    ):
        find_extension(packet, 7)


def test_csrc_and_padding_fields() -> None:
    packet = h(
        """
        a2 e0 ff ff             # V=2 P=1 CC=2, M=1 PT=96, seq 65535
        ff ff ff ff 00 00 00 07
        00 00 00 0a 00 00 00 0b # two CSRCs
        01 02 03                # payload
        00 00 03                # 3 bytes of padding
        """
    )
    header = RtpHeader.parse(packet)
    assert header.marker
    assert header.csrc_count == 2
    assert header.extension_profile is None
    assert header.header_length == 20
    assert header.payload_length == 3
    assert header.padding_length == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(MAX_PACKET_SIZE + 1), r"^RTP packet is too large \(1501 > 1500 bytes\)$"),
        (h("80 6f 00 01 00 00 00 01 00 00 00"), r"^RTP packet is truncated \(11 < 12 bytes\)$"),
        (b"", r"^RTP packet is truncated \(0 < 12 bytes\)$"),
        (
            h("40 6f 00 01 00 00 00 01 00 00 00 02"),
            r"^RTP packet has version 1, expected 2$",
        ),
        (
            h("82 6f 00 01 00 00 00 01 00 00 00 02 00 00 00 03"),
            r"^RTP CSRC list runs past end of packet \(needs 20 bytes, have 16\)$",
        ),
        (
            h("90 6f 00 01 00 00 00 01 00 00 00 02 be de 00"),
            r"^RTP header extension is truncated \(needs 16 bytes, have 15\)$",
        ),
        (
            h("90 6f 00 01 00 00 00 01 00 00 00 02 be de 00 02 10 aa 00 00"),
            r"^RTP header extension runs past end of packet \(needs 24 bytes, have 20\)$",
        ),
        (
            h("a0 6f 00 01 00 00 00 01 00 00 00 02 de ad 00"),
            r"^RTP padding length is zero$",
        ),
        (
            h("a0 6f 00 01 00 00 00 01 00 00 00 02 de ad 04"),
            r"^RTP padding length 4 exceeds payload length 3$",
        ),
        (
            # Padding bit on a header-only packet: the count byte is inside the header.
            h("a0 6f 00 01 00 00 00 01 00 00 00 02"),
            r"^RTP padding length 2 exceeds payload length 0$",
        ),
    ],
)
def test_check_rtp_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_rtp(data)
    with pytest.raises(ValueError, match=message):
        RtpHeader.parse(data)
    with pytest.raises(ValueError, match=message):
        find_extension(data, 1)


def test_max_size_packet_is_accepted() -> None:
    check_rtp(h("80 6f 00 01 00 00 00 01 00 00 00 02") + bytes(MAX_PACKET_SIZE - 12))


def test_rewrite_header_in_place() -> None:
    buf = bytearray(VP8_TEMPORAL)
    rewrite_header(buf, 0xCAFEBABE, 0xFFFF, 0xFFFFFFFF, payload_type=100)
    header = RtpHeader.parse(buf)
    assert (header.ssrc, header.sequence_number, header.timestamp) == (
        0xCAFEBABE,
        0xFFFF,
        0xFFFFFFFF,
    )
    assert header.payload_type == 100
    assert header.marker  # preserved from the original
    assert buf[12:] == VP8_TEMPORAL[12:]
    assert buf[0] == VP8_TEMPORAL[0]


def test_rewrite_header_keeps_payload_type_by_default() -> None:
    buf = bytearray(OPUS)
    rewrite_header(buf, 1, 2, 3)
    assert buf[:2] == OPUS[:2]
    assert buf[2:12] == struct.pack("!HII", 2, 3, 1)
    assert buf[12:] == OPUS[12:]


def test_rewrite_header_out_of_range_is_struct_error() -> None:
    with pytest.raises(struct.error):
        rewrite_header(bytearray(OPUS), 1, 0x10000, 3)


def test_vp8_keyframe_detection() -> None:
    assert RtpHeader.parse(VP8_KEY).ssrc == VP8_SSRC
    assert is_vp8_keyframe(VP8_KEY, VP8_HEADER_LENGTH)
    assert not is_vp8_keyframe(VP8_DELTA, VP8_HEADER_LENGTH)
    assert is_vp8_keyframe(VP8_TEMPORAL, 12)


def test_vp8_keyframe_needs_start_of_first_partition() -> None:
    not_start = bytearray(VP8_KEY)
    not_start[VP8_HEADER_LENGTH] = 0x80  # S=0
    assert not is_vp8_keyframe(not_start, VP8_HEADER_LENGTH)
    other_partition = bytearray(VP8_KEY)
    other_partition[VP8_HEADER_LENGTH] = 0x91  # S=1 PID=1
    assert not is_vp8_keyframe(other_partition, VP8_HEADER_LENGTH)


def test_vp8_keyframe_truncated_payload_is_false() -> None:
    for cut in range(VP8_HEADER_LENGTH, VP8_HEADER_LENGTH + 4):
        assert not is_vp8_keyframe(VP8_KEY[:cut], VP8_HEADER_LENGTH)
    assert is_vp8_keyframe(VP8_KEY[: VP8_HEADER_LENGTH + 5], VP8_HEADER_LENGTH)
    # `end` excludes trailing padding from the payload.
    assert not is_vp8_keyframe(VP8_KEY, VP8_HEADER_LENGTH, end=VP8_HEADER_LENGTH + 4)


def test_vp8_minimal_descriptor() -> None:
    # X=0: one descriptor octet then the frame tag.
    assert is_vp8_keyframe(h("10 b0 2a 00"), 0)
    assert not is_vp8_keyframe(h("10 b1 2a 00"), 0)


def test_vp8_descriptor_parse() -> None:
    descriptor = Vp8Descriptor.parse(VP8_KEY[VP8_HEADER_LENGTH:])
    assert descriptor.start_of_partition
    assert descriptor.partition_id == 0
    assert descriptor.picture_id == 300
    assert descriptor.picture_id_15bit
    assert descriptor.tl0_pic_idx is None
    assert descriptor.temporal_id is None
    assert descriptor.size == 4
    descriptor = Vp8Descriptor.parse(VP8_TEMPORAL[12:])
    assert descriptor == Vp8Descriptor(
        non_reference=False,
        start_of_partition=True,
        partition_id=0,
        picture_id=69,
        picture_id_15bit=False,
        tl0_pic_idx=7,
        temporal_id=2,
        layer_sync=True,
        key_idx=3,
        size=5,
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", r"^VP8 payload descriptor is truncated$"),
        (h("90"), r"^VP8 payload descriptor is truncated \(missing extension octet\)$"),
        (h("90 80"), r"^VP8 payload descriptor is truncated \(missing picture id\)$"),
        (h("90 80 81"), r"^VP8 payload descriptor is truncated \(missing picture id\)$"),
        (h("90 40"), r"^VP8 payload descriptor is truncated \(missing TL0PICIDX\)$"),
        (h("90 20"), r"^VP8 payload descriptor is truncated \(missing TID/KEYIDX octet\)$"),
    ],
)
def test_vp8_descriptor_errors(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Vp8Descriptor.parse(payload)


def test_h264_keyframe_detection() -> None:
    assert is_h264_keyframe(H264_STAP_A_KEY, 12)
    assert is_h264_keyframe(H264_FU_A_IDR_START, 12)
    assert not is_h264_keyframe(H264_FU_A_IDR_MIDDLE, 12)
    assert not is_h264_keyframe(H264_SINGLE_NON_IDR, 12)
    assert is_h264_keyframe(H264_SINGLE_IDR, 12)


def test_h264_stap_a_without_key_nal_or_truncated() -> None:
    # STAP-A with only a PPS, then one whose first size runs past the end.
    assert not is_h264_keyframe(h("78 00 04 68 ce 3c 80"), 0)
    assert not is_h264_keyframe(h("78 00 09 67 42"), 0)
    assert not is_h264_keyframe(h("78 00 00 67"), 0)
    assert not is_h264_keyframe(h("7c"), 0)
    assert not is_h264_keyframe(b"", 0)


# --- property: any bytes either parse or raise ValueError ------------------------------

_SAMPLES = [OPUS, VP8_KEY, VP8_DELTA, VP8_TEMPORAL, H264_STAP_A_KEY]


@st.composite
def _mutated_rtp(draw: st.DrawFn) -> bytes:
    """A real packet with a few bytes overwritten and maybe truncated: reaches deep code."""
    data = bytearray(draw(st.sampled_from(_SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


_rtp_inputs = st.one_of(st.binary(max_size=1600), _mutated_rtp())


@given(_rtp_inputs)
@example(h("90 6f 00 01 00 00 00 01 00 00 00 02 10 00 00 01 00 00 00 07"))
@example(h("b0 6f 00 01 00 00 00 01 00 00 00 02 be de 00 00 01"))
def test_rtp_parsers_only_raise_value_error(data: bytes) -> None:
    try:
        check_rtp(data)
    except ValueError:
        with pytest.raises(ValueError):
            RtpHeader.parse(data)
        with pytest.raises(ValueError):
            find_extension(data, 1)
        return
    header = RtpHeader.parse(data)
    assert header.header_length + header.payload_length + header.padding_length == len(data)
    for ext_id in (1, 4, 16):
        try:
            find_extension(data, ext_id)
        except ValueError as error:
            assert str(error).startswith("RTP header extension element")
    # Keyframe probes never raise on a valid packet, whatever the payload.
    is_vp8_keyframe(data, header.header_length)
    is_h264_keyframe(data, header.header_length)


@given(st.binary(max_size=40))
def test_vp8_descriptor_only_raises_value_error(payload: bytes) -> None:
    try:
        descriptor = Vp8Descriptor.parse(payload)
    except ValueError:
        return
    assert descriptor.size <= len(payload)
    expected = (
        descriptor.start_of_partition
        and descriptor.partition_id == 0
        and len(payload) > descriptor.size
        and not payload[descriptor.size] & 1
    )
    assert is_vp8_keyframe(payload, 0) == expected
