"""The SFU packet path on its own: a real InboundStream and Leg, a transport that records.

What goes out must be valid RTP in the subscriber's own numbering, start on a keyframe,
answer NACKs with RTX and keyframe requests with a PLI upstream; what comes in, however
broken, may only be counted and dropped.
"""

from __future__ import annotations

import asyncio
import struct
import time
from types import SimpleNamespace

from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpEncodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sfu_samples import VP8_DELTA, VP8_KEY, VP8_SSRC

from hub.ids import ParticipantId
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import LINK_PLI_INTERVAL, LINK_PREFIX, InboundStream, Leg
from hub.sfu.media import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID
from hub.sfu.packets import receive_publisher_rtp, receive_subscriber_rtcp
from hub.sfu.participant import MediaParticipant
from hub.sfu.rtcp import RtcpNack, RtcpPli, RtcpSr, parse_compound
from hub.sfu.rtp import RtpHeader, check_rtp, find_extension

PUBLISHER_RTX_SSRC = 0x0BADCAFE
LEG_SSRC, LEG_RTX_SSRC = 0x11111111, 0x22222222


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def _send_rtp(self, data: bytes) -> None:
        self.sent.append(bytes(data))


def vp8(payload_type: int, rtx_payload_type: int) -> list[RTCRtpCodecParameters]:
    return [
        RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=payload_type),
        RTCRtpCodecParameters(
            mimeType="video/rtx",
            clockRate=90000,
            payloadType=rtx_payload_type,
            parameters={"apt": payload_type},
        ),
    ]


def make_path():
    """Publisher stream (PT 96, Chrome's extension ids) -> one leg (PT 100, other ids)."""
    counters = SfuCounters()
    upstream: list[bytes] = []

    async def send_rtcp(data: bytes) -> None:
        upstream.append(data)

    stream = InboundStream(
        participant_id=ParticipantId("anne"),
        mid="1",
        kind="video",
        source="camera",
        params=RTCRtpReceiveParameters(
            codecs=vp8(96, 97),
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=2, uri=URI_ABS_SEND_TIME),
                RTCRtpHeaderExtensionParameters(id=4, uri=URI_MID),
            ],
            muxId="1",
            encodings=[
                RTCRtpEncodingParameters(
                    ssrc=VP8_SSRC, payloadType=96, rtx=RTCRtpRtxParameters(ssrc=PUBLISHER_RTX_SSRC)
                )
            ],
        ),
        rtcp_ssrc=0x33333333,
        send_rtcp=send_rtcp,
        counters=counters,
    )
    transport = RecordingTransport()
    transceiver = SimpleNamespace(
        mid="5", sender=SimpleNamespace(_ssrc=LEG_SSRC, _rtx_ssrc=LEG_RTX_SSRC, transport=transport)
    )
    leg = Leg(participant_id=ParticipantId("bruno"), kind="video", transceiver=transceiver)
    leg.attach(stream)
    leg.negotiated(
        RTCRtpSendParameters(
            codecs=vp8(100, 101),
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=3, uri=URI_ABS_SEND_TIME),
                RTCRtpHeaderExtensionParameters(id=1, uri=URI_MID),
                RTCRtpHeaderExtensionParameters(id=6, uri=URI_AUDIO_LEVEL),
            ],
            muxId="5",
            rtcp=RTCRtcpParameters(cname="bruno-cname"),
        )
    )
    publisher = MediaParticipant(ParticipantId("anne"), counters)
    publisher.streams["1"] = stream
    publisher.by_ssrc = {VP8_SSRC: stream, PUBLISHER_RTX_SSRC: stream}
    subscriber = MediaParticipant(ParticipantId("bruno"), counters)
    subscriber.legs = [leg]
    subscriber.legs_by_ssrc = {LEG_SSRC: leg}
    return SimpleNamespace(
        counters=counters,
        upstream=upstream,
        stream=stream,
        leg=leg,
        transport=transport,
        publisher=publisher,
        subscriber=subscriber,
    )


def with_sequence(packet: bytes, sequence_number: int, timestamp: int | None = None) -> bytes:
    data = bytearray(packet)
    struct.pack_into("!H", data, 2, sequence_number)
    if timestamp is not None:
        struct.pack_into("!I", data, 4, timestamp)
    return bytes(data)


def feed(path, *packets: bytes) -> None:
    async def run() -> None:  # in a loop: the packet path may schedule keyframe requests
        for index, packet in enumerate(packets):
            receive_publisher_rtp(path.publisher, path.counters, packet, 100.0 + index / 50)
        await asyncio.sleep(0)

    asyncio.run(run())


def test_forwarded_packets_use_the_subscribers_numbering_ids_and_payload_type():
    path = make_path()
    key = with_sequence(VP8_KEY, 1000, 5000)
    delta = with_sequence(VP8_DELTA, 1001, 8000)
    feed(path, key, delta)
    assert len(path.transport.sent) == 2
    first, second = (RtpHeader.parse(p) for p in path.transport.sent)
    assert (first.ssrc, first.payload_type) == (LEG_SSRC, 100)
    assert second.sequence_number == (first.sequence_number + 1) & 0xFFFF
    assert (second.timestamp - first.timestamp) & 0xFFFFFFFF == 3000
    out = path.transport.sent[0]
    assert find_extension(out, 1) == b"5"  # the subscriber's mid, under its own id
    assert find_extension(out, 3) is not None  # abs-send-time restamped under id 3
    assert find_extension(out, 4) is None  # the publisher's ids do not leak
    assert out[first.header_length :] == key[RtpHeader.parse(key).header_length :]


def test_a_new_leg_waits_for_a_keyframe_and_asks_for_one():
    path = make_path()
    feed(path, with_sequence(VP8_DELTA, 10), with_sequence(VP8_DELTA, 11))
    assert path.transport.sent == []
    asyncio.run(path.stream.request_keyframe(force=True))
    (pli,) = parse_compound(path.upstream[-1])
    assert isinstance(pli, RtcpPli) and pli.media_ssrc == VP8_SSRC
    feed(path, with_sequence(VP8_KEY, 12))
    assert len(path.transport.sent) == 1


def test_a_gap_too_large_to_repair_asks_the_publisher_for_a_keyframe():
    """After a network cut the subscribers' decoders need a fresh picture; NACKs cannot
    repair hundreds of packets, so the SFU asks for one itself (throttled)."""
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1), with_sequence(VP8_DELTA, 2))
    before = len(path.upstream)
    feed(path, with_sequence(VP8_DELTA, 40))  # 37 lost: NACKed, no keyframe asked
    assert not any(isinstance(p, RtcpPli) for d in path.upstream[before:]
                   for p in parse_compound(d))  # fmt: skip
    feed(path, with_sequence(VP8_DELTA, 400))  # 359 lost: a keyframe is the only repair
    requests = [p for d in path.upstream[before:] for p in parse_compound(d)]
    assert [p.media_ssrc for p in requests if isinstance(p, RtcpPli)] == [VP8_SSRC]


def test_muted_stream_is_stopped_and_counted():
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1))
    path.stream.forwarding = False
    feed(path, with_sequence(VP8_DELTA, 2), with_sequence(VP8_DELTA, 3))
    assert len(path.transport.sent) == 1
    assert path.counters.muted_drops == 2


def test_nack_is_answered_with_rtx_from_history():
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1), with_sequence(VP8_DELTA, 2))
    lost = RtpHeader.parse(path.transport.sent[1])
    nack = RtcpNack.from_sequence_numbers(0x44444444, LEG_SSRC, [lost.sequence_number])
    asyncio.run(receive_subscriber_rtcp(path.subscriber, path.counters, bytes(nack)))
    rtx = path.transport.sent[-1]
    header = RtpHeader.parse(rtx)
    assert (header.ssrc, header.payload_type) == (LEG_RTX_SSRC, 101)
    osn = int.from_bytes(rtx[header.header_length : header.header_length + 2], "big")
    assert osn == lost.sequence_number
    assert rtx[header.header_length + 2 :] == path.transport.sent[1][lost.header_length :]
    assert path.counters.nacks_answered == 1


def test_subscriber_pli_becomes_a_throttled_pli_upstream():
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1))
    pli = bytes(RtcpPli(sender_ssrc=0x44444444, media_ssrc=LEG_SSRC))
    before = len(path.upstream)
    asyncio.run(receive_subscriber_rtcp(path.subscriber, path.counters, pli + b""))
    asyncio.run(receive_subscriber_rtcp(path.subscriber, path.counters, pli))
    assert len(path.upstream) == before + 1  # the second, 0 ms later, is absorbed


def test_a_partner_sfus_keyframe_requests_are_not_throttled_again():
    """A cascade link's SFU throttles per stream already, and asks at once for a receiver that
    just connected: a second throttle here would hold that request back ~300 ms."""
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1))
    link = MediaParticipant(ParticipantId(f"{LINK_PREFIX}hub-b.test"), path.counters)
    link.legs, link.legs_by_ssrc = path.subscriber.legs, path.subscriber.legs_by_ssrc
    pli = bytes(RtcpPli(sender_ssrc=0x44444444, media_ssrc=LEG_SSRC))
    before = len(path.upstream)
    asyncio.run(receive_subscriber_rtcp(link, path.counters, pli))
    asyncio.run(receive_subscriber_rtcp(link, path.counters, pli))
    assert len(path.upstream) == before + 1  # a flood is still held back (10 ms)
    time.sleep(LINK_PLI_INTERVAL)
    asyncio.run(receive_subscriber_rtcp(link, path.counters, pli))
    assert len(path.upstream) == before + 2  # well before the 300 ms a browser waits


def test_sender_report_is_translated_into_the_legs_timestamps():
    path = make_path()
    feed(path, with_sequence(VP8_KEY, 1, 5000))
    out = RtpHeader.parse(path.transport.sent[0])
    report = RtcpSr(
        ssrc=VP8_SSRC,
        ntp_timestamp=1 << 40,
        rtp_timestamp=5000 + 9000,
        packet_count=1,
        octet_count=10,
        reports=[],
    )
    translated = path.leg.sender_report(report)
    assert translated is not None
    sr = parse_compound(translated)[0]
    assert sr.ssrc == LEG_SSRC
    assert sr.rtp_timestamp == (out.timestamp + 9000) & 0xFFFFFFFF


valid = st.sampled_from([VP8_KEY, VP8_DELTA])


@st.composite
def mutated(draw):
    base = bytearray(draw(valid))
    for _ in range(draw(st.integers(1, 4))):
        base[draw(st.integers(0, len(base) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        base = base[: draw(st.integers(0, len(base)))]
    return bytes(base)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=1600) | mutated() | valid, max_size=12))
@example([b"\x80" * 11])
@example([VP8_KEY[:12] + b"\xff" * 1500])
def test_any_input_is_dropped_or_forwarded_as_valid_rtp(packets):
    path = make_path()
    feed(path, *packets)
    asyncio.run(receive_subscriber_rtcp(path.subscriber, path.counters, b"".join(packets)[:1500]))
    for sent in path.transport.sent:
        check_rtp(sent)
        header = RtpHeader.parse(sent)
        assert header.ssrc in (LEG_SSRC, LEG_RTX_SSRC)
    assert path.counters.packets_in == len(packets)


def test_oversized_truncated_and_malformed_packets_are_counted_by_reason():
    from prometheus_client import CollectorRegistry, generate_latest

    from hub.config_sfu import SfuConfig
    from hub.sfu.service import Sfu, SfuCollector

    path = make_path()
    feed(
        path,
        VP8_KEY + b"\x00" * 1500,  # oversized
        VP8_KEY[:7],  # truncated
        b"\x40" + VP8_KEY[1:],  # version 1
        with_sequence(VP8_KEY, 1)[:8] + b"\x00\x00\x00\x09" + VP8_KEY[12:],  # unknown SSRC
    )
    assert path.counters.dropped == {"malformed_rtp": 3, "unknown_ssrc": 1}
    assert path.transport.sent == []
    sfu = Sfu(SfuConfig())
    sfu.counters = path.counters
    registry = CollectorRegistry()
    registry.register(SfuCollector(sfu))
    text = generate_latest(registry).decode()
    assert 'hub_sfu_packets_dropped_total{reason="malformed_rtp"} 3.0' in text
