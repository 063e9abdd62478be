"""The SDP gate: real offers pass; every defect is named; nothing else escapes."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.sfu.sdp import SdpError, check_description


def real_offer() -> str:
    async def make() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp: str = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(make())


OFFER = real_offer()


def test_a_real_offer_passes_and_is_summarised():
    summary = check_description(OFFER, "offer")
    assert summary.mids == ("0", "1")
    assert summary.kinds == ("audio", "video")
    assert summary.ice_ufrag


def _without(pattern: str) -> str:
    return "\r\n".join(line for line in OFFER.split("\r\n") if not line.startswith(pattern))


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("hello", "offer: SDP must start with v=0"),
        ("v=0\r\n", "offer: SDP has no media section"),
        (_without("a=ice-ufrag"), "offer: media section 0 has no ICE credentials"),
        (_without("a=fingerprint"), "offer: media section 0 has no DTLS fingerprint"),
        (_without("a=mid"), "offer: media section 0 has no a=mid"),
        (_without("a=rtcp-mux"), "offer: media section 0 does not multiplex RTCP"),
        (
            _without("a=rtpmap:97 VP8").replace(" 97 ", " ").replace(" 98", ""),
            "offer: media section 1 offers no VP8 codec",
        ),
        (OFFER.replace("a=mid:1", "a=mid:0"), "offer: media section 1 repeats mid '0'"),
        (OFFER.replace("m=video", "m=text"), "offer: media section 1 is 'text'"),
        ("v=0\r\nm=video x y z\r\n", "offer: SDP could not be parsed"),
    ],
)
def test_each_defect_is_named(sdp, message):
    with pytest.raises(SdpError) as caught:
        check_description(sdp, "offer")
    assert str(caught.value).startswith(message)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=400)
    | st.lists(st.integers(0, len(OFFER) - 1), max_size=6).map(
        lambda cuts: "".join(OFFER[i:] for i in sorted(cuts))[:4000]
    )
)
def test_arbitrary_text_is_accepted_or_refused_with_sdp_error(text):
    try:
        check_description("v=0\r\n" + text, "offer")
    except SdpError as exc:
        assert "\n" not in str(exc)
