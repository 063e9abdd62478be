"""Simulcast end to end (docs/simulcast.md): a Chromium page sends its camera in three VP8
layers to the real hub, the hub's /metrics shows each RID received on its own SSRC, and
another page decodes the forwarded video at the width of the layer the SFU chose (the
highest one flowing), falling back to a lower layer when the publisher stops one."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.browser.support import (
    CAMERA_SETTINGS_JS,
    HD_CAMERA_JS,
    HubServer,
    create_meeting,
    decoded_width,
    inbound_stats,
    launch_chromium,
    layer_metrics,
    new_context,
    open_meeting_page,
    outbound,
    self_id,
    wait_for_flow,
    wait_for_layers,
    watch_errors,
)


def set_active_layers(page: Page, rids: str) -> None:
    """Start or stop the publisher's encodings, as Chromium itself does when bandwidth
    falls: the layers in `rids` are sent, the others not, whatever the hub asks for (its
    `encodings` messages are ignored from then on, as by a publisher that cannot send)."""
    page.evaluate(
        """async (rids) => {
          const sender = window.visioDebug.publishPc().getTransceivers()
            .map((transceiver) => transceiver.sender)
            .find((sender) => sender.track && sender.track.kind === "video");
          const parameters = sender.getParameters();
          for (const encoding of parameters.encodings) {
            encoding.active = rids.includes(encoding.rid);
          }
          sender.ownSetParameters = sender.ownSetParameters || sender.setParameters.bind(sender);
          sender.setParameters = async () => {};
          await sender.ownSetParameters(parameters);
        }""",
        rids,
    )


# The page's visibility, as the page reads it, switchable by the test: headless Chromium
# shows every page, and the page reacts only to `visibilitychange`.
VISIBILITY_JS = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true, get: () => (hidden ? "hidden" : "visible")});
  Object.defineProperty(Document.prototype, "hidden", {configurable: true, get: () => hidden});
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""

TILE_JS = """
(id) => {
  const tile = document.querySelector(`li.tile[data-participant="${id}"][data-source="camera"]`);
  const box = tile.getBoundingClientRect();
  return [Math.round(box.width * devicePixelRatio), Math.round(box.height * devicePixelRatio)];
}
"""
LAYERS = ((320, 180), (640, 360), (1280, 720))  # what the publisher's q, h, f carry


def fitting_width(page: Page, pid: str) -> tuple[int, tuple[int, int]]:
    """The layer width the hub should choose for `pid`'s tile on `page` (docs/signaling.md):
    the smallest filling the tile in width or height, else the largest."""
    tile = page.evaluate(TILE_JS, pid)
    width = next((w for w, h in LAYERS if w >= tile[0] or h >= tile[1]), LAYERS[-1][0])
    return width, tile


def metric(base_url: str, name: str, label: str | None = None) -> float:
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    pattern = re.escape(name) + (r"\{layer=\"" + re.escape(label) + r"\"\}" if label else "")
    found = re.search(rf"^{pattern} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub that asks browsers for simulcast (`sfu.simulcast`, on by default: said anyway)."""
    server = HubServer(
        tmp_path_factory.mktemp("simulcast-hub"), env={"HUB_SFU__SIMULCAST": "true"}
    ).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hd_browser(playwright: Playwright) -> Iterator[Browser]:
    """A Chromium of its own: the fake camera is one device per browser process, and once a
    page of the package's shared browser holds it at 640x360, Chromium refuses another page
    an exact 1280x720 (OverconstrainedError on width) and the meeting page goes on without
    camera: the publisher then sends no video at all (what made this test fail after
    test_meeting_e2e.py, whose hub-restart test left its two pages open)."""
    browser = launch_chromium(playwright)
    try:
        yield browser
    finally:
        browser.close()


def test_chromium_publishes_three_layers_and_a_viewer_decodes_the_highest(
    hd_browser: Browser, hub_server: str
) -> None:
    browser = hd_browser
    owner = new_context(browser, hub_server)
    meeting_id = create_meeting(owner.new_page(), "Simulcast")
    owner.close()
    publisher = open_meeting_page(
        browser, hub_server, meeting_id, "A", init_scripts=(HD_CAMERA_JS,), timeout=20_000
    )
    viewer = open_meeting_page(browser, hub_server, meeting_id, "B", timeout=20_000)
    errors = watch_errors(publisher) + watch_errors(viewer)
    try:
        joined = time.monotonic()
        camera_settings = publisher.evaluate(CAMERA_SETTINGS_JS)
        assert camera_settings is not None, "the publisher joined without a camera"
        assert (camera_settings["width"], camera_settings["height"]) == (1280, 720)
        a = self_id(publisher)
        wait_for_flow([(viewer, a, "camera")], timeout=20)
        first_frames_s = time.monotonic() - joined
        # Every layer received on its own SSRC, as the publisher's own stats say it sends.
        deadline = time.monotonic() + 25
        while True:
            layers = layer_metrics(hub_server)
            sent = outbound(publisher)
            if all(layers.get(rid, (0, 0))[0] >= 1 and layers[rid][1] > 50 for rid in "qhf"):
                break
            assert time.monotonic() < deadline, f"layers at the hub {layers}, sent {sent}"
            publisher.wait_for_timeout(500)
        assert sorted(sent) == ["f", "h", "q"]
        assert len({sent[rid]["ssrc"] for rid in "qhf"}) == 3
        assert [sent[rid]["width"] for rid in "qhf"] == [320, 640, 1280]
        before, started = outbound(publisher), time.monotonic()
        publisher.wait_for_timeout(3000)
        after, elapsed = outbound(publisher), time.monotonic() - started
        kbps = {
            rid: round((after[rid]["bytes"] - before[rid]["bytes"]) * 8 / elapsed / 1000)
            for rid in "qhf"
        }
        # The viewer decodes the highest layer flowing: 1280 wide. When the publisher stops a
        # layer, the viewer falls back to the highest one still flowing, and back up after.
        highest_s = decoded_width(viewer, a, 1280, timeout=20)
        switches: list[str] = []
        for active, width in (("qh", 640), ("q", 320), ("qhf", 1280)):
            set_active_layers(publisher, active)
            took = decoded_width(viewer, a, width, timeout=10)
            switches.append(f"{'+'.join(active)} -> {width} in {took:.1f} s")
        print(
            f"\nfirst frames at the viewer {first_frames_s:.1f} s after joining, 1280 wide "
            f"{highest_s:.1f} s later; layers sent "
            + ", ".join(
                f"{rid} {after[rid]['width']}x{after[rid]['height']} "
                f"{after[rid]['fps']} fps {kbps[rid]} kbit/s ({after[rid]['limit']})"
                for rid in "qhf"
            )
            + f"; hub {layer_metrics(hub_server)}; layers stopped and resumed: "
            + ", ".join(switches)
        )
        assert errors == []
    finally:
        publisher.context.close()
        viewer.context.close()


def test_each_viewer_gets_the_layer_of_its_tile_and_no_video_while_its_page_is_hidden(
    hd_browser: Browser, hub_server: str
) -> None:
    """The page's `view`: a small tile decodes a low layer, an enlarged one the 1280-wide
    layer within 2 s, a hidden page is sent no video at all (counted at the SFU) but keeps
    the audio, and gets video again when shown."""
    browser = hd_browser
    owner = new_context(browser, hub_server)
    meeting_id = create_meeting(owner.new_page(), "Tuiles")
    owner.close()
    publisher = open_meeting_page(
        browser, hub_server, meeting_id, "A", init_scripts=(HD_CAMERA_JS,), timeout=20_000
    )
    viewer = open_meeting_page(
        browser, hub_server, meeting_id, "B", timeout=20_000, init_scripts=(VISIBILITY_JS,),
        context_options={"viewport": {"width": 480, "height": 320}},
    )  # fmt: skip
    errors = watch_errors(publisher) + watch_errors(viewer)
    try:
        # B's camera off: then every video packet the SFU forwards is A's, to B.
        viewer.click("#toggle-camera")
        a = self_id(publisher)
        wait_for_flow([(viewer, a, "camera")], timeout=20)
        wait_for_layers(hub_server, publisher)
        small, small_tile = fitting_width(viewer, a)
        assert small < 1280, f"the tile {small_tile} is not small"
        decoded_width(viewer, a, small, timeout=10)
        # The tile says what it receives (hub message `reception`).
        quality = {320: ("low", "basse"), 640: ("medium", "moyenne")}[small]
        tile = f'li.tile[data-participant="{a}"][data-source="camera"]'
        viewer.wait_for_selector(f'{tile}[data-quality="{quality[0]}"]', timeout=5000)
        label = viewer.get_attribute(f"{tile} .tile-quality", "aria-label")
        assert label == f"Qualité reçue : {quality[1]}"

        # Nobody watches the 1280-wide layer now: the hub asks the publisher's page to stop
        # encoding it (after 3 s), and to start again when the tile grows (below).
        deadline = time.monotonic() + 10
        while True:
            before = outbound(publisher).get("f", {}).get("bytes", 0)
            publisher.wait_for_timeout(1000)
            if outbound(publisher).get("f", {}).get("bytes", 0) - before < 1000:
                break
            assert time.monotonic() < deadline, "the publisher still encodes the top layer"
        unwatched_s = time.monotonic() - deadline + 10

        viewer.set_viewport_size({"width": 1600, "height": 1000})
        enlarged = time.monotonic()
        # The page lays its tiles out again on its ResizeObserver: read the tile after that.
        while (fit := fitting_width(viewer, a))[0] != 1280:
            assert time.monotonic() < enlarged + 2, f"the tile {fit[1]} did not grow"
            viewer.wait_for_timeout(50)
        large_tile = fit[1]
        up_s = decoded_width(viewer, a, 1280, timeout=2, since=enlarged)
        viewer.wait_for_selector(f'{tile}[data-quality="high"]', timeout=2000)

        viewer.evaluate("() => window.__setHidden(true)")
        deadline = time.monotonic() + 5
        while metric(hub_server, "hub_sfu_video_legs", "hidden") < 1:
            assert time.monotonic() < deadline, "the hub never stopped B's video"
            viewer.wait_for_timeout(100)
        hidden_at = metric(hub_server, "hub_sfu_video_packets_forwarded_total")
        audio_before = inbound_stats(viewer)[a]["microphone"]["packetsReceived"]
        viewer.wait_for_timeout(2000)
        forwarded = metric(hub_server, "hub_sfu_video_packets_forwarded_total") - hidden_at
        audio = inbound_stats(viewer)[a]["microphone"]["packetsReceived"] - audio_before
        assert forwarded == 0, f"{forwarded} video packets forwarded to a hidden page"
        assert audio > 50, f"the audio stopped too ({audio} packets in 2 s)"

        frames = inbound_stats(viewer)[a]["camera"]["framesDecoded"]
        viewer.evaluate("() => window.__setHidden(false)")
        shown = time.monotonic()
        while (camera := inbound_stats(viewer)[a]["camera"])["framesDecoded"] <= frames:
            assert time.monotonic() < shown + 10, "shown again, but no video"
            viewer.wait_for_timeout(100)
        back_s = time.monotonic() - shown
        assert camera["frameWidth"] == 1280
        print(
            f"\ntop layer stopped at the publisher {unwatched_s:.1f} s after the small tile; "
            f"tile {small_tile} -> {small} wide; enlarged to {large_tile} -> 1280 wide in "
            f"{up_s:.2f} s; hidden: {forwarded:.0f} video packets in 2 s, {audio} audio "
            f"packets; shown again: 1280 wide in {back_s:.2f} s"
        )
        assert errors == []
    finally:
        publisher.context.close()
        viewer.context.close()
