"""Simulcast the SFU negotiates itself (docs/simulcast.md): the offer Chromium 156 really
sends, the lines added to aiortc's answer, the RID of each packet, and the packet path that
binds layers and switches a leg between them on keyframes only."""

from __future__ import annotations

import asyncio
import struct
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from hypothesis import given
from hypothesis import strategies as st
from test_sfu_forwarder import LEG_RTX_SSRC, LEG_SSRC, RecordingTransport, vp8

from hub.ids import ParticipantId
from hub.sfu.counters import SfuCounters
from hub.sfu.forwarder import PLI_INTERVAL, InboundStream, Leg
from hub.sfu.media import URI_ABS_SEND_TIME, URI_MID
from hub.sfu.packets import receive_publisher_rtp
from hub.sfu.participant import MediaParticipant, View
from hub.sfu.rtcp import RtcpPli, parse_compound
from hub.sfu.rtp import RtpHeader, vp8_keyframe_size
from hub.sfu.sdp import SdpError, check_description
from hub.sfu.simulcast import (
    URI_REPAIRED_RID,
    URI_RID,
    SimulcastOffer,
    add_simulcast_to_answer,
    parse_simulcast_offer,
    read_rid,
)

SAMPLE = Path(__file__).parent / "samples" / "chromium156_simulcast_offer.sdp"
OFFER = SAMPLE.read_bytes().decode()  # CRLF kept, as Chromium sent it
RID = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)


def with_simulcast_line(line: str, rid_lines: tuple[str, ...] = ()) -> str:
    """The Chromium offer with another a=simulcast line (and a=rid lines, if given)."""
    out = []
    for current in OFFER.splitlines():
        if current.startswith("a=simulcast:"):
            out.extend(rid_lines)
            out.append(line)
        elif not (current.startswith("a=rid:") and rid_lines):
            out.append(current)
    return "\r\n".join(out) + "\r\n"


def aiortc_answer(offer: str) -> str:
    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        answer: str = pc.localDescription.sdp
        await pc.close()
        return answer

    return asyncio.run(make())


def test_chromiums_offer_is_read_layer_by_layer():
    assert check_description(OFFER, "offer").mids == ("0", "1")
    assert parse_simulcast_offer(OFFER) == {
        "1": SimulcastOffer(mid="1", rids=("q", "h", "f"), rid_ext=10, repaired_ext=11, mid_ext=4)
    }


def test_aiortcs_answer_gets_the_lines_chromium_needs_and_nothing_else_changes():
    answer = aiortc_answer(OFFER)
    assert "rid" not in answer and "simulcast" not in answer  # what aiortc 1.16 leaves out
    munged = add_simulcast_to_answer(answer, parse_simulcast_offer(OFFER))
    added = [line for line in munged.split("\r\n") if line not in answer.split("\r\n")]
    assert added == [
        f"a=extmap:10 {URI_RID}",
        f"a=extmap:11 {URI_REPAIRED_RID}",
        "a=rid:q recv",
        "a=rid:h recv",
        "a=rid:f recv",
        "a=simulcast:recv q;h;f",
    ]
    video = munged[munged.index("m=video") :]
    assert video.index("a=mid:1") < video.index("a=simulcast:recv")
    assert munged.replace("\r\n".join(added) + "\r\n", "") == answer
    check_description(munged, "answer")
    assert add_simulcast_to_answer(answer, {}) == answer


def test_an_offer_without_simulcast_is_answered_unchanged():
    plain = with_simulcast_line("", ()).replace("\r\n\r\n", "\r\n")
    plain = "\r\n".join(line for line in plain.split("\r\n") if not line.startswith("a=rid"))
    assert parse_simulcast_offer(plain) == {}
    answer = aiortc_answer(plain)
    assert add_simulcast_to_answer(answer, parse_simulcast_offer(plain)) == answer


@pytest.mark.parametrize(
    ("line", "rids", "message"),
    [
        ("a=simulcast:recv q;h;f", (), "must be 'send <rid>;<rid>…' in a publish offer"),
        ("a=simulcast:send q,h;f", (), "simulcast alternatives ('q,h') are not supported"),
        ("a=simulcast:send q;x", (), "RID 'x' of a=simulcast has no 'a=rid:x send' line"),
        ("a=simulcast:send q;q", (), "RID 'q' appears twice in a=simulcast"),
        ("a=simulcast:send q;h!", (), "RID 'h!' is not 1-16 letters, digits, '-' or '_'"),
        ("a=simulcast:send q;h", ("a=rid:q recv", "a=rid:h send"), "RID 'q' of a=simulcast"),
    ],
)
def test_unusable_simulcast_is_refused_precisely(line, rids, message):
    with pytest.raises(SdpError, match="offer: media section 1") as caught:
        parse_simulcast_offer(with_simulcast_line(line, rids))
    assert message in str(caught.value)


def test_simulcast_needs_the_rid_extension():
    offer = "\r\n".join(line for line in OFFER.split("\r\n") if URI_RID not in line)
    with pytest.raises(SdpError, match=f"a=simulcast needs the {URI_RID} header extension"):
        parse_simulcast_offer(offer)


def test_simulcast_on_audio_is_refused():
    offer = OFFER.replace("a=mid:0\r\n", "a=mid:0\r\na=rid:a send\r\na=simulcast:send a\r\n")
    with pytest.raises(SdpError, match="offer: media section 0: a=simulcast is only accepted"):
        parse_simulcast_offer(offer)


def test_more_layers_than_the_sfu_uses_are_clamped_out_of_the_answer():
    rid_lines = tuple(f"a=rid:{rid} send" for rid in "abcde")
    (offer,) = parse_simulcast_offer(
        with_simulcast_line("a=simulcast:send a;b;c;d;e", rid_lines)
    ).values()
    assert (offer.rids, offer.clamped) == (("a", "b", "c"), ("d", "e"))


def test_an_answer_id_already_taken_is_refused():
    answer = aiortc_answer(OFFER).replace(
        "a=mid:1\r\n", f"a=mid:1\r\na=extmap:10 {URI_ABS_SEND_TIME}x\r\n"
    )
    with pytest.raises(SdpError, match=r"extension id 10 of .*rtp-stream-id is already used"):
        add_simulcast_to_answer(answer, parse_simulcast_offer(OFFER))


@given(st.lists(RID, min_size=1, max_size=5, unique=True), st.booleans())
def test_any_valid_rid_list_round_trips_into_the_answer(rids, paused):
    line = "a=simulcast:send " + ";".join(("~" if paused else "") + rid for rid in rids)
    offers = parse_simulcast_offer(
        with_simulcast_line(line, tuple(f"a=rid:{rid} send" for rid in rids))
    )
    assert offers["1"].rids == tuple(rids[:3]) and offers["1"].clamped == tuple(rids[3:])
    answer = add_simulcast_to_answer(ANSWER, offers)
    assert f"a=simulcast:recv {';'.join(rids[:3])}\r\n" in answer
    assert [line for line in answer.split("\r\n") if line.startswith("a=rid:")] == [
        f"a=rid:{rid} recv" for rid in rids[:3]
    ]


ANSWER = aiortc_answer(OFFER)


# -- RID in packets ---------------------------------------------------------------------------


def vp8_packet(
    ssrc: int,
    seq: int,
    timestamp: int,
    *,
    key: bool,
    extensions: dict[int, bytes] | None = None,
    width: int = 320,
    height: int = 180,
    payload_type: int = 96,
) -> bytes:
    """A VP8 RTP packet (first of its frame) with one-byte header extensions."""
    elements = b"".join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in (extensions or {}).items())
    elements += b"\x00" * (-len(elements) % 4)
    b0 = 0x90 if elements else 0x80
    header = struct.pack("!BBHII", b0, payload_type, seq, timestamp, ssrc)
    if elements:
        header += b"\xbe\xde" + struct.pack("!H", len(elements) // 4) + elements
    if key:
        frame = b"\x50\x01\x00\x9d\x01\x2a" + struct.pack("<HH", width, height)
    else:
        frame = b"\x51\x01\x00" + b"\x00" * 7
    return header + b"\x10" + frame + b"\x00" * 40


@given(RID, st.integers(1, 14))
def test_read_rid_finds_the_rid_under_its_id(rid, ext_id):
    packet = vp8_packet(1, 2, 3, key=False, extensions={ext_id: rid.encode()})
    assert read_rid(packet, ext_id) == rid
    other = 1 + ext_id % 14
    assert read_rid(packet, other) is None


def test_a_malformed_rid_is_named():
    with pytest.raises(ValueError, match=r"RID 'a b' is not 1-16 letters"):
        read_rid(vp8_packet(1, 2, 3, key=False, extensions={10: b"a b"}), 10)
    with pytest.raises(ValueError, match="RID extension is not ASCII"):
        read_rid(vp8_packet(1, 2, 3, key=False, extensions={10: b"\xff"}), 10)


def test_vp8_keyframe_size_reads_the_frame_header():
    key = vp8_packet(1, 2, 3, key=True, width=640, height=360)
    assert vp8_keyframe_size(key, 12) == (640, 360)
    assert vp8_keyframe_size(vp8_packet(1, 2, 3, key=False), 12) is None


# -- the packet path ---------------------------------------------------------------------------

Q, H, F = 0x1000_0001, 0x1000_0002, 0x1000_0003
MID_EXT, RID_EXT, RRID_EXT = 4, 10, 11


def simulcast_path():
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
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=MID_EXT, uri=URI_MID)],
            muxId="1",
            encodings=[],  # Chromium's simulcast offer has no a=ssrc
        ),
        simulcast=parse_simulcast_offer(OFFER)["1"],
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
            codecs=vp8(100, 101), headerExtensions=[], muxId="5", rtcp=RTCRtcpParameters()
        )
    )
    publisher = MediaParticipant(ParticipantId("anne"), counters)
    publisher.streams["1"] = stream
    return SimpleNamespace(
        counters=counters, upstream=upstream, stream=stream, leg=leg, transport=transport,
        publisher=publisher,
    )  # fmt: skip


def tagged(ssrc: int, rid: bytes, seq: int, **kwargs) -> bytes:
    return vp8_packet(ssrc, seq, seq * 3000, extensions={MID_EXT: b"1", RID_EXT: rid}, **kwargs)


def feed(path, packets, start: float = 100.0) -> None:
    async def run() -> None:
        for index, packet in enumerate(packets):
            receive_publisher_rtp(path.publisher, path.counters, packet, start + index / 100)
        await asyncio.sleep(0)

    asyncio.run(run())


def test_layers_bind_their_ssrcs_and_a_leg_moves_up_on_a_keyframe_only():
    path = simulcast_path()
    feed(path, [
        tagged(Q, b"q", 1, key=True, width=160, height=90),
        tagged(H, b"h", 1, key=False),
        vp8_packet(Q, 2, 6000, key=False),  # RID no longer sent: known by SSRC
        tagged(H, b"h", 2, key=True, width=320, height=180),
        vp8_packet(Q, 3, 9000, key=False),
        vp8_packet(H, 3, 9000, key=False),
    ])  # fmt: skip
    stream = path.stream
    assert [(layer.rid, layer.ssrc) for layer in stream.layers] == [("q", Q), ("h", H), ("f", None)]
    assert (stream.layer("h").width, stream.layer("h").height) == (320, 180)
    assert stream.target is stream.layer("h")
    sent = [RtpHeader.parse(packet) for packet in path.transport.sent]
    # q's keyframe starts the leg, q goes on until h's keyframe, then only h.
    assert len(sent) == 4
    assert {header.ssrc for header in sent} == {LEG_SSRC}
    assert [h.sequence_number - sent[0].sequence_number for h in sent] == [0, 1, 2, 3]
    assert all((b.timestamp - a.timestamp) & 0xFFFFFFFF < 1 << 31 for a, b in pairwise(sent))
    assert path.leg.layer is stream.layer("h")
    assert path.counters.dropped == {}


def test_a_rid_that_was_not_negotiated_is_dropped_counted_and_binds_nothing():
    path = simulcast_path()
    feed(path, [tagged(0x0BAD, b"x", 1, key=True), tagged(0x0BAD, b"x", 2, key=True)])
    assert path.counters.dropped == {"rid_not_negotiated": 2}
    assert path.transport.sent == [] and 0x0BAD not in path.publisher.by_ssrc


def test_an_ssrc_of_another_participant_is_refused():
    path = simulcast_path()
    path.publisher.ssrc_in_use = lambda ssrc: ssrc == Q
    feed(path, [tagged(Q, b"q", 1, key=True), tagged(H, b"h", 1, key=True)])
    assert path.counters.dropped == {"ssrc_collision": 1}
    assert path.stream.layer("q").ssrc is None and path.stream.layer("h").ssrc == H


def test_a_second_ssrc_for_a_bound_rid_is_refused():
    path = simulcast_path()
    feed(path, [tagged(Q, b"q", 1, key=True), tagged(0x0BAD, b"q", 1, key=True)])
    assert path.counters.dropped == {"rid_ssrc_conflict": 1}
    assert path.stream.layer("q").ssrc == Q


def test_rtx_binds_through_the_repaired_rid():
    path = simulcast_path()
    rtx = vp8_packet(0x0BAD, 7, 3000, extensions={MID_EXT: b"1", RRID_EXT: b"q"}, key=False,
                     payload_type=97)  # fmt: skip
    feed(path, [tagged(Q, b"q", 1, key=True), rtx])
    assert path.stream.layer("q").rtx_ssrc == 0x0BAD
    assert path.counters.dropped == {}


def rtx_of(ssrc: int, original: bytes, rtx_seq: int, extensions: dict[int, bytes] | None = None):
    """An RFC 4588 retransmission of `original` on `ssrc` (payload type 97, apt 96)."""
    header = RtpHeader.parse(original)
    elements = b"".join(bytes([(i << 4) | (len(v) - 1)]) + v for i, v in (extensions or {}).items())
    elements += b"\x00" * (-len(elements) % 4)
    out = struct.pack("!BBHII", 0x90 if elements else 0x80, 97, rtx_seq, header.timestamp, ssrc)
    if elements:
        out += b"\xbe\xde" + struct.pack("!H", len(elements) // 4) + elements
    body = original[original_header_length(original) :]
    return out + struct.pack("!H", header.sequence_number) + body


def original_header_length(packet: bytes) -> int:
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    return length


def plis(path) -> list[int]:
    """The media SSRCs of the keyframe requests sent to the publisher so far."""
    return [packet.media_ssrc for data in path.upstream for packet in parse_compound(data)
            if isinstance(packet, RtcpPli)]  # fmt: skip


def test_a_retransmission_fills_its_own_slot_and_never_starts_a_leg():
    path = simulcast_path()
    key = tagged(Q, b"q", 1, key=True)
    lost = vp8_packet(Q, 2, 6000, key=False)
    feed(path, [
        rtx_of(0x0BAD, key, 50, {MID_EXT: b"1", RRID_EXT: b"q"}),  # a keyframe piece, on RTX
        key, vp8_packet(Q, 3, 9000, key=False), rtx_of(0x0BAD, lost, 51),
        vp8_packet(Q, 4, 12000, key=False),
    ])  # fmt: skip
    sent = [RtpHeader.parse(packet) for packet in path.transport.sent]
    # Media 1, 3, then 2 from RTX in its own slot, then 4: one stream, no renumbering.
    first = sent[0].sequence_number
    assert [h.sequence_number - first for h in sent] == [0, 2, 1, 3]
    assert [h.timestamp - sent[0].timestamp for h in sent] == [0, 6000, 3000, 9000]
    assert path.counters.dropped == {"rtx_before_media": 1}


def test_after_a_silence_a_layer_takes_the_new_ssrc_its_rid_names():
    path = simulcast_path()
    feed(path, [tagged(Q, b"q", 1, key=True)], start=100.0)
    # The publisher's new connection: new SSRCs, the RID written again.
    feed(path, [tagged(0x0BAD, b"q", 900, key=True), vp8_packet(0x0BAD, 901, 3000, key=False)],
         start=102.0)  # fmt: skip
    assert path.stream.layer("q").ssrc == 0x0BAD
    assert Q not in path.publisher.by_ssrc and path.publisher.by_ssrc[0x0BAD] is path.stream
    assert path.counters.dropped == {}
    sent = [RtpHeader.parse(packet) for packet in path.transport.sent]
    assert [h.sequence_number - sent[0].sequence_number for h in sent] == [0, 1, 2]


def test_a_new_connection_of_the_same_browser_keeps_the_learned_ssrcs():
    """After an ICE restart libwebrtc writes no RID any more (its SSRCs were acknowledged):
    the new stream must know them from the old one."""
    path = simulcast_path()
    feed(path, [tagged(Q, b"q", 1, key=True), tagged(H, b"h", 1, key=True)])
    old = path.stream
    new = InboundStream(
        participant_id=ParticipantId("anne"), mid="1", kind="video", source="camera",
        params=RTCRtpReceiveParameters(codecs=vp8(96, 97), headerExtensions=[], muxId="1",
                                       encodings=[]),
        simulcast=parse_simulcast_offer(OFFER)["1"], rtcp_ssrc=0x44444444,
        send_rtcp=old._send_rtcp, counters=path.counters,
    )  # fmt: skip
    new.adopt_bindings(old)
    assert [(layer.rid, layer.ssrc) for layer in new.layers] == [("q", Q), ("h", H), ("f", None)]
    assert new.layer_of(H) is new.layer("h")


def test_a_leg_falls_back_to_a_flowing_layer_and_asks_that_layer_for_a_keyframe():
    path = simulcast_path()
    stream = path.stream
    feed(path, [tagged(Q, b"q", 1, key=True), tagged(F, b"f", 1, key=True)], start=100.0)
    assert path.leg.layer is stream.layer("f")
    # f stops (the publisher's bandwidth), q goes on: the next tick leaves f for q.
    feed(path, [vp8_packet(Q, n, n * 3000, key=False) for n in range(2, 60)], start=100.1)
    before = len(plis(path))

    async def tick() -> None:
        assert stream.choose_target(101.5)
        await asyncio.sleep(0)

    asyncio.run(tick())
    assert stream.target is stream.layer("q")
    assert plis(path)[before:] == [Q]
    feed(path, [vp8_packet(Q, 60, 180000, key=True)], start=101.6)
    assert path.leg.layer is stream.layer("q")


def test_keyframe_requests_are_throttled_per_layer():
    path = simulcast_path()
    stream = path.stream
    feed(path, [tagged(Q, b"q", 1, key=True), tagged(H, b"h", 1, key=False)])

    async def ask() -> None:
        for _ in range(3):
            await stream.request_keyframe(layer=stream.layer("q"))
            await stream.request_keyframe(layer=stream.layer("h"))

    asyncio.run(ask())
    assert sorted(plis(path)) == [Q, H]


# -- what each viewer displays ------------------------------------------------------------------


def show(stream, leg, tile, shown: bool, now: float) -> None:
    """InboundStream.show from the event loop, as the room calls it (it may ask for keyframes)."""

    async def run() -> None:
        stream.show(leg, tile, shown, now)
        await asyncio.sleep(0)

    asyncio.run(run())


def second_leg(path, ssrc: int = 0x5555_0001):
    transport = RecordingTransport()
    transceiver = SimpleNamespace(
        mid="6", sender=SimpleNamespace(_ssrc=ssrc, _rtx_ssrc=ssrc + 1, transport=transport)
    )
    leg = Leg(participant_id=ParticipantId("chloe"), kind="video", transceiver=transceiver)
    leg.attach(path.stream)
    leg.negotiated(
        RTCRtpSendParameters(
            codecs=vp8(100, 101), headerExtensions=[], muxId="6", rtcp=RTCRtcpParameters()
        )
    )
    return leg, transport


def three_layers(seq: int, *, key: bool) -> list[bytes]:
    sizes = {Q: (320, 180), H: (640, 360), F: (1280, 720)}
    rids = {Q: b"q", H: b"h", F: b"f"}
    return [tagged(ssrc, rids[ssrc], seq, key=key, width=w, height=h)
            for ssrc, (w, h) in sizes.items()]  # fmt: skip


def widths(transport) -> list[int]:
    """The width of each keyframe a viewer was sent (which layer it decodes)."""
    return [size[0] for packet in transport.sent
            if (size := vp8_keyframe_size(packet, 12)) is not None]  # fmt: skip


def test_each_leg_takes_the_layer_that_fits_its_tile_and_a_hidden_one_gets_nothing():
    path = simulcast_path()
    small, small_sent = path.leg, path.transport
    large, large_sent = second_leg(path)
    stream = path.stream
    feed(path, three_layers(1, key=True), start=100.0)
    show(stream, small, (300, 170), True, 100.05)
    show(stream, large, (1280, 720), True, 100.05)
    feed(path, three_layers(2, key=True) + three_layers(3, key=False), start=100.1)
    assert (small.layer, large.layer) == (stream.layer("q"), stream.layer("f"))
    assert widths(small_sent)[-1] == 320 and widths(large_sent)[-1] == 1280

    # The small tile grows: h fills 600 wide; the switch waits for h's keyframe.
    show(stream, small, (600, 338), True, 100.2)
    before = len(small_sent.sent)
    feed(path, three_layers(4, key=False), start=100.21)
    assert small.layer is stream.layer("q") and len(small_sent.sent) == before + 1
    feed(path, three_layers(5, key=True), start=100.3)
    assert small.layer is stream.layer("h") and widths(small_sent)[-1] == 640

    # Hidden: nothing more; shown again: from the next keyframe, numbering continuous.
    show(stream, large, (1280, 720), False, 100.4)
    sent = len(large_sent.sent)
    feed(path, three_layers(6, key=False) + three_layers(7, key=True), start=100.41)
    assert len(large_sent.sent) == sent
    show(stream, large, (1280, 720), True, 100.5)
    feed(path, three_layers(8, key=False), start=100.51)
    assert len(large_sent.sent) == sent  # no keyframe yet
    feed(path, three_layers(9, key=True), start=100.6)
    assert len(large_sent.sent) == sent + 1 and widths(large_sent)[-1] == 1280
    numbers = [RtpHeader.parse(packet).sequence_number for packet in large_sent.sent]
    assert all((b - a) & 0xFFFF == 1 for a, b in pairwise(numbers))
    assert path.counters.dropped == {}


def test_a_viewers_keyframe_request_goes_to_the_layer_its_leg_waits_for():
    path = simulcast_path()
    large, _ = second_leg(path)
    stream = path.stream
    feed(path, three_layers(1, key=True), start=100.0)
    show(stream, path.leg, (100, 60), True, 100.05)
    show(stream, large, None, True, 100.05)

    async def viewer_asks() -> None:
        await asyncio.sleep(PLI_INTERVAL)
        await stream.request_keyframe(layer=path.leg.target)

    asyncio.run(viewer_asks())
    assert plis(path)[-1] == Q and path.leg.target is stream.layer("q")
    assert large.target is stream.layer("f")


def test_a_view_hides_whom_the_page_left_out_but_not_who_came_after_it():
    anne, bruno, chloe = ParticipantId("anne"), ParticipantId("bruno"), ParticipantId("chloe")
    view = View({anne: (640, 360)}, True, frozenset({anne, bruno}))
    assert view.shows(anne)
    assert not view.shows(bruno)  # in the meeting when the page said it: not displayed
    assert view.shows(chloe)  # came later: the page could not list her yet
    hidden = View({anne: (640, 360)}, False, frozenset({anne, bruno}))
    assert not any(hidden.shows(person) for person in (anne, bruno, chloe))
