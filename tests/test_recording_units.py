"""The recorder's pure parts on real bytes: VP8 packets from aiortc's own encoder joined back
into frames (and what a lost packet does), the OpusHead, RTP time across a wrap, and the
recorder's wire refusing what is not one of its messages."""

from __future__ import annotations

import fractions
import logging
from pathlib import Path

import pytest
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

from hub.recording.depacketize import RtpClock, Vp8Assembler, keyframe_size, opus_head
from hub.recording.wire import Finished, Packets, WireError, Written, decode, encode
from hub.recording.writer import TrackWriter


def encoded_frames(count: int) -> list[list[bytes]]:
    """RTP payloads of `count` pictures (320x240), the first a keyframe, as aiortc sends."""
    encoder = Vp8Encoder()
    frames = []
    for index in range(count):
        frame = VideoFrame(width=320, height=240, format="yuv420p")
        frame.planes[0].update(bytes((x + index * 7) % 256 for x in range(320)) * 240)
        frame.planes[1].update(bytes([128]) * (320 * 240 // 4))
        frame.planes[2].update(bytes([128]) * (320 * 240 // 4))
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame)
        frames.append(payloads)
    return frames


def feed(assembler: Vp8Assembler, frames: list[list[bytes]], skip: set[int] = frozenset()):
    out, seq = [], 0
    for index, payloads in enumerate(frames):
        for part, payload in enumerate(payloads):
            seq += 1
            if seq in skip:
                continue
            marker = part == len(payloads) - 1
            done = assembler.push(seq, 1000 + index * 3000, marker, payload, float(index))
            if done is not None:
                out.append(done)
    return out


def test_vp8_packets_become_the_encoders_frames():
    frames = encoded_frames(4)
    out = feed(Vp8Assembler(), frames)
    assert len(out) == 4 and out[0].keyframe and not out[1].keyframe
    assert keyframe_size(out[0].data) == (320, 240)
    assert keyframe_size(out[1].data) is None


def test_a_lost_packet_drops_frames_until_the_next_keyframe():
    frames = encoded_frames(3)
    assembler = Vp8Assembler()
    lost = len(frames[0]) + 1  # the second picture's first packet
    out = feed(assembler, frames, skip={lost})
    assert [f.timestamp for f in out] == [1000]  # the third refers to the lost second
    assert assembler.frames_dropped == 2


def test_a_recording_waits_for_a_keyframe_and_a_truncated_descriptor_is_refused():
    frames = encoded_frames(2)
    assembler = Vp8Assembler()
    assert feed(assembler, frames[1:]) == []
    with pytest.raises(ValueError, match="VP8 payload descriptor is truncated"):
        assembler.push(1, 5, True, b"", 0.0)


def test_a_frame_that_only_claims_to_be_a_keyframe_never_starts_a_track(tmp_path):
    """A publisher can send any bytes: a frame whose first bit says "keyframe" without a
    keyframe's header once stopped the recorder, and every recording with it."""
    descriptor = b"\x10"  # S bit, partition 0: the start of a frame
    forged = descriptor + b"\x10\x00\x00\x00"  # "keyframe" bit clear, no start code, no size
    assert Vp8Assembler().push(1, 1000, True, forged, 0.0) is None
    writer = TrackWriter(tmp_path / "camera.webm", "video/vp8", 90_000)
    writer.packet(1, 1000, True, forged, 0.0)
    frames = encoded_frames(1)
    for number, payload in enumerate(frames[0]):
        writer.packet(2 + number, 4000, number == len(frames[0]) - 1, payload, 0.1)
    assert (writer.width, writer.height, writer.frames) == (320, 240, 1)
    writer.close()


def test_opus_head_and_rtp_time():
    assert opus_head(2).hex() == "4f707573486561640102380180bb0000000000"
    with pytest.raises(ValueError, match="1 or 2 channels"):
        opus_head(3)
    clock = RtpClock()
    assert [clock.ticks(t) for t in (0xFFFFF000, 0xFFFFFC00, 0x00000400)] == [0, 0xC00, 0x1400]


def test_the_wire_round_trips_and_refuses_garbage():
    message = Packets("0123456789abcdef", (("p/0", 1, 2, True, b"\x90", 3.5),))
    assert decode(encode(message)[4:]) == message
    done = Finished("0123456789abcdef", (Written("p/0", 3, 320, 240, 1.0, 0.2, None),))
    assert decode(encode(done)[4:]) == done
    for body, error in (
        (b"\xc1", "not msgpack"),
        (b"\x90", "a message is a msgpack map"),
        (b"\x82\xa1t\xa7packets\xa1r\xa1x", "field 'p' is missing"),
        (b"\x83\xa1t\xa7packets\xa1r\xa1x\xa1p\x91\x91\x01", "packets: each is"),
        (b"\x82\xa1t\xa4boom\xa1r\xa1x", "unknown message kind 'boom'"),
    ):
        with pytest.raises(WireError, match=error):
            decode(body)


def test_a_full_disk_stops_the_track_with_one_log_line(caplog):
    """/dev/full: every write fails with ENOSPC, as a recording disk that filled up."""
    writer = TrackWriter(Path("/dev/full"), "audio/opus", 48_000)
    encoder = OpusEncoder()
    with caplog.at_level(logging.ERROR, logger="hub.recording.writer"):
        for index in range(300):  # 6 s: more than the muxer's buffer
            frame = AudioFrame(format="s16", layout="stereo", samples=960)
            frame.planes[0].update(bytes(3840))
            frame.sample_rate, frame.pts = 48_000, index * 960
            frame.time_base = fractions.Fraction(1, 48_000)
            for payload in encoder.encode(frame)[0]:
                writer.packet(index, index * 960, True, payload, float(index))
        writer.close()
    assert writer.error is not None and "No space left on device" in writer.error
    assert len(caplog.records) == 1
    with pytest.raises(ValueError, match="cannot record video/h264"):
        TrackWriter(Path("x.webm"), "video/h264", 90_000)
