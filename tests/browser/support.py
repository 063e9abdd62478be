"""Reusable pieces for browser tests: the real hub as a subprocess, Chromium pages that join a
meeting, a scripted stand-in for the hub's WebSocket, axe-core, and in-page media statistics."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Playwright, WebSocketRoute

from hub.i18n import translate
from tests.conftest import REPO
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.hub_server import HubServer as HubServer

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WS_PATTERN = "**/api/v1/meetings/*/ws"


def new_context(
    browser: Browser,
    base_url: str,
    *,
    lang: str = "fr",
    init_scripts: tuple[str, ...] = (),
    **options: Any,
) -> BrowserContext:
    """A fresh profile (own cookies, so its own guest identity) with camera and microphone;
    `init_scripts` run in every page of it before the page's own scripts."""
    options.setdefault("viewport", {"width": 1280, "height": 800})
    context = browser.new_context(
        base_url=base_url,
        locale="fr-FR" if lang == "fr" else "en-GB",
        extra_http_headers={"Accept-Language": lang},
        **options,
    )
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    for script in init_scripts:
        context.add_init_script(script)
    return context


def fr(key: str, **values: Any) -> str:
    """The page's French text for `key`, with its {placeholders} filled as the page's t()
    fills them."""
    text = translate("fr", key)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def watch_errors(page: Page) -> list[str]:
    """Uncaught exceptions in the page, for tests to assert there were none."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def create_meeting(page: Page, title: str = "Réunion de test", access_level: str = "public") -> str:
    """Create a meeting through the home page's form, as a person would; returns its id."""
    page.goto("/")
    page.fill("#title", title)
    page.check(f"#access-{access_level}")
    page.click("form[action='/meetings'] button[type=submit]")
    page.wait_for_url("**/m/*")
    return page.url.rsplit("/m/", 1)[1].split("?")[0]


def open_meeting_page(
    browser: Browser,
    base_url: str,
    meeting_id: str,
    name: str,
    *,
    join: bool = True,
    lang: str = "fr",
    timeout: float = 15_000,
    context_options: dict[str, Any] | None = None,
    init_scripts: tuple[str, ...] = (),
) -> Page:
    """A new profile that opens the meeting, types `name` and (if `join`) clicks Join and
    waits until the page leaves the pre-join state. Close it with `page.context.close()`."""
    context = new_context(
        browser, base_url, lang=lang, init_scripts=init_scripts, **(context_options or {})
    )
    page = context.new_page()
    page.goto(f"/m/{meeting_id}")
    page.fill("#name", name)
    if join:
        page.click("#join-button")
        page.wait_for_function(
            "() => !['idle', 'connecting'].includes(window.visioDebug.state())", timeout=timeout
        )
    return page


# In-page: per remote participant and source, what the subscribe connection decoded so far.
# Mapped through the transceivers' mids and the last subscribe_offer's streams, as the page does.
INBOUND_STATS_JS = """
async () => {
  const debug = window.visioDebug;
  const pc = debug && debug.subscribePc();
  if (!pc) return {};
  const streams = new Map(debug.streams().map((s) => [s.mid, s]));
  const result = {};
  for (const transceiver of pc.getTransceivers()) {
    const info = streams.get(transceiver.mid);
    if (!info) continue;
    const stats = await transceiver.receiver.getStats();
    for (const s of stats.values()) {
      if (s.type !== "inbound-rtp") continue;
      result[info.participant_id] ??= {};
      result[info.participant_id][info.source] = {
        kind: s.kind,
        packetsReceived: s.packetsReceived ?? 0,
        framesDecoded: s.framesDecoded ?? 0,
        frameWidth: s.frameWidth ?? 0,
        totalSamplesReceived: s.totalSamplesReceived ?? 0,
        concealedSamples: s.concealedSamples ?? 0,
        audioLevel: s.audioLevel ?? 0,
        bytesReceived: s.bytesReceived ?? 0,
        packetsLost: s.packetsLost ?? 0,
        pliCount: s.pliCount ?? 0,
        nackCount: s.nackCount ?? 0,
        freezeCount: s.freezeCount ?? 0,
      };
    }
  }
  return result;
}
"""


def inbound_stats(page: Page) -> dict[str, dict[str, dict[str, Any]]]:
    """{participant_id: {source: {framesDecoded, totalSamplesReceived, ...}}} for one page."""
    result: dict[str, dict[str, dict[str, Any]]] = page.evaluate(INBOUND_STATS_JS)
    return result


def audio_from(page: Page, pid: str) -> tuple[int, int, int]:
    """(packetsReceived, totalSamplesReceived, concealedSamples) of `pid`'s microphone."""
    microphone = inbound_stats(page).get(pid, {}).get("microphone", {})
    return (
        microphone.get("packetsReceived", 0),
        microphone.get("totalSamplesReceived", 0),
        microphone.get("concealedSamples", 0),
    )


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's violations of these impacts, one readable line each (id, impact, targets).
    The page's context needs `bypass_csp=True`: the script is injected inline."""
    if not AXE.exists():
        raise FileNotFoundError(f"{AXE} is missing: run `npm ci` at the top of the repo")
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in impacts:
            continue
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"]][:5]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} -> {targets}")
    return lines


class FakeHub:
    """A scripted stand-in for the hub's WebSocket (Playwright routes the page's socket to it),
    to test the page's side of the protocol before, and apart from, the real SFU.

    It answers `join` with a `welcome` listing the joiner and `others`; everything the page
    sent is in `received`. `refuse=True` closes every socket at once, like a refused upgrade.
    """

    def __init__(
        self,
        others: list[dict[str, Any]] | None = None,
        refuse: bool = False,
        refusal: dict[str, Any] | None = None,
    ) -> None:
        self.others = others or []
        self.refuse = refuse
        self.refusal = refusal  # an `error` sent before closing, when refusing
        self.received: list[dict[str, Any]] = []
        self.sockets: list[WebSocketRoute] = []
        self.joins = 0

    def install(self, page: Page) -> FakeHub:
        page.route_web_socket(WS_PATTERN, self.accept)
        return self

    def accept(self, ws: WebSocketRoute) -> None:
        if self.refuse:
            if self.refusal:
                ws.send(json.dumps(self.refusal))
            ws.close(code=1011, reason="refused")
            return
        self.sockets.append(ws)
        ws.on_message(lambda message: self.on_message(ws, message))

    def on_message(self, ws: WebSocketRoute, message: str | bytes) -> None:
        data = json.loads(message)
        self.received.append(data)
        if data["type"] == "join":
            self.joins += 1
            me = {
                "id": f"self-{self.joins}", "name": data["name"], "audio": data["audio"],
                "video": data["video"], "screen": False, "hand": False, "is_self": True,
            }  # fmt: skip
            ws.send(json.dumps({
                "type": "welcome", "participant_id": me["id"], "meeting_id": "x",
                "title": "x", "participants": [me, *self.others], "ice_servers": [],
            }))  # fmt: skip
        elif data["type"] == "ping":
            ws.send(json.dumps({"type": "pong"}))

    def send(self, message: dict[str, Any]) -> None:
        for ws in self.sockets:
            ws.send(json.dumps(message))

    def drop(self) -> None:
        """Close every socket from the hub's side, as a network drop or a restart would."""
        sockets, self.sockets = self.sockets, []
        for ws in sockets:
            ws.close(code=1001, reason="going away")

    def sent(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.received if message["type"] == kind]


class LobbyFakeHub(FakeHub):
    """FakeHub that also speaks the lobby and moderation part of the protocol.

    `waiting=True` answers `join` with `waiting`; then `admit()` sends `admitted` and the
    welcome, `deny(reason)` sends `denied` and closes with 4003. `role` and `locked` go into the
    welcome (and the joiner's own entry). `rate_limit=N` answers every join with `error`
    `rate_limited` (`retry_after` N) and closes the socket. `opened_at` has the time of every
    socket the page opened, refused or not.
    """

    def __init__(
        self,
        others: list[dict[str, Any]] | None = None,
        *,
        waiting: bool = False,
        role: str = "participant",
        locked: bool = False,
        rate_limit: int | None = None,
    ) -> None:
        super().__init__(others=others)
        self.waiting = waiting
        self.role = role
        self.locked = locked
        self.rate_limit = rate_limit
        self.opened_at: list[float] = []
        self.joiner: dict[str, Any] = {}

    def accept(self, ws: WebSocketRoute) -> None:
        self.opened_at.append(time.monotonic())
        super().accept(ws)

    def on_message(self, ws: WebSocketRoute, message: str | bytes) -> None:
        data = json.loads(message)
        if data["type"] != "join":
            super().on_message(ws, message)
            return
        self.received.append(data)
        self.joins += 1
        self.joiner = data
        if self.rate_limit:
            ws.send(json.dumps({
                "type": "error", "code": "rate_limited", "request": "join",
                "message": "Trop de tentatives (join) ; réessayez dans 2 s",
                "retry_after": self.rate_limit,
            }))  # fmt: skip
            self.sockets.remove(ws)
            ws.close(code=1008, reason="rate limited")
        elif self.waiting:
            ws.send(json.dumps({"type": "waiting"}))
        else:
            self.send_welcome(ws)

    def send_welcome(self, ws: WebSocketRoute) -> None:
        data = self.joiner
        me = {
            "id": f"self-{self.joins}", "name": data["name"], "audio": data["audio"],
            "video": data["video"], "screen": False, "hand": False, "role": self.role,
            "is_self": True,
        }  # fmt: skip
        ws.send(json.dumps({
            "type": "welcome", "participant_id": me["id"], "meeting_id": "x", "title": "x",
            "participants": [me, *self.others], "ice_servers": [], "role": self.role,
            "locked": self.locked,
        }))  # fmt: skip

    def admit(self) -> None:
        """A moderator lets the waiting page in."""
        self.waiting = False
        ws = self.sockets[-1]
        ws.send(json.dumps({"type": "admitted"}))
        self.send_welcome(ws)

    def deny(
        self, reason: str = "denied", *, announce: bool = True, message: str | None = None
    ) -> None:
        """A moderator refuses (or removes) the page: `denied` (unless not `announce`, with
        the moderator's `message` if given), then the socket closes with 4003."""
        ws = self.sockets.pop()
        if announce:
            denied = {"type": "denied", "reason": reason}
            if message is not None:
                denied["message"] = message
            ws.send(json.dumps(denied))
        ws.close(code=4003, reason=reason)


def wait_until(condition: Callable[[], bool], page: Page, timeout: float = 10) -> None:
    """Poll a Python-side condition while letting Playwright deliver events (sync API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("condition not met in time")


# --- end-to-end tests against the real SFU --------------------------------------------------

# Test-only, injected before the page's scripts: a small camera (320×240 at 15 fps) so that
# several pages fit on two cores, and the page's own clock at the Join click and at `welcome`.
E2E_PAGE_JS = """
(() => {
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const getUserMedia = media.getUserMedia.bind(media);
    media.getUserMedia = (constraints) => {
      if (constraints && constraints.video) {
        const video = typeof constraints.video === "object" ? constraints.video : {};
        constraints = {...constraints, video: {...video, width: {ideal: 320},
                       height: {ideal: 240}, frameRate: {ideal: 15, max: 15}}};
      }
      return getUserMedia(constraints);
    };
  }
  window.__e2e = {clickAt: null, welcomeAt: null, ice: []};
  const NativePeerConnection = window.RTCPeerConnection;
  let connections = 0;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      const number = ++connections;
      this.addEventListener("iceconnectionstatechange", () => {
        window.__e2e.ice.push([Math.round(performance.now()), number, this.iceConnectionState]);
      });
    }
  };
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#join-button")) {
      window.__e2e.clickAt = performance.now();
    }
  }, true);
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try {
          if (JSON.parse(event.data).type === "welcome") window.__e2e.welcomeAt = performance.now();
        } catch {}
      });
    }
  };
})();
"""

# In-page: poll getStats until each of `ids` has a decoded camera frame; the page's own clock.
FIRST_FRAMES_JS = f"""
async ({{ids, timeoutMs}}) => {{
  const inbound = {INBOUND_STATS_JS.strip()};
  const first = {{}};
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {{
    const stats = await inbound();
    const now = performance.now();
    for (const id of ids) {{
      const camera = (stats[id] || {{}}).camera;
      if (!(id in first) && camera && camera.framesDecoded > 0) first[id] = now;
    }}
    if (ids.every((id) => id in first)) break;
    await new Promise((done) => setTimeout(done, 20));
  }}
  return {{first, clickAt: window.__e2e.clickAt, welcomeAt: window.__e2e.welcomeAt}};
}}
"""

VIDEO_SOURCES = ("camera", "screen")


# In-page: does the tile of (participant, source) show a live track and paint new frames?
TILE_PLAYING_JS = """
async ({id, source}) => {
  const selector = `#grid li[data-participant="${id}"][data-source="${source}"] video`;
  const video = document.querySelector(selector);
  if (!video || !video.srcObject) return "no video element with a stream";
  const track = video.srcObject.getVideoTracks()[0];
  if (!track || track.readyState !== "live") return "the tile shows an ended track";
  const painted = await new Promise((done) => {
    let frames = 0;
    const timer = setTimeout(() => done(frames), 3000);
    const step = () => {
      frames += 1;
      if (frames >= 3) { clearTimeout(timer); done(frames); }
      else video.requestVideoFrameCallback(step);
    };
    video.requestVideoFrameCallback(step);
  });
  return painted >= 3 ? "playing" : `${painted} frames painted in 3 s`;
}
"""


def tile_playing(page: Page, pid: str, source: str = "camera") -> str:
    """ "playing" when the tile's <video> shows a live track that paints frames, else why not."""
    return str(page.evaluate(TILE_PLAYING_JS, {"id": pid, "source": source}))


def self_id(page: Page) -> str:
    """The participant id the hub gave this page (from its welcome)."""
    participants = page.evaluate("() => window.visioDebug.participants()")
    return str(next(p["id"] for p in participants if p["isSelf"]))


def decoded_count(stats: dict[str, dict[str, dict[str, Any]]], pid: str, source: str) -> int:
    """Frames decoded (video) or audio samples received (audio) from one remote stream."""
    entry = stats.get(pid, {}).get(source, {})
    key = "framesDecoded" if source in VIDEO_SOURCES else "totalSamplesReceived"
    return int(entry.get(key, 0))


def wait_for_flow(
    expectations: list[tuple[Page, str, str]], timeout: float = 15, interval: float = 0.3
) -> dict[Page, dict[str, dict[str, dict[str, Any]]]]:
    """Wait until, on each page, the stream (participant id, source) is being decoded now:
    its count is above zero and grew between two consecutive polls. A fresh connection restarts
    the counters, so only consecutive polls are compared. Returns the last statistics."""
    pages = list(dict.fromkeys(page for page, _, _ in expectations))
    previous: dict[tuple[int, str, str], int] = {}
    pending = set(range(len(expectations)))
    stats: dict[Page, dict[str, dict[str, dict[str, Any]]]] = {}
    deadline = time.monotonic() + timeout
    while True:
        stats = {page: inbound_stats(page) for page in pages}
        for index in list(pending):
            page, pid, source = expectations[index]
            count = decoded_count(stats[page], pid, source)
            before = previous.get((index, pid, source), 0)
            if before > 0 and count > before:
                pending.discard(index)
            previous[(index, pid, source)] = count
        if not pending:
            return stats
        if time.monotonic() > deadline:
            missing = []
            for index in sorted(pending):
                page, pid, source = expectations[index]
                state = page.evaluate("() => window.visioDebug.state()")
                missing.append(
                    f"page {page_name(page)} ({state}) <- {pid}/{source}: "
                    f"{stats[page].get(pid, {}).get(source)}"
                )
            details = "\n".join(f"{page_name(page)}: {describe_page(page)}" for page in pages)
            raise AssertionError(
                "media not flowing in time:\n" + "\n".join(missing) + "\n" + details
            )
        pages[0].wait_for_timeout(interval * 1000)


# In-page, for failure messages: the connections, what they carry and what plays it.
DESCRIBE_PAGE_JS = """
() => {
  const debug = window.visioDebug;
  const describe = (pc) => pc && {
    connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState,
    transceivers: pc.getTransceivers().map((t) => [t.mid, t.currentDirection,
      t.receiver.track.id.slice(0, 8), t.receiver.track.readyState, t.receiver.track.muted]),
  };
  const sinks = [...document.querySelectorAll("#audio-sinks audio, #grid video")].map((m) => [
    m.tagName, m.srcObject ? m.srcObject.getTracks().map((t) => t.id.slice(0, 8)).join() : null,
    m.paused, m.readyState]);
  return JSON.stringify({state: debug.state(), streams: debug.streams(),
    publish: describe(debug.publishPc()), subscribe: describe(debug.subscribePc()), sinks,
    ice: window.__e2e ? window.__e2e.ice : null});
}
"""


def describe_page(page: Page) -> str:
    try:
        return str(page.evaluate(DESCRIBE_PAGE_JS))
    except Exception as exc:  # a closed page must not hide the real failure
        return f"(cannot describe: {exc})"


def page_name(page: Page) -> str:
    """The display name typed on the pre-join screen, to make failures readable."""
    try:
        return str(page.input_value("#name", timeout=500))
    except Exception:  # a closed page or a failure message must not hide the real failure
        return "?"


def launch_chromium(
    playwright: Playwright, *, executable: Path = CHROMIUM, secure_origin: str | None = None
) -> Browser:
    """Another Chromium like the package's one; `secure_origin` lets a non-loopback http://
    origin use the camera (getUserMedia needs a secure context)."""
    args = list(CHROMIUM_ARGS)
    if secure_origin:
        args.append(f"--unsafely-treat-insecure-origin-as-secure={secure_origin}")
    return playwright.chromium.launch(executable_path=str(executable), args=args, headless=True)


# --- simulcast (docs/simulcast.md) ----------------------------------------------------------

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
        bytes: s.bytesSent, retransmitted: s.retransmittedBytesSent ?? 0,
        frames: s.framesEncoded ?? 0, fps: s.framesPerSecond ?? 0,
        target: s.targetBitrate ?? 0,
        limit: s.qualityLimitationReason,
        keyframeRequests: (s.pliCount ?? 0) + (s.firCount ?? 0)};
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
    """The publisher's video encodings by RID (getStats outbound-rtp): size, payload bytes
    sent (of which retransmitted: Chromium pads with retransmissions too), frames, fps, the
    encoder's target bitrate, what limits its quality, and the keyframe requests (PLI + FIR)
    that reached it."""
    result: dict[str, dict[str, Any]] = page.evaluate(OUTBOUND_JS)
    return result


def decoded_width(
    page: Page, pid: str, width: int, *, timeout: float, since: float | None = None
) -> float:
    """Seconds (from `since`, default now) until the page has decoded a frame of `pid`'s
    camera `width` pixels wide; then it must go on decoding at that width."""
    started = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    seen: tuple[float, int] | None = None
    while True:
        camera = inbound_stats(page).get(pid, {}).get("camera", {})
        if camera.get("frameWidth") == width:
            if seen is None:
                seen = (time.monotonic() - started, camera.get("framesDecoded", 0))
            elif camera.get("framesDecoded", 0) > seen[1]:
                return seen[0]
        else:
            seen = None
        assert time.monotonic() < deadline, f"not {width} wide after {timeout} s: {camera}"
        page.wait_for_timeout(100)


def wait_for_layers(base_url: str, publisher: Page, rids: str = "qhf") -> None:
    """Until the hub receives each of the publisher's layers (bound, packets coming)."""
    deadline = time.monotonic() + 25
    while True:
        layers = layer_metrics(base_url)
        if all(layers.get(rid, (0, 0))[0] >= 1 and layers[rid][1] > 50 for rid in rids):
            return
        assert time.monotonic() < deadline, (
            f"layers at the hub {layers}, sent {outbound(publisher)}"
        )
        publisher.wait_for_timeout(500)
