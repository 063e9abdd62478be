"""A scriptable meeting participant built on aiortc: the same protocol as the browser client.

It joins through the hub's real WebSocket, publishes a moving test pattern and a tone over a
publish connection, answers the hub's subscribe offers, and counts the frames it decodes per
remote participant, so a test can assert that media really crossed the SFU.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import time
from array import array
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientWebSocketResponse
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from av import AudioFrame, VideoFrame

from hub.sfu.ice import gather_on

LOOPBACK = ["127.0.0.1"]
# One transport per connection, as browsers do: with aiortc's default (balanced) policy an
# answering aiortc closes the extra transports of a BUNDLE offer and its connect task then
# dies on them, leaving later receivers unstarted.
CLIENT_CONFIGURATION = RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
WIDTH, HEIGHT, FPS = 320, 240, 15


class PatternTrack(VideoStreamTrack):
    """Moving bars (like a camera, compressible: random noise would make every keyframe a
    burst of a hundred packets), small and slow to keep CPU low."""

    def __init__(self) -> None:
        super().__init__()
        self._frame = -1  # the frame slot last given (1/FPS each, from the first)
        self._start: float | None = None
        row = bytes((x * 255 // WIDTH) for x in range(WIDTH))
        self._rows = row * 2  # a shifted window over this is a moving gradient

    async def recv(self) -> VideoFrame:
        # Paced by the clock, as a camera is: each frame's time is when it was due, and a
        # frame whose time passed while the encoder was busy is skipped. (Sleeping 1/FPS
        # after each frame gave 14.4 frames a second under load, each stamped 1/15 s after
        # the last: a 9 s recording's video came out 8.6 s long.)
        now = time.monotonic()
        if self._start is None:
            self._start = now
        self._frame = max(self._frame + 1, int((now - self._start) * FPS))
        wait = self._start + self._frame / FPS - now
        if wait > 0:
            await asyncio.sleep(wait)
        pts = int(self._frame * 90000 / FPS)
        shift = (self._frame * 4) % WIDTH
        frame = VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        frame.planes[0].update(self._rows[shift : shift + WIDTH] * HEIGHT)
        frame.planes[1].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.planes[2].update(bytes([128]) * (WIDTH * HEIGHT // 4))
        frame.pts, frame.time_base = pts, fractions.Fraction(1, 90000)
        return frame


class PacedAudio(MediaStreamTrack):
    """Mono 16-bit audio in 20 ms frames at 48 kHz, paced by the clock as a microphone is;
    `chunk` gives each frame's samples."""

    kind = "audio"
    RATE, COUNT = 48000, 960

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None

    def chunk(self, first: int) -> bytes:
        raise NotImplementedError

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._samples / self.RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        frame = AudioFrame(format="s16", layout="mono", samples=self.COUNT)
        frame.planes[0].update(self.chunk(self._samples))
        frame.sample_rate, frame.pts = self.RATE, self._samples
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._samples += self.COUNT
        return frame


class ToneTrack(PacedAudio):
    """A 440 Hz tone."""

    def chunk(self, first: int) -> bytes:
        wave = (
            int(8000 * math.sin(2 * math.pi * 440 * (i + first) / self.RATE))
            for i in range(self.COUNT)
        )
        return array("h", wave).tobytes()


class SpeechTrack(PacedAudio):
    """Says a phrase again and again, with `pause` seconds of silence after each
    (`samples`: mono int16 at 48 kHz)."""

    def __init__(self, samples: bytes, pause: float = 1.0) -> None:
        super().__init__()
        self._cycle = samples + bytes(2 * int(self.RATE * pause))
        self._looped = self._cycle * 2  # a frame's worth read across the end of a cycle

    def chunk(self, first: int) -> bytes:
        at = 2 * (first % (len(self._cycle) // 2))
        return self._looped[at : at + 2 * self.COUNT]


@dataclass
class Received:
    """What one participant decoded from each other participant, by kind."""

    frames: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    first: dict[tuple[str, str], float] = field(default_factory=dict)

    def count(self, participant_id: str, kind: str) -> int:
        return self.frames[(participant_id, kind)]


class Participant:
    """One aiortc participant speaking the hub's signaling protocol."""

    def __init__(
        self,
        ws: ClientWebSocketResponse,
        name: str,
        addresses: list[str] | None = LOOPBACK,
        configuration: RTCConfiguration = CLIENT_CONFIGURATION,
    ) -> None:
        self.ws = ws
        self.name = name
        self.addresses = addresses or []  # empty: aioice's own choice of host addresses
        self.configuration = configuration
        self.participant_id = ""
        self.messages: list[dict[str, Any]] = []
        self.publish_pc = RTCPeerConnection(self.configuration)
        self.subscribe_pc: RTCPeerConnection | None = None
        self.received = Received()
        self._mid_owner: dict[str, tuple[str, str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._new_message = asyncio.Event()
        self.unanswered_offers = 0  # this many subscribe offers are ignored, as a stuck page would
        # Restart a connection the hub says failed, as the page does (static/js/call.js
        # mediaState): publish afresh (aiortc cannot restart ICE), ask for a new subscriber.
        self.follow_health = False
        self.microphone: Callable[[], MediaStreamTrack] = ToneTrack

    async def join(self, *, audio: bool = True, video: bool = True) -> None:
        answer = await self.knock(audio=audio, video=video)
        assert answer["type"] == "welcome", f"{self.name} was not let in: {answer}"

    async def knock(
        self,
        *,
        audio: bool = True,
        video: bool = True,
        token: str | None = None,
        rejoin: str | None = None,
        message: str | None = None,
        lang: str | None = None,
    ) -> dict[str, Any]:
        """Send `join` (with a `message` for the moderators, should it wait, and the page's
        `lang`); the hub's first answer: `welcome`, `waiting` (lobby) or `error`."""
        join: dict[str, Any] = {"type": "join", "name": self.name, "audio": audio, "video": video}
        if token is not None:
            join["token"] = token
        if rejoin is not None:
            join["rejoin"] = rejoin
        if message is not None:
            join["message"] = message
        if lang is not None:
            join["lang"] = lang
        index = len(self.messages)
        await self.ws.send_str(json.dumps(join))
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        answer = await self.wait_for_any(("welcome", "waiting", "error"), after=index)
        if answer["type"] == "welcome":
            self.participant_id = answer["participant_id"]
        return answer

    async def admitted(self, timeout: float = 10) -> dict[str, Any]:
        """After `waiting`: the `welcome` that follows a moderator's `admit`."""
        welcome = await self.wait_for("welcome", timeout)
        self.participant_id = welcome["participant_id"]
        return welcome

    async def publish(self, microphone: Callable[[], MediaStreamTrack] = ToneTrack) -> None:
        """The camera pattern and a `microphone()` track (a 440 Hz tone unless given; made
        afresh by `republish`)."""
        self.microphone = microphone
        tracks = []
        sent = ((microphone(), "microphone"), (PatternTrack(), "camera"))
        for track, source in sent:
            self.publish_pc.addTransceiver(track, direction="sendonly")
            tracks.append(source)
        await self._offer(tracks)

    async def republish(self) -> None:
        """Publish again on a fresh connection (new ICE credentials), like after a drop."""
        await self.publish_pc.close()
        self.publish_pc = RTCPeerConnection(self.configuration)
        await self.publish(self.microphone)

    async def _offer(self, tracks: list[str]) -> None:
        index = len(self.messages)
        await gather_on(self.publish_pc, self.addresses)
        await self.publish_pc.setLocalDescription(await self.publish_pc.createOffer())
        mids = [t.mid for t in self.publish_pc.getTransceivers()]
        await self.ws.send_str(
            json.dumps(
                {
                    "type": "publish_offer",
                    "sdp": self.publish_pc.localDescription.sdp,
                    "tracks": [
                        {"mid": mid, "source": source}
                        for mid, source in zip(mids, tracks, strict=False)
                    ],
                }
            )
        )
        answer = await self.wait_for("publish_answer", after=index)
        await self.publish_pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type="answer")
        )

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def wait_for(self, kind: str, timeout: float = 10, after: int = 0) -> dict[str, Any]:
        """The first message of `kind` at index >= after (waiting for it if needed)."""
        return await self.wait_for_any((kind,), timeout, after)

    async def wait_for_any(
        self, kinds: tuple[str, ...], timeout: float = 10, after: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.messages[after:]:
                if message["type"] in kinds:
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {kinds} message in {timeout} s")
            self._new_message.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_message.wait(), remaining)

    async def _read(self) -> None:
        async for frame in self.ws:
            message = json.loads(frame.data)
            self.messages.append(message)
            self._new_message.set()
            if message["type"] == "subscribe_offer":
                if self.unanswered_offers:
                    self.unanswered_offers -= 1
                    continue
                await self._answer(message)
            elif self.follow_health and _connection_failed(message):
                self._tasks.append(asyncio.create_task(self._recover(message["pc"])))

    async def _recover(self, which: str) -> None:
        if which == "publish":
            await self.republish()
        else:
            await self.send({"type": "reconnect"})

    async def _answer(self, offer: dict[str, Any]) -> None:
        if self.subscribe_pc is None or offer.get("restart"):
            if self.subscribe_pc is not None:
                await self.subscribe_pc.close()
            self.subscribe_pc = RTCPeerConnection(self.configuration)
            self.subscribe_pc.on("track", self._on_track)
        for stream in offer["streams"]:
            self._mid_owner[stream["mid"]] = (stream["participant_id"], stream["kind"])
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        await gather_on(pc, self.addresses)
        await pc.setLocalDescription(await pc.createAnswer())
        await self.send({"type": "subscribe_answer", "sdp": pc.localDescription.sdp})

    def _on_track(self, track: MediaStreamTrack) -> None:
        assert self.subscribe_pc is not None
        mid = next(t.mid for t in self.subscribe_pc.getTransceivers() if t.receiver.track is track)
        self._tasks.append(asyncio.create_task(self._consume(mid, track)))

    async def _consume(self, mid: str, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                # The mid's owner can change when the hub reuses a leg: look it up each frame.
                key = self._mid_owner.get(mid)
                if key is not None:
                    self.received.frames[key] += 1
                    self.received.first.setdefault(key, time.monotonic())

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
        await self.ws.close()
        await self.publish_pc.close()
        if self.subscribe_pc is not None:
            await self.subscribe_pc.close()


def _connection_failed(message: dict[str, Any]) -> bool:
    return message["type"] == "media_state" and message["state"] == "failed"


async def wait_until(predicate: Any, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        await asyncio.sleep(0.05)
