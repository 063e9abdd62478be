"""Join → first remote frame on the hub: in real Chromium, and with a decoding aiortc peer.

Chromium is Debian's (`/usr/bin/chromium`) driven by Playwright (never `playwright install`).
The page is the hub's own meeting page; the clock starts when the Join button is clicked and
stops when the subscribe connection's inbound video reports its first decoded frame
(`getStats()` polled every 10 ms, so ±10 ms). The aiortc variant times a WebSocket join until
the first `VideoFrame` comes out of aiortc's decoder.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from bench.sfu.hub import HubParticipant
from bench.sfu.media import rtc_config
from hub.sfu.ice import gather_on
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS

FRAME_TIMEOUT_MS = 20_000

# In the page: click Join, then poll the subscribe connection until a video frame is decoded.
JOIN_JS = """
async (timeoutMs) => {
  const t0 = performance.now();
  document.getElementById("join-button").click();
  let connectedMs = null;
  while (performance.now() - t0 < timeoutMs) {
    const pc = window.visioDebug && window.visioDebug.subscribePc();
    if (pc) {
      if (connectedMs === null && pc.connectionState === "connected") {
        connectedMs = performance.now() - t0;
      }
      const stats = await pc.getStats();
      for (const s of stats.values()) {
        if (s.type === "inbound-rtp" && s.kind === "video" && (s.framesDecoded || 0) > 0) {
          return {firstFrameMs: performance.now() - t0, connectedMs, width: s.frameWidth || 0};
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {firstFrameMs: null, connectedMs, state: window.visioDebug && window.visioDebug.state()};
}
"""


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "runs_ms": [round(v, 1) for v in values],
        "median_ms": round(statistics.median(values), 1) if values else None,
    }


async def chromium_joins(base_url: str, meeting_id: str, joins: int) -> dict[str, Any]:
    """Join `joins` times from fresh Chromium profiles; each leaves before the next joins."""
    if not CHROMIUM.exists():
        return {"error": f"{CHROMIUM} not found (apt-get install chromium)"}
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import async_playwright

    firsts: list[float] = []
    details: list[dict[str, Any]] = []
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=30_000
            )
            try:
                for index in range(joins):
                    context = await browser.new_context(
                        base_url=base_url, locale="fr-FR", viewport={"width": 1280, "height": 800}
                    )
                    await context.grant_permissions(["camera", "microphone"], origin=base_url)
                    try:
                        page = await context.new_page()
                        page.set_default_timeout(20_000)
                        await page.goto(f"/m/{meeting_id}")
                        await page.fill("#name", f"Chromium {index + 1}")
                        # Devices ready (the fake camera runs): what a person waits for too.
                        await page.wait_for_function(
                            "() => document.getElementById('device-status').dataset.kind"
                        )
                        result: dict[str, Any] = await page.evaluate(JOIN_JS, FRAME_TIMEOUT_MS)
                        details.append(result)
                        if result.get("firstFrameMs") is not None:
                            firsts.append(float(result["firstFrameMs"]))
                    finally:
                        await context.close()
                    await asyncio.sleep(1.0)  # the hub tears the participant down
            finally:
                await browser.close()
    except PlaywrightError as exc:
        return {"error": f"Chromium: {str(exc).splitlines()[0]}", "details": details}
    out = _summary(firsts)
    out["details"] = details
    if len(firsts) < joins:
        out["error"] = f"{joins - len(firsts)} of {joins} joins saw no remote frame"
    return out


async def aiortc_joins(
    http: aiohttp.ClientSession, base_url: str, meeting_id: str, address: str, joins: int
) -> dict[str, Any]:
    """The same measurement with an aiortc peer that decodes (WebSocket join → first frame)."""
    firsts: list[float] = []
    errors: list[str] = []
    for index in range(joins):
        loop = asyncio.get_running_loop()
        first: asyncio.Future[float] = loop.create_future()
        connections: list[RTCPeerConnection] = []
        consumers: list[asyncio.Task[None]] = []

        async def consume(track: MediaStreamTrack, first: asyncio.Future[float] = first) -> None:
            with contextlib.suppress(Exception):
                await track.recv()
                if not first.done():
                    first.set_result(time.perf_counter())

        async def on_offer(
            offer: dict[str, Any],
            connections: list[RTCPeerConnection] = connections,
            consumers: list[asyncio.Task[None]] = consumers,
            consume: Any = consume,
        ) -> str:
            if not connections or offer.get("restart"):
                pc = RTCPeerConnection(rtc_config())
                connections.append(pc)

                @pc.on("track")
                def on_track(track: MediaStreamTrack) -> None:
                    if track.kind == "video":
                        consumers.append(asyncio.get_running_loop().create_task(consume(track)))

            pc = connections[-1]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
            await gather_on(pc, [address])
            await pc.setLocalDescription(await pc.createAnswer())
            sdp: str = pc.localDescription.sdp
            return sdp

        participant = HubParticipant(http, base_url, meeting_id, f"decoder{index + 1}", on_offer)
        started = time.perf_counter()
        try:
            await participant.join()
            async with asyncio.timeout(FRAME_TIMEOUT_MS / 1000):
                firsts.append((await first - started) * 1000)
        except (TimeoutError, RuntimeError) as exc:
            errors.append(f"join {index + 1}: {exc or 'no frame in time'}")
        finally:
            for task in consumers:
                task.cancel()
            await participant.close()
            for pc in connections:
                await pc.close()
        await asyncio.sleep(0.5)
    out = _summary(firsts)
    if errors:
        out["error"] = "; ".join(errors)
    return out
