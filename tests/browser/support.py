"""Reusable pieces for browser tests: the real hub as a subprocess, Chromium pages that join a
meeting, a scripted stand-in for the hub's WebSocket, axe-core, and in-page media statistics."""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute

from tests.conftest import REPO
from tests.support.processes import free_port, start, stop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WS_PATTERN = "**/api/v1/meetings/*/ws"


@dataclass
class HubServer:
    """The real hub (`python -m hub serve --dev`) in its own folder, on a free loopback port.

    Started by `start()`, stopped by pid with SIGTERM by `stop()`; `restart()` keeps the port
    and data, so a test can take the hub away under connected pages and bring it back.
    """

    workdir: Path
    port: int = field(default_factory=free_port)
    process: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "hub.log"

    def start(self, timeout: float = 30) -> HubServer:
        env = {**os.environ, "HUB_SERVER__PUBLIC_URL": self.base_url}
        self.process = start(
            [sys.executable, "-m", "hub", "serve", "--dev", "--port", str(self.port)],
            log_path=self.log_path,
            cwd=self.workdir,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        stop(self.process)
        raise TimeoutError(f"the hub was not ready within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def new_context(
    browser: Browser, base_url: str, *, lang: str = "fr", **options: Any
) -> BrowserContext:
    """A fresh profile (own cookies, so its own guest identity) with camera and microphone."""
    context = browser.new_context(
        base_url=base_url,
        locale="fr-FR" if lang == "fr" else "en-GB",
        extra_http_headers={"Accept-Language": lang},
        viewport={"width": 1280, "height": 800},
        **options,
    )
    context.grant_permissions(["camera", "microphone"], origin=base_url)
    return context


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
) -> Page:
    """A new profile that opens the meeting, types `name` and (if `join`) clicks Join and
    waits until the page leaves the pre-join state. Close it with `page.context.close()`."""
    context = new_context(browser, base_url, lang=lang, **(context_options or {}))
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
        audioLevel: s.audioLevel ?? 0,
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


def wait_until(condition: Callable[[], bool], page: Page, timeout: float = 10) -> None:
    """Poll a Python-side condition while letting Playwright deliver events (sync API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("condition not met in time")
