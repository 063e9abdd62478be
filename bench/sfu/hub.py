"""The hub under test: `python -m hub serve --dev` as a subprocess, its JSON API, and
participants speaking its WebSocket protocol (docs/signaling.md)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.sfu.system import BenchError, ServerProcess, start_process

REPO = Path(__file__).resolve().parents[2]
API = "/api/v1"
STEP_TIMEOUT = 20.0
START_TIMEOUT = 40.0

OfferHandler = Callable[[dict[str, Any]], Awaitable[str]]


class HubServer(ServerProcess):
    """The hub in dev mode in its own data folder, with the SFU's candidates on `address`."""

    name = "the hub"
    sfu_workers = 0  # sfu.workers: 0 forwards in `hub serve` itself
    speech_model = ""  # a folder: live subtitles with the embedded engine may be started
    speech_language = "en"  # the bench's Whisper model is tiny.en

    async def sfu_worker_pids(self, session: aiohttp.ClientSession) -> tuple[int, ...]:
        """The pids of its `hub sfu-worker` processes, from /health/ready (none in process)."""
        async with session.get(f"{self.base_url}/health/ready") as answer:
            body = await answer.json()
        return tuple(int(w["pid"]) for w in body.get("workers", ()))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        timeout = START_TIMEOUT
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "HUB_SFU__CANDIDATE_ADDRESSES": json.dumps([self.address]),
            "HUB_SERVER__DATA_DIR": str(self.workdir / "data"),
            "HUB_SERVER__PUBLIC_URL": self.base_url,
            "HUB_SFU__WORKERS": str(self.sfu_workers),
            # One meeting per worker, as compared: none spreads over two when its worker
            # passes the ceiling (a meeting spread by its relay would be another comparison).
            "HUB_SFU__WORKER_CEILING": "0",
        }
        if self.speech_model:
            env["HUB_SPEECH__BACKEND"] = "embedded"
            env["HUB_SPEECH__EMBEDDED_MODEL_DIR"] = self.speech_model
            env["HUB_SPEECH__LANGUAGE"] = self.speech_language
        self.process = start_process(
            "hub",
            [sys.executable, "-m", "hub", "serve", "--dev", "--port", str(self.port)],
            log_path=self.workdir / "hub.log",
            cwd=REPO,
            env=env,
        )

        async def ready(session: aiohttp.ClientSession) -> bool:
            async with session.get(
                f"{self.base_url}/health/ready", timeout=aiohttp.ClientTimeout(total=2)
            ) as answer:
                return answer.status == 200

        await self.wait_ready(ready, timeout)

    def event_loop(self) -> str:
        """Which event loop `hub serve` runs on, from the py-spy-free evidence we have."""
        try:
            maps = Path(f"/proc/{self.pid}/maps").read_text()
        except OSError:
            return "unknown"
        return "uvloop" if "uvloop" in maps else "asyncio"


async def guest_session(session: aiohttp.ClientSession, base_url: str) -> str:
    """A guest session (cookie) from the home page, as a browser gets one; its CSRF token."""
    timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT)
    home = f"{base_url}/"
    async with session.get(home, headers={"Accept": "text/html"}, timeout=timeout) as page:
        html = await page.text()
        if page.status != 200:
            raise BenchError(f"GET / answered {page.status}")
    match = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    if match is None:
        raise BenchError("the home page carries no csrf-token meta tag")
    return match.group(1)


async def create_meeting(session: aiohttp.ClientSession, base_url: str) -> str:
    """A guest session from the home page, its CSRF token, then POST a public meeting."""
    timeout = aiohttp.ClientTimeout(total=STEP_TIMEOUT)
    csrf = await guest_session(session, base_url)
    async with session.post(
        f"{base_url}{API}/meetings",
        json={"title": "Benchmark", "access_level": "public"},
        headers={"X-CSRF-Token": csrf},
        timeout=timeout,
    ) as created:
        body = await created.json()
        if created.status != 201:
            raise BenchError(f"creating a meeting answered {created.status}: {body}")
    meeting_id: str = body["id"]
    return meeting_id


class HubParticipant:
    """One participant's WebSocket: join, publish, and answering every subscribe offer."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        meeting_id: str,
        name: str,
        on_offer: OfferHandler,
        *,
        audio: bool = False,
        video: bool = True,
    ) -> None:
        self.session = session
        self.audio = audio
        self.video = video
        self.url = f"{base_url.replace('http', 'ws', 1)}{API}/meetings/{meeting_id}/ws"
        self.name = name
        self.on_offer = on_offer
        self.participant_id = ""
        self.errors: list[dict[str, Any]] = []
        self.offers = 0
        # The hub's `encodings` (mid, RIDs to send): a simulcast publisher pauses the others.
        self.on_encodings: Callable[[list[str]], None] | None = None
        # Every message as it arrives (e.g. `subtitle` lines, timed by the caller).
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def join(self) -> None:
        self._ws = await self.session.ws_connect(
            self.url, timeout=aiohttp.ClientWSTimeout(ws_close=5), max_msg_size=1 << 20
        )
        welcome = self._expect("welcome")
        self._reader = asyncio.get_running_loop().create_task(self._read())
        await self._send(
            {"type": "join", "name": self.name, "audio": self.audio, "video": self.video}
        )
        self.participant_id = (await self._wait(welcome, "welcome"))["participant_id"]

    async def publish(self, sdp: str, mid: str | None, microphone_mid: str | None = None) -> str:
        """Offer the camera (`mid`) and the microphone, each if given; the hub's answer."""
        answer = self._expect("publish_answer")
        tracks = [] if mid is None else [{"mid": mid, "source": "camera"}]
        if microphone_mid is not None:
            tracks.append({"mid": microphone_mid, "source": "microphone"})
        await self._send({"type": "publish_offer", "sdp": sdp, "tracks": tracks})
        result: str = (await self._wait(answer, "publish_answer"))["sdp"]
        return result

    async def view(self, tiles: list[dict[str, Any]], *, visible: bool = True) -> None:
        """Say what this person's screen displays (`view`, docs/signaling.md): the hub then
        forwards the video of the people in `tiles` only ({participant, width, height})."""
        await self._send({"type": "view", "tiles": tiles, "visible": visible})

    def expect(self, kind: str) -> asyncio.Future[dict[str, Any]]:
        """A future for the next message of `kind` (then `wait` for it)."""
        return self._expect(kind)

    async def wait(self, future: asyncio.Future[dict[str, Any]], kind: str) -> dict[str, Any]:
        return await self._wait(future, kind)

    async def send(self, message: dict[str, Any]) -> None:
        await self._send(message)

    def _expect(self, kind: str) -> asyncio.Future[dict[str, Any]]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[kind] = future
        return future

    async def _wait(self, future: asyncio.Future[dict[str, Any]], kind: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                return await future
        except TimeoutError:
            raise BenchError(
                f"hub: {self.name} got no {kind!r} in {STEP_TIMEOUT} s (errors: {self.errors})"
            ) from None

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps(message))

    async def _read(self) -> None:
        assert self._ws is not None
        async for frame in self._ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if self.on_message is not None:
                self.on_message(message)
            kind = message.get("type")
            future = self._waiting.pop(kind, None)
            if future is not None and not future.done():
                future.set_result(message)
            if kind == "error":
                self.errors.append(message)
                for pending in self._waiting.values():
                    if not pending.done():
                        pending.set_exception(BenchError(f"hub error for {self.name}: {message}"))
            elif kind == "encodings" and self.on_encodings is not None:
                self.on_encodings(list(message.get("rids", [])))
            elif kind == "subscribe_offer":
                self.offers += 1
                try:
                    answer = await self.on_offer(message)
                except Exception as exc:  # reported with the case; the socket goes on
                    self.errors.append({"type": "client", "message": repr(exc)})
                    continue
                await self._send({"type": "subscribe_answer", "sdp": answer})

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await self._send({"type": "leave"})
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader


async def metrics(session: aiohttp.ClientSession, base_url: str) -> dict[str, float]:
    """The hub's own SFU counters, garbage-collector pauses and event-loop lag from /metrics
    (loopback is allowed by default)."""
    async with session.get(f"{base_url}/metrics", timeout=aiohttp.ClientTimeout(total=5)) as answer:
        text = await answer.text()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("hub_sfu_", "hub_gc_", "hub_event_loop_")):
            name, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                values[name] = float(value)
    return values
