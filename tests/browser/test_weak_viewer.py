"""A viewer on a slow link (issue 13): "A viewer throttled to 300 kbit/s decodes the low layer
within 2 s while the other viewers keep their high layer and the publisher's top-layer
bitrate does not drop; keyframe requests reaching the publisher stay <= 1 per second."

Real components throughout: `hub serve` with simulcast on, listening on the host end of a
veth pair; a Chromium publisher sending its 1280x720 camera in three layers and viewer A, on
the host; viewer B, a Chromium inside a network namespace whose download tc limits at will
(tests/support/netns.py). Both viewers pin the publisher, so both start on the 1280-wide
layer. Every assertion is on what the pages' getStats say (decoded widths and frames, the
publisher's bytes sent and the keyframe requests that reached it); the hub's own counters, its
CPU and tc's are only reported, to explain a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from tests.browser.support import (
    CAMERA_SETTINGS_JS,
    HD_CAMERA_JS,
    HubServer,
    create_meeting,
    decoded_width,
    inbound_stats,
    launch_chromium,
    new_context,
    open_meeting_page,
    outbound,
    self_id,
    wait_for_layers,
    watch_errors,
)
from tests.support.netns import NetNamespace

THROTTLE_KBIT = 300
LOW, MIDDLE, TOP = 320, 640, 1280  # the widths of the publisher's q, h and f
SWITCH_LIMIT_S = 2.0  # issue 13: the throttled viewer decodes the low layer within this
BASELINE_S = 3.0  # the publisher's bitrate and keyframe requests measured before the throttle
THROTTLED_S = 7.0  # ... and for this long after it
RECOVERY_S = 8.0  # B's climb back to 1280 wide is watched for at most this long
SAMPLE_EVERY_S = 0.25
# Chromium sends its first REMB about 5 s after a stream's first packets (libwebrtc's
# AimdRateControl takes 5 s of throughput before its estimate counts, unless it meets
# overuse first): B's link is throttled only once B has an estimate of its own.
ESTIMATE_WARMUP_S = 9.0
# The fake camera's encoder on two shared cores varies its bitrate by itself (docs/simulcast.md:
# f at 235-695 kbit/s from one 3 s sample to another under load): "does not drop" allows that
# noise, while a publisher told to send what B's link takes would lose f altogether.
TOP_BITRATE_KEPT = 0.6
KEYFRAME_REQUESTS_PER_S = 1.0


@dataclass
class Sample:
    at: float  # time.monotonic()
    sent: dict[str, dict[str, Any]]  # the publisher's outbound-rtp by RID
    a: dict[str, Any]  # A's inbound-rtp of the publisher's camera
    b: dict[str, Any]  # B's
    legs: dict[str, int]  # the hub's video legs by what they forward (/metrics)


@dataclass
class Timeline:
    samples: list[Sample] = field(default_factory=list)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.at <= end]


@dataclass(frozen=True)
class Meeting:
    publisher: Page
    a: Page
    b: Page
    pid: str  # the publisher's participant id
    hub: str  # the hub's base URL

    def sample(self) -> Sample:
        return Sample(
            time.monotonic(),
            outbound(self.publisher),
            inbound_stats(self.a).get(self.pid, {}).get("camera", {}),
            inbound_stats(self.b).get(self.pid, {}).get("camera", {}),
            video_legs(self.hub),
        )


def video_legs(base_url: str) -> dict[str, int]:
    """hub_sfu_video_legs by its label: a RID, waiting, hidden, paused... (non-zero only)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'^hub_sfu_video_legs\{layer="([^"]+)"\} ([0-9.e+]+)$', text, re.M)
    return {label: int(float(value)) for label, value in found if float(value)}


def watch(
    timeline: Timeline,
    meeting: Meeting,
    seconds: float,
    until: Callable[[Sample], bool] = lambda sample: False,
) -> None:
    """Sample every SAMPLE_EVERY_S for `seconds`, or until a sample meets `until`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        timeline.samples.append(meeting.sample())
        if until(timeline.samples[-1]):
            return
        meeting.publisher.wait_for_timeout(SAMPLE_EVERY_S * 1000)


def first_decoded_at(samples: list[Sample], viewer: str, widths: set[int]) -> float | None:
    """When the viewer ('a' or 'b') first showed new frames of one of `widths`: a sample at
    that width whose framesDecoded grew since the one before."""
    for before, after in itertools.pairwise(samples):
        stats, previous = getattr(after, viewer), getattr(before, viewer)
        grew = stats.get("framesDecoded", 0) > previous.get("framesDecoded", 0)
        if stats.get("frameWidth") in widths and grew:
            return after.at
    return None


def kbit_per_s(samples: list[Sample], rid: str) -> float:
    """What the publisher sent on `rid`: payload bytes less retransmissions (Chromium's
    padding is partly RTX copies of old packets, partly counted as payload: mostly on q)."""
    first, last = samples[0].sent.get(rid, {}), samples[-1].sent.get(rid, {})
    sent = last.get("bytes", 0) - first.get("bytes", 0)
    sent -= last.get("retransmitted", 0) - first.get("retransmitted", 0)
    return float(sent) * 8 / (samples[-1].at - samples[0].at) / 1000


def keyframe_requests(sample: Sample) -> int:
    return sum(int(encoding.get("keyframeRequests", 0)) for encoding in sample.sent.values())


def frames_per_s(samples: list[Sample], viewer: str) -> float:
    first, last = getattr(samples[0], viewer), getattr(samples[-1], viewer)
    frames = last.get("framesDecoded", 0) - first.get("framesDecoded", 0)
    return float(frames) / (samples[-1].at - samples[0].at)


def share_decoded(samples: list[Sample], viewer: str) -> float:
    """The viewer's decoded frames over the frames the publisher encoded on f meanwhile
    (the encoder's own pace varies with the machine's load; this does not)."""
    first, last = samples[0], samples[-1]
    encoded = int(last.sent["f"]["frames"]) - int(first.sent["f"]["frames"])
    return frames_per_s(samples, viewer) * (last.at - first.at) / max(1, encoded)


def width_changes(samples: list[Sample], viewer: str, since: float) -> str:
    """'t width' at each change of the decoded width, and where decoding stalled."""
    marks: list[str] = []
    width, frames = None, None
    for sample in samples:
        stats = getattr(sample, viewer)
        now_width, now_frames = stats.get("frameWidth", 0), stats.get("framesDecoded", 0)
        stalled = frames is not None and now_frames == frames
        if now_width != width or (stalled and not marks[-1].endswith("stalled")):
            marks.append(f"{sample.at - since:+.2f}s {now_width}" + (" stalled" if stalled else ""))
        elif not stalled and marks and marks[-1].endswith("stalled"):
            marks.append(f"{sample.at - since:+.2f}s {now_width} decoding")
        width, frames = now_width, now_frames
    return ", ".join(marks)


def legs_changes(samples: list[Sample], since: float) -> str:
    """'t {label: count}' at each change of the hub's video legs."""
    marks, last = [], None
    for sample in samples:
        if sample.legs != last:
            marks.append(f"{sample.at - since:+.2f}s {sample.legs}")
            last = sample.legs
    return ", ".join(marks)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc, like the namespaces)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def join_viewer(browser: Browser, base_url: str, meeting_id: str, name: str) -> Page:
    """A viewer with microphone and camera off (it only watches: less for two cores to do,
    and the publisher's is the only video in the meeting), joined."""
    page = open_meeting_page(browser, base_url, meeting_id, name, join=False)
    for toggle in ("#start-muted", "#start-camera-off"):
        page.click(toggle)
        expect(page.locator(toggle)).to_have_attribute("aria-pressed", "true")
    page.click("#join-button")
    page.wait_for_function("() => window.visioDebug.state() === 'connected'", timeout=20_000)
    return page


def pin(page: Page, pid: str) -> None:
    """Show `pid`'s camera large (the tile's pin button), as a person would."""
    page.click(f'li.tile[data-participant="{pid}"][data-source="camera"] .tile-pin')
    expect(page.locator("#grid")).to_have_attribute("data-layout", "focus")


@pytest.fixture
def weak_link_hub(netns: NetNamespace, tmp_path: Path) -> Iterator[HubServer]:
    """The hub with simulcast on, listening on the host end of the veth pair and offering
    only that address as its ICE candidate: the host's browsers reach it locally, B through
    the veth and so through the throttle. /metrics answers that address too."""
    (tmp_path / "hub").mkdir()
    hub = HubServer(
        tmp_path / "hub",
        host=netns.host_address,
        env={
            "HUB_SFU__SIMULCAST": "true",
            "HUB_METRICS__ALLOW_FROM": json.dumps([f"{netns.host_address}/32"]),
        },
    ).start()
    try:
        yield hub
    finally:
        hub.stop()


def test_a_throttled_viewer_gets_the_low_layer_and_nobody_else_suffers(
    playwright: Playwright, netns: NetNamespace, weak_link_hub: HubServer, tmp_path: Path
) -> None:
    hub = weak_link_hub
    started = time.monotonic()
    host = weak = None
    pages: list[Page] = []
    try:
        # Own browsers: the fake camera is one per process (see test_simulcast_e2e.py).
        host = launch_chromium(playwright, secure_origin=hub.base_url)
        weak = launch_chromium(
            playwright, executable=netns.chromium_wrapper(tmp_path), secure_origin=hub.base_url
        )
        owner = new_context(host, hub.base_url)
        meeting_id = create_meeting(owner.new_page(), "Lien faible")
        owner.close()
        publisher = open_meeting_page(
            host, hub.base_url, meeting_id, "P", init_scripts=(HD_CAMERA_JS,), timeout=20_000
        )
        pages.append(publisher)
        settings = publisher.evaluate(CAMERA_SETTINGS_JS)
        assert settings and (settings["width"], settings["height"]) == (1280, 720), settings
        a = join_viewer(host, hub.base_url, meeting_id, "A")
        pages.append(a)
        b = join_viewer(weak, hub.base_url, meeting_id, "B")
        b_joined = time.monotonic()
        pages.append(b)
        errors = watch_errors(publisher) + watch_errors(a) + watch_errors(b)
        pid = self_id(publisher)
        for viewer in (a, b):
            pin(viewer, pid)
        wait_for_layers(hub.base_url, publisher)
        for viewer in (a, b):
            decoded_width(viewer, pid, TOP, timeout=20)

        meeting = Meeting(publisher, a, b, pid, hub.base_url)
        warmup = b_joined + ESTIMATE_WARMUP_S - BASELINE_S - time.monotonic()
        b.wait_for_timeout(max(0.0, warmup) * 1000)
        timeline = Timeline()
        hub_cpu = [cpu_seconds(hub.process.pid)]
        watch(timeline, meeting, BASELINE_S)
        hub_before = hub.metrics()
        hub_cpu.append(cpu_seconds(hub.process.pid))
        netns.throttle(THROTTLE_KBIT)
        throttled_at, throttled_wall = time.monotonic(), time.time()
        watch(timeline, meeting, THROTTLED_S)
        shaping = netns.shaping()
        hub_during = hub.metrics()
        hub_cpu.append(cpu_seconds(hub.process.pid))
        netns.unthrottle()
        freed_at = time.monotonic()
        frames = timeline.samples[-1].b.get("framesDecoded", 0)
        watch(
            timeline, meeting, RECOVERY_S,
            until=lambda s: s.b.get("frameWidth") == TOP and s.b.get("framesDecoded", 0) > frames,
        )  # fmt: skip

        before = timeline.between(0, throttled_at)
        during = timeline.between(throttled_at, freed_at)
        after = timeline.between(freed_at, float("inf"))
        low_at = first_decoded_at(during, "b", {LOW})
        low_s = None if low_at is None else low_at - throttled_at
        a_widths = {s.a.get("frameWidth") for s in before + during}
        top_before, top_during = kbit_per_s(before, "f"), kbit_per_s(during, "f")
        keyframes = keyframe_requests(during[-1]) - keyframe_requests(during[0])
        keyframes_per_s = keyframes / (during[-1].at - during[0].at)
        keyframes_before = keyframe_requests(before[-1]) - keyframe_requests(before[0])
        up_at = {
            f"{MIDDLE} wide or more": first_decoded_at(after, "b", {MIDDLE, TOP}),
            f"{TOP} wide": first_decoded_at(after, "b", {TOP}),
        }
        b_sent = {
            what: during[-1].b.get(what, 0) - during[0].b.get(what, 0)
            for what in ("pliCount", "nackCount")
        }
        hub_counts = {
            what: hub_during.get(f"hub_sfu_{what}_total", 0)
            - hub_before.get(f"hub_sfu_{what}_total", 0)
            for what in ("keyframe_requests", "nacks_answered")
        }
        b_received = (during[-1].b["bytesReceived"] - during[0].b["bytesReceived"]) * 8 / 1000
        report = "\n".join([
            f"publisher {pid}, A {self_id(a)}, B {self_id(b)} (hub log {hub.log_path}); "
            f"throttled {throttled_at - started:.1f} s after the test started",
            f"throttled to {THROTTLE_KBIT} kbit/s at epoch {throttled_wall:.3f} for "
            f"{THROTTLED_S:.0f} s; B received {b_received / (during[-1].at - during[0].at):.0f} "
            f"kbit/s of the publisher's video meanwhile; tc: {' '.join(shaping.split())}",
            "B's decoded width (s from the throttle): "
            + width_changes(timeline.samples, "b", throttled_at),
            "A's: " + width_changes(timeline.samples, "a", throttled_at),
            "the hub's video legs: " + legs_changes(timeline.samples, throttled_at),
            f"B on {LOW} wide: "
            + ("never" if low_s is None else f"{low_s:.2f} s")
            + " after the throttle; its first new frames once free again: "
            + ", ".join(
                f"{what} " + ("never" if t is None else f"{t - freed_at:.2f} s")
                for what, t in up_at.items()
            )
            + f" later (watched {RECOVERY_S:.0f} s)",
            f"A's widths {sorted(w for w in a_widths if w is not None)}; decoded frames per "
            f"second (share of f's frames) before -> during: A {frames_per_s(before, 'a'):.1f} "
            f"({share_decoded(before, 'a'):.0%}) -> {frames_per_s(during, 'a'):.1f} "
            f"({share_decoded(during, 'a'):.0%}), B {frames_per_s(before, 'b'):.1f} "
            f"({share_decoded(before, 'b'):.0%}) -> {frames_per_s(during, 'b'):.1f} "
            f"({share_decoded(during, 'b'):.0%})",
            "publisher kbit/s (payload less retransmissions; q's still holds Chromium's "
            "padding) before -> during: "
            + ", ".join(
                f"{rid} {kbit_per_s(before, rid):.0f} -> {kbit_per_s(during, rid):.0f}"
                for rid in "qhf"
            )
            + "; encoder targets "
            + ", ".join(
                f"{rid} {during[-1].sent.get(rid, {}).get('target', 0) / 1000:.0f}" for rid in "qhf"
            )
            + f" kbit/s; f limited by {during[-1].sent.get('f', {}).get('limit')}",
            f"keyframe requests at the publisher: {keyframes_before} in the "
            f"{before[-1].at - before[0].at:.1f} s before, {keyframes} in the "
            f"{during[-1].at - during[0].at:.1f} s throttled ({keyframes_per_s:.2f}/s); "
            f"meanwhile B sent {b_sent['pliCount']} PLIs and {b_sent['nackCount']} NACKs, the "
            f"hub counts {hub_counts['keyframe_requests']:.0f} keyframe requests sent to "
            f"publishers and {hub_counts['nacks_answered']:.0f} NACKs answered",
            f"the hub's CPU: {(hub_cpu[1] - hub_cpu[0]) / (before[-1].at - before[0].at):.0%} "
            f"before, {(hub_cpu[2] - hub_cpu[1]) / (during[-1].at - during[0].at):.0%} during "
            f"(of one core; load average {os.getloadavg()[0]:.1f})",
        ])  # fmt: skip
        print("\n" + report)
        failures = []
        if {s.b.get("frameWidth") for s in before} != {TOP}:
            failures.append(f"(setup) B left {TOP} wide before its link was throttled")
        if low_s is None or low_s > SWITCH_LIMIT_S:
            failures.append(
                f"(a) B did not decode {LOW} wide within {SWITCH_LIMIT_S} s of the throttle "
                + ("(never did)" if low_s is None else f"(took {low_s:.2f} s)")
            )
        if a_widths != {TOP}:
            failures.append(f"(b) A did not keep {TOP} wide: {a_widths}")
        # A's share of f's frames is reported, not asserted: on two loaded cores the host's
        # Chromium alone stalls for 2-3 s now and then, throttle or not (seen in the baseline).
        if top_during < TOP_BITRATE_KEPT * top_before:
            failures.append(
                f"(c) the publisher's f fell from {top_before:.0f} to {top_during:.0f} kbit/s"
            )
        if keyframes_per_s > KEYFRAME_REQUESTS_PER_S:
            failures.append(f"(d) {keyframes_per_s:.2f} keyframe requests/s reached the publisher")
        assert not failures, "\n".join(failures) + "\n" + report
        assert errors == []
    finally:
        for page in pages:
            page.context.close()
        for browser in (host, weak):
            if browser is not None:
                browser.close()
