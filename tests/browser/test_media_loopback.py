"""Real media through the page's two peer connections, with a peer connection inside the same
page playing the hub's part (FakeHub carries the signaling). This checks the SDP exchange, the
mapping of remote tracks to participants by mid, `subscribe_offer.restart`, and the
INBOUND_STATS_JS helper that the end-to-end tests with the real SFU reuse."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.support import (
    FakeHub,
    create_meeting,
    inbound_stats,
    new_context,
    open_meeting_page,
    wait_until,
)

ALICE = {"id": "alice", "name": "Alice Martin", "audio": True, "video": True, "screen": False,
         "hand": False}  # fmt: skip
STREAMS = [
    {"mid": "0", "participant_id": "alice", "source": "microphone", "kind": "audio"},
    {"mid": "1", "participant_id": "alice", "source": "camera", "kind": "video"},
]

# A stand-in for the hub's side of one connection, kept on window.__fakeHubPcs (test only).
OFFER_FROM_FAKE_HUB_JS = """
async () => {
  const pc = new RTCPeerConnection();
  (window.__fakeHubPcs ??= []).push(pc);
  const media = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  pc.addTransceiver(media.getAudioTracks()[0], {direction: "sendonly"});
  pc.addTransceiver(media.getVideoTracks()[0], {direction: "sendonly"});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && done());
    setTimeout(done, 2000);
  });
  return pc.localDescription.sdp;
}
"""
ANSWER_FROM_FAKE_HUB_JS = """
async (offer) => {
  const pc = new RTCPeerConnection();
  (window.__fakeHubPcs ??= []).push(pc);
  await pc.setRemoteDescription({type: "offer", sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((done) => {
    pc.addEventListener("icegatheringstatechange",
      () => pc.iceGatheringState === "complete" && done());
    setTimeout(done, 2000);
  });
  return pc.localDescription.sdp;
}
"""


@pytest.fixture(scope="module")
def meeting_id(browser: Browser, hub_server: str) -> str:
    context = new_context(browser, hub_server)
    try:
        return create_meeting(context.new_page(), "Boucle locale")
    finally:
        context.close()


def subscribe(page: Page, hub: FakeHub, *, restart: bool = False) -> None:
    """Offer Alice's camera and microphone to the page and complete the exchange."""
    answers = len(hub.sent("subscribe_answer"))
    offer = page.evaluate(OFFER_FROM_FAKE_HUB_JS)
    hub.send({"type": "subscribe_offer", "sdp": offer, "streams": STREAMS, "restart": restart})
    wait_until(lambda: len(hub.sent("subscribe_answer")) > answers, page)
    answer = hub.sent("subscribe_answer")[-1]["sdp"]
    page.evaluate(
        "(sdp) => window.__fakeHubPcs.at(-1).setRemoteDescription({type: 'answer', sdp})", answer
    )


def decoded(page: Page) -> tuple[int, int]:
    stats = inbound_stats(page).get("alice", {})
    camera = stats.get("camera", {})
    microphone = stats.get("microphone", {})
    return camera.get("framesDecoded", 0), microphone.get("totalSamplesReceived", 0)


def test_remote_media_is_decoded_and_shown_per_participant(browser, hub_server, meeting_id):
    hub = FakeHub(others=[ALICE])
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    try:
        hub.install(page)
        page.click("#join-button")
        page.wait_for_function("() => window.visioDebug.state() === 'connected'")

        # Publish: the page offers, a stand-in answers; our camera goes out.
        wait_until(lambda: bool(hub.sent("publish_offer")), page)
        answer = page.evaluate(ANSWER_FROM_FAKE_HUB_JS, hub.sent("publish_offer")[0]["sdp"])
        hub.send({"type": "publish_answer", "sdp": answer})
        page.wait_for_function(
            "() => window.visioDebug.publishPc().connectionState === 'connected'",
            timeout=10_000,
        )

        # Subscribe: Alice's tracks arrive, are decoded, and land in her tile and audio sink.
        subscribe(page, hub)
        wait_until(lambda: min(decoded(page)) > 0, page, timeout=15)
        assert page.evaluate("() => window.visioDebug.streams()") == STREAMS
        alice_video = "#grid li[data-participant='alice'] video"
        page.wait_for_function(
            "(sel) => document.querySelector(sel).videoWidth > 0", arg=alice_video
        )
        expect(page.locator("#audio-sinks audio")).to_have_count(1)

        # A restart offer is answered on a fresh connection, and media flows again.
        page.evaluate("() => { window.visioDebug.subscribePc().__old = true; }")
        subscribe(page, hub, restart=True)
        assert page.evaluate("() => window.visioDebug.subscribePc().__old") is None
        page.wait_for_function(
            "() => window.visioDebug.subscribePc().connectionState === 'connected'",
            timeout=10_000,
        )
        before = decoded(page)[0]
        wait_until(lambda: decoded(page)[0] > before, page, timeout=15)
        assert page.evaluate("() => window.visioDebug.state()") == "connected"
    finally:
        page.context.close()


def ice_ufrag(sdp: str) -> str:
    return next(line for line in sdp.splitlines() if line.startswith("a=ice-ufrag:"))


def test_publish_ice_restart_after_the_path_is_lost(browser, hub_server, meeting_id):
    hub = FakeHub()
    page = open_meeting_page(browser, hub_server, meeting_id, "Camille", join=False)
    try:
        hub.install(page)
        page.click("#join-button")
        wait_until(lambda: bool(hub.sent("publish_offer")), page)
        first = hub.sent("publish_offer")[0]["sdp"]
        hub.send({"type": "publish_answer", "sdp": page.evaluate(ANSWER_FROM_FAKE_HUB_JS, first)})
        page.wait_for_function(
            "() => window.visioDebug.publishPc().iceConnectionState === 'connected'",
            timeout=10_000,
        )

        # The far end vanishes: ICE goes down, and after 2 s the page restarts it.
        page.evaluate("() => window.__fakeHubPcs[0].close()")
        wait_until(lambda: len(hub.sent("publish_offer")) >= 2, page, timeout=40)
        assert page.evaluate("() => window.visioDebug.state()") == "reconnecting"
        expect(page.locator("#connection-state")).to_have_text("Reconnexion…")
        second = hub.sent("publish_offer")[1]["sdp"]
        assert ice_ufrag(second) != ice_ufrag(first)
        assert hub.joins == 1  # the socket stayed up: ICE restart, not a rejoin

        hub.send({"type": "publish_answer", "sdp": page.evaluate(ANSWER_FROM_FAKE_HUB_JS, second)})
        page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=10_000)
    finally:
        page.context.close()
