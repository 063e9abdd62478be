"""Simulcast end to end (docs/simulcast.md): a Chromium page sends its camera in three VP8
layers to the real hub, the hub's /metrics shows each RID received on its own SSRC, and
another page decodes the forwarded video at the width of the layer the SFU chose (the
highest one flowing), falling back to a lower layer when the publisher stops one."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright

from tests.browser.support import (
    HubServer,
    create_meeting,
    inbound_stats,
    launch_chromium,
    new_context,
    open_meeting_page,
    self_id,
    wait_for_flow,
    watch_errors,
)

# The page captures 640x360, where Chromium sends two layers; three need 1280x720.
HD_CAMERA_JS = """
(() => {
  const media = navigator.mediaDevices;
  const original = media.getUserMedia.bind(media);
  media.getUserMedia = (constraints) => original(constraints && constraints.video
    ? {...constraints, video: {width: {exact: 1280}, height: {exact: 720}, frameRate: 24}}
    : constraints);
})();
"""

OUTBOUND_JS = """
async () => {
  const pc = window.visioDebug.publishPc();
  const result = {};
  for (const s of (await pc.getStats()).values()) {
    if (s.type === "outbound-rtp" && s.kind === "video") {
      result[s.rid ?? "-"] = {ssrc: s.ssrc, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0,
        bytes: s.bytesSent, fps: s.framesPerSecond ?? 0, limit: s.qualityLimitationReason};
    }
  }
  return result;
}
"""


def layer_metrics(base_url: str) -> dict[str, tuple[int, int]]:
    """rid -> (layers receiving, packets) from the hub's /metrics (the viewer's camera is
    simulcast too: at 640x360, q and h)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found: dict[str, list[int]] = {}
    for name, rid, value in re.findall(
        r'^hub_sfu_simulcast_(layers|packets_total)\{rid="([^"]+)"\} ([0-9.e+]+)$', text, re.M
    ):
        found.setdefault(rid, [0, 0])[0 if name == "layers" else 1] = int(float(value))
    return {rid: (counts[0], counts[1]) for rid, counts in found.items()}


CAMERA_SETTINGS_JS = """
() => {
  const track = window.visioDebug.publishPc().getTransceivers()
    .map((transceiver) => transceiver.sender.track)
    .find((track) => track && track.kind === "video");
  return track ? track.getSettings() : null;
}
"""


def outbound(page: Page) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = page.evaluate(OUTBOUND_JS)
    return result


def set_active_layers(page: Page, rids: str) -> None:
    """Start or stop the publisher's encodings, as Chromium itself does when bandwidth
    falls: the layers in `rids` are sent, the others not."""
    page.evaluate(
        """async (rids) => {
          const sender = window.visioDebug.publishPc().getTransceivers()
            .map((transceiver) => transceiver.sender)
            .find((sender) => sender.track && sender.track.kind === "video");
          const parameters = sender.getParameters();
          for (const encoding of parameters.encodings) {
            encoding.active = rids.includes(encoding.rid);
          }
          await sender.setParameters(parameters);
        }""",
        rids,
    )


def decoded_width(page: Page, pid: str, width: int, *, timeout: float) -> float:
    """Seconds until the page decodes `pid`'s camera `width` pixels wide (new frames)."""
    started = time.monotonic()
    deadline = started + timeout
    decoded = -1
    while True:
        camera = inbound_stats(page).get(pid, {}).get("camera", {})
        if camera.get("frameWidth") == width and camera.get("framesDecoded", 0) > decoded >= 0:
            return time.monotonic() - started
        if camera.get("frameWidth") == width:
            decoded = camera.get("framesDecoded", 0)
        assert time.monotonic() < deadline, f"not {width} wide after {timeout} s: {camera}"
        page.wait_for_timeout(250)


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub that asks browsers for simulcast (`sfu.simulcast`, off by default)."""
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
