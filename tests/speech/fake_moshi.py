"""A fake of Kyutai's moshi-server (batched /api/asr-streaming), faithful to its bytes as read
in kyutai-labs/moshi rust/moshi-server (main.rs, batched_asr.rs; see
docs/speech-and-recording-findings.md, point 5), whose words come from the embedded engine.

Written against msgpack directly, not hub/speech/kyutai_wire.py, so the client's encoding is
checked by a second reading of the protocol. Behaviour kept from the real server:
- auth from the `kyutai-api-key` header, else `?auth_id=`; a bad key is HTTP 401, empty body,
  before the upgrade;
- `Ready` first; with no free slot, `Error{"message": "no free channels"}` then a close;
- one `Step` per 1920 samples (prs packed as float32), `Word`/`EndWord` times as float64;
- a `Marker` comes back after the model's delay (6 steps) plus the frames still buffered;
- a frame that does not deserialize (pcm as bin, unknown type) drops the connection, no Error.
Faults a test may ask for, per API key: "garbage", "close" (mid-stream), "error" (an Error
message mid-stream, then a close), "mute" (never answers audio), "no-ready" (accepts the
WebSocket, then says nothing).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

import msgpack
import numpy as np
from aiohttp import WSMsgType, web

from hub.speech.audio import WHISPER_RATE, resample
from hub.speech.port import Pcm, Segment

FRAME = 1920
STEP_HZ = 12.5
DELAY_STEPS = 6  # asr_delay_in_tokens of stt-1b-en_fr: 0.48 s
PATH = "/api/asr-streaming"

Transcribe = Callable[[Pcm], Awaitable[Segment]]


def pack_out(message: dict[str, object]) -> bytes:
    """rmp_serde with struct maps: "type" first, fields in declaration order; Vec<f32> stays
    float32 (Step's prs) while f64 fields stay float64."""
    packed: bytes = msgpack.packb(message, use_single_float=message["type"] == "Step")
    return packed


class FakeMoshiServer:
    def __init__(self, transcribe: Transcribe, keys: dict[str, str], slots: int = 64) -> None:
        self._transcribe = transcribe
        self._keys = keys  # API key -> behaviour ("normal" or a fault)
        self.free_slots = slots
        self.received_markers: list[int] = []
        self.audio_frames = 0
        self.audio_message_sizes: set[int] = set()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(PATH, self.handle)
        return app

    def _behaviour(self, request: web.Request) -> str | None:
        key = request.headers.get("kyutai-api-key")
        if key is None:  # the header wins when present
            key = request.query.get("auth_id")
        if key is None:
            return None
        for known, behaviour in self._keys.items():
            if hmac.compare_digest(key, known):
                return behaviour
        return None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        behaviour = self._behaviour(request)
        if behaviour is None:
            return web.Response(status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if self.free_slots == 0:
            await ws.send_bytes(pack_out({"type": "Error", "message": "no free channels"}))
            await ws.close()
            return ws
        self.free_slots -= 1
        try:
            if behaviour == "no-ready":
                async for _ in ws:
                    pass
                return ws
            await ws.send_bytes(pack_out({"type": "Ready"}))
            await self._session(ws, behaviour)
        finally:
            self.free_slots += 1
        return ws

    async def _session(self, ws: web.WebSocketResponse, behaviour: str) -> None:
        buffered: list[float] = []
        audio: list[float] = []  # everything received, for the engine
        transcribed = 0  # samples of `audio` already given to the engine
        step = 0
        markers: list[tuple[int, int]] = []
        words: list[tuple[str, float, float]] = []
        async for frame in ws:
            if frame.type is not WSMsgType.BINARY:
                continue  # text frames are ignored
            try:
                message = msgpack.unpackb(frame.data, raw=False)
                kind = message["type"]
                if kind == "Audio":
                    pcm = [float(x) for x in message["pcm"]]  # bin fails, like Vec<f32>
                    self.audio_message_sizes.add(len(pcm))
                elif kind == "Marker":
                    markers.append(
                        (step + DELAY_STEPS + len(buffered) // FRAME, int(message["id"]))
                    )
                    self.received_markers.append(int(message["id"]))
                    # The real model has been emitting words as it went; the fake decodes
                    # the audio up to here in one go, then releases the words step by step.
                    if len(audio) > transcribed:
                        words += await self._words(audio[transcribed:], transcribed)
                        transcribed = len(audio)
                    continue
                elif kind in ("Init", "OggOpus"):
                    continue
                else:
                    raise ValueError(kind)
            except Exception:
                await ws.close()  # the real server drops the socket without an Error
                return
            if behaviour == "mute":
                continue
            buffered.extend(pcm)
            audio.extend(pcm)
            while len(buffered) >= FRAME:
                del buffered[:FRAME]
                step += 1
                self.audio_frames += 1
                if behaviour == "garbage" and step == 3:
                    await ws.send_bytes(b"\xc1\x00garbage")
                if behaviour == "error" and step == 3:
                    await ws.send_bytes(pack_out({"type": "Error", "message": "model crashed"}))
                    await ws.close()
                    return
                if behaviour == "close" and step == 3:
                    await ws.close()
                    return
                await ws.send_bytes(
                    pack_out(
                        {
                            "type": "Step",
                            "step_idx": step,
                            "prs": [0.0, 0.0, 0.0, 0.0],
                            "buffered_pcm": len(buffered),
                        }
                    )
                )
                understood = (step - DELAY_STEPS) / STEP_HZ
                while words and words[0][2] <= understood:
                    text, start, stop = words.pop(0)
                    await ws.send_bytes(
                        pack_out({"type": "Word", "text": text, "start_time": start})
                    )
                    await ws.send_bytes(pack_out({"type": "EndWord", "stop_time": stop}))
                while markers and markers[0][0] <= step:
                    await ws.send_bytes(pack_out({"type": "Marker", "id": markers.pop(0)[1]}))

    async def _words(self, samples: list[float], offset: int) -> list[tuple[str, float, float]]:
        pcm = resample(np.asarray(samples, dtype=np.float32), 24_000, WHISPER_RATE)
        segment = await self._transcribe(pcm)
        start, end = offset / 24_000, (offset + len(samples)) / 24_000
        return [(w.text, start + w.start, min(end, start + w.end)) for w in segment.words]


async def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.01)
