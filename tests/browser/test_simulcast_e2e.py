"""Simulcast end to end (docs/simulcast.md): a Chromium page sends its camera in three VP8
layers to the real hub, the hub's /metrics shows each RID received on its own SSRC, and
another page decodes the forwarded video at the width of the layer the SFU chose (the
highest one flowing)."""

from __future__ import annotations

import re
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.support import (
    HubServer,
    create_meeting,
    inbound_stats,
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


def outbound(page: Page) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = page.evaluate(OUTBOUND_JS)
    return result


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


def test_chromium_publishes_three_layers_and_a_viewer_decodes_the_highest(
    browser: Browser, hub_server: str
) -> None:
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
        # The viewer decodes the highest layer flowing: 1280 wide.
        deadline = time.monotonic() + 20
        while True:
            camera = inbound_stats(viewer).get(a, {}).get("camera", {})
            if camera.get("frameWidth") == 1280 and camera.get("framesDecoded", 0) > 0:
                break
            assert time.monotonic() < deadline, f"viewer decodes {camera}"
            viewer.wait_for_timeout(500)
        print(
            f"\nfirst frames at the viewer {first_frames_s:.1f} s after joining; layers sent "
            + ", ".join(
                f"{rid} {after[rid]['width']}x{after[rid]['height']} "
                f"{after[rid]['fps']} fps {kbps[rid]} kbit/s ({after[rid]['limit']})"
                for rid in "qhf"
            )
            + f"; hub {layer_metrics(hub_server)}"
        )
        assert errors == []
    finally:
        publisher.context.close()
        viewer.context.close()
