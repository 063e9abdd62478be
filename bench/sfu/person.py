"""One person of the all-to-all meeting: a camera and a microphone sent without encoders, and
a meter counting what each viewer got from each publisher.

Every packet ends with a 16-byte trailer: `MAGIC`, the publisher's number, the kind (audio or
video) and the send time (`time.perf_counter_ns`, CLOCK_MONOTONIC: one clock for every process
of the machine, so the load generator can be split over several processes). Both SFUs forward
payloads untouched, so a viewer knows which person and which kind each packet came from.
"""

from __future__ import annotations

import asyncio
import os
import random
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from bench.sfu.media import (
    FPS,
    VIDEO_CLOCK,
    Clip,
    Sender,
    fast_send,
    ignore_rtp,
    rtc_config,
    vp8_only,
)
from hub.sfu.ice import gather_on
from hub.sfu.liveness import watch_peer
from hub.sfu.media import URI_ABS_SEND_TIME, URI_AUDIO_LEVEL, URI_MID

MAGIC = b"BnCm"
TRAILER = struct.Struct("!4sHBxQ")  # magic, publisher, kind, pad, send time (ns)
AUDIO, VIDEO = 0, 1
# A simulcast camera's layers, lowest first, are kinds VIDEO, VIDEO + 1, VIDEO + 2 (bench/sfu/
# large.py); a single-layer camera is VIDEO.
KINDS = ("audio", "video", "video layer 2", "video layer 3")
SLOTS = len(KINDS)  # per publisher in the meter's lists
MAX_PEOPLE = 64
AUDIO_PERIOD = 0.020  # Opus frames of 20 ms: 50 packets/s
AUDIO_PAYLOAD = 100  # bytes of payload per audio packet, trailer included
AUDIO_CLOCK = 48_000
CONNECT_TIMEOUT = 20.0


def slot(person: int, kind: int) -> int:
    """Index of (publisher, kind) in the meter's per-viewer lists."""
    return SLOTS * person + kind


def opus_only() -> list[Any]:
    return [
        c
        for c in RTCRtpSender.getCapabilities("audio").codecs
        if c.mimeType.lower() == "audio/opus"
    ]


# -- the meter ---------------------------------------------------------------------------------


class PairMeter:
    """Per local viewer and per (publisher, kind): packets ever received (is the pair
    connected?) and packets sent inside the window; the latencies of the window's packets.

    The window is given as send times (`open`), so that every process counts the same packets.
    """

    def __init__(self) -> None:
        self.start_ns = 0
        self.end_ns = 0  # empty window until `open`
        self.sent = [0] * (SLOTS * MAX_PEOPLE)  # only this process's publishers
        self.totals: dict[int, list[int]] = {}  # viewer → per slot, ever
        self.counts: dict[int, list[int]] = {}  # viewer → per slot, in the window
        self.firsts: dict[int, dict[int, int]] = {}  # viewer → slot → first arrival (ns)
        self.latencies = array("q")
        self.audio_latencies = array("q")  # the audio ones again, apart
        self.foreign = 0

    def open(self, start_ns: int, end_ns: int) -> None:
        self.sent = [0] * (SLOTS * MAX_PEOPLE)
        for counts in self.counts.values():
            counts[:] = [0] * len(counts)
        self.latencies = array("q")
        self.audio_latencies = array("q")
        self.foreign = 0
        self.start_ns, self.end_ns = start_ns, end_ns

    def on_sent(self, index: int, sent_ns: int) -> None:
        if self.start_ns <= sent_ns < self.end_ns:
            self.sent[index] += 1

    def receiver(self, viewer: int) -> Callable[[bytes], None]:
        """The per-packet function of `viewer`'s subscribe connection (decrypted RTP in)."""
        totals = self.totals.setdefault(viewer, [0] * (SLOTS * MAX_PEOPLE))
        counts = self.counts.setdefault(viewer, [0] * (SLOTS * MAX_PEOPLE))
        firsts = self.firsts.setdefault(viewer, {})
        clock, unpack, size = time.perf_counter_ns, TRAILER.unpack_from, TRAILER.size
        meter = self  # the window and its latencies are replaced by open(): read them here

        def on_rtp(data: bytes) -> None:
            now = clock()
            end = len(data) - (data[-1] if data[0] & 0x20 else 0)
            if end < 12 + size:
                meter.foreign += 1
                return
            magic, person, kind, sent = unpack(data, end - size)
            if magic != MAGIC or person >= MAX_PEOPLE or kind >= SLOTS:
                meter.foreign += 1
                return
            index = SLOTS * person + kind
            if not totals[index]:
                firsts[index] = now
            totals[index] += 1
            if meter.start_ns <= sent < meter.end_ns:
                counts[index] += 1
                meter.latencies.append(now - sent)
                if kind == AUDIO:
                    meter.audio_latencies.append(now - sent)

        return on_rtp


# -- the publisher -----------------------------------------------------------------------------


@dataclass
class _Stream:
    """What one negotiated sender needs to build its packets."""

    payload_type: int = 0
    ssrc: int = 0
    sequence: int = 0
    timestamp: int = 0
    extensions_static: bytes = b""
    dynamic_id: int | None = None  # abs-send-time (video) or audio level (audio)
    send: Callable[[bytes], None] | None = None


class PersonPublisher(Sender):
    """A sendonly connection with a camera (the VP8 clip) and a microphone (Opus-sized
    packets every 20 ms), both built here: no encoder, no RTCP loop. The clip restarts at its
    keyframe on every PLI/FIR, as in `media.InjectingPublisher`.

    Starts with `offer()` + `accept(answer)`; `close()` stops it.
    """

    def __init__(self, address: str, clip: Clip, person: int, meter: PairMeter) -> None:
        self.address = address
        self.clip = clip
        self.person = person
        self.meter = meter
        self.pc = RTCPeerConnection(rtc_config())
        self.camera = self.pc.addTransceiver("video", direction="sendonly")
        self.camera.setCodecPreferences(vp8_only())
        self.microphone = self.pc.addTransceiver("audio", direction="sendonly")
        self.microphone.setCodecPreferences(opus_only())
        self.streams = {VIDEO: _Stream(), AUDIO: _Stream()}
        self._negotiated: dict[int, asyncio.Event] = {}
        for kind, transceiver in ((VIDEO, self.camera), (AUDIO, self.microphone)):
            self._negotiated[kind] = asyncio.Event()
            stream = self.streams[kind]
            stream.sequence = random.randrange(0x8000)
            stream.timestamp = random.randrange(1 << 32)
            stream.ssrc = transceiver.sender._ssrc
            # Per-instance override: no encoder loop, no RTCP loop (docs/sfu-aiortc-hooks.md).
            transceiver.sender.send = self._on_negotiated(kind)  # type: ignore[method-assign,assignment]
        self.keyframe_requests = 0
        self.consent_states: list[str] = []  # suspect / failed / connected, as they come
        self._keyframe_wanted = True
        self._frame = 0
        self._picture_id = random.randrange(0x8000)
        self._clock_start = time.perf_counter()
        self._noise = os.urandom(4096)
        self._task: asyncio.Task[None] | None = None

    @property
    def mids(self) -> tuple[str, str]:
        """(camera, microphone) mids, known after `offer()`."""
        return self.camera.mid or "", self.microphone.mid or ""

    async def offer(self) -> str:
        # ICE consent as browsers check it (RFC 7675: expired after 30 s without any answer),
        # with the hub's own check; aioice's gives each probe 0.5 s and closes the connection
        # after 6 misses, so an SFU that is a second behind would lose its publishers to the
        # load generator, not to its own consent check.
        watch_peer(self.pc, self.consent_states.append)
        await gather_on(self.pc, [self.address])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp: str = self.pc.localDescription.sdp
        return sdp

    async def accept(self, answer: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for transceiver in (self.camera, self.microphone):
            transport = transceiver.sender.transport
            transport._handle_rtcp_data = self._on_rtcp  # type: ignore[method-assign]
            transport._handle_rtp_data = ignore_rtp  # type: ignore[method-assign]
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                for event in self._negotiated.values():
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(
                f"person {self.person}: no DTLS connection within {CONNECT_TIMEOUT} s "
                f"(ICE {self.pc.iceConnectionState}, connection {self.pc.connectionState})"
            ) from None
        for kind, transceiver in ((VIDEO, self.camera), (AUDIO, self.microphone)):
            self.streams[kind].send = fast_send(transceiver.sender.transport)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _on_negotiated(self, kind: int) -> Callable[[Any], Any]:
        async def negotiated(params: Any) -> None:  # replaces RTCRtpSender.send
            ids = {ext.uri: ext.id for ext in params.headerExtensions}
            wanted = "video/vp8" if kind == VIDEO else "audio/opus"
            codec = next(c for c in params.codecs if c.mimeType.lower() == wanted)
            stream = self.streams[kind]
            stream.payload_type = codec.payloadType
            if URI_MID in ids and params.muxId:
                mid = params.muxId.encode()
                stream.extensions_static = bytes([(ids[URI_MID] << 4) | (len(mid) - 1)]) + mid
            stream.dynamic_id = ids.get(URI_ABS_SEND_TIME if kind == VIDEO else URI_AUDIO_LEVEL)
            self._negotiated[kind].set()

        return negotiated

    # -- packets -------------------------------------------------------------------------

    def _extensions(self, stream: _Stream, dynamic: bytes) -> bytes:
        elements = stream.extensions_static
        if stream.dynamic_id is not None:
            elements += bytes([(stream.dynamic_id << 4) | (len(dynamic) - 1)]) + dynamic
        if not elements:
            return b""
        elements += b"\x00" * (-len(elements) % 4)
        return b"\xbe\xde" + (len(elements) // 4).to_bytes(2, "big") + elements

    def _emit(
        self,
        kind: int,
        payload: bytes,
        marker: bool,
        extensions: bytes,
        stream: _Stream | None = None,
    ) -> None:
        """One packet of `stream` (the kind's own, unless a simulcast layer's is given)."""
        stream = stream or self.streams[kind]
        assert stream.send is not None
        header = struct.pack(
            "!BBHII",
            0x90 if extensions else 0x80,
            (0x80 if marker else 0) | stream.payload_type,
            stream.sequence,
            stream.timestamp,
            stream.ssrc,
        )
        stream.sequence = (stream.sequence + 1) & 0xFFFF
        sent = time.perf_counter_ns()
        stream.send(header + extensions + payload + TRAILER.pack(MAGIC, self.person, kind, sent))
        self.meter.on_sent(slot(self.person, kind), sent)

    def _send_frame(self) -> None:
        if self._keyframe_wanted:
            self._frame, self._keyframe_wanted = 0, False
        payloads = self.clip.frames[self._frame]
        self._frame = (self._frame + 1) % len(self.clip.frames)
        stream = self.streams[VIDEO]
        elapsed = time.perf_counter() - self._clock_start
        stream.timestamp = (stream.timestamp + VIDEO_CLOCK // FPS) & 0xFFFFFFFF
        abs_send_time = (int(elapsed * 262144) & 0xFFFFFF).to_bytes(3, "big")
        extensions = self._extensions(stream, abs_send_time)
        picture_id = (0x8000 | self._picture_id).to_bytes(2, "big")
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        last = len(payloads) - 1
        for index, payload in enumerate(payloads):
            if payload[0] & 0x80 and payload[1] & 0x80 and payload[2] & 0x80:
                payload = payload[:2] + picture_id + payload[4:]  # keep picture ids continuous
            self._emit(VIDEO, payload, index == last, extensions)

    def _send_audio(self, count: int) -> None:
        stream = self.streams[AUDIO]
        stream.timestamp = (stream.timestamp + int(AUDIO_CLOCK * AUDIO_PERIOD)) & 0xFFFFFFFF
        # Voice activity on, a level that varies per person (-dBov, 0 loudest).
        level = bytes([0x80 | (20 + (self.person * 7 + count // 50) % 60)])
        offset = count % 1024
        body = b"\x78" + self._noise[offset : offset + AUDIO_PAYLOAD - 1 - TRAILER.size]
        self._emit(AUDIO, body, False, self._extensions(stream, level))

    async def _run(self) -> None:
        """Video at 30 frames/s and audio every 20 ms, each at a random phase (people are
        not synchronised); late by more than 100 ms (this process stalled): skip, never burst."""
        now = time.perf_counter()
        next_video = now + random.random() / FPS
        next_audio = now + random.random() * AUDIO_PERIOD
        audio_count = 0
        while True:
            now = time.perf_counter()
            if now >= next_video:
                self._send_frame()
                next_video = max(next_video + 1 / FPS, now - 0.1)
            if now >= next_audio:
                self._send_audio(audio_count)
                audio_count += 1
                next_audio = max(next_audio + AUDIO_PERIOD, now - 0.1)
            await asyncio.sleep(max(0.0, min(next_video, next_audio) - time.perf_counter()))
