"""Anne's media: the VP8 clip encoded once, the track that replays it, and her publishing."""

from __future__ import annotations

import asyncio
import fractions
import os
import time
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCRtpSender

from tests.support.peer import Participant, ToneTrack

WIDTH, HEIGHT, FPS, BITRATE = 640, 480, 30, 1_000_000
VIDEO_CLOCK = 90_000
CLIP_SECONDS = 4


def encode_clip() -> list[bytes]:
    """VP8 frames of a moving, smooth pattern, frame 0 a keyframe, encoded as aiortc's own
    encoder would (libvpx realtime, CBR, no lag)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = BITRATE
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = 3000
    codec.options = {
        "bufsize": str(BITRATE),
        "cpu-used": "-6",
        "deadline": "realtime",
        "lag-in-frames": "0",
        "minrate": str(BITRATE),
        "maxrate": str(BITRATE),
        "static-thresh": "1",
        "undershoot-pct": "100",
    }
    small_w, small_h = WIDTH // 8, HEIGHT // 8
    noise = os.urandom(small_w * small_h * 2)
    frames = []
    for index in range(CLIP_SECONDS * FPS):
        small = av.VideoFrame(width=small_w, height=small_h, format="gray")
        offset = (index * small_w // 8) % (small_w * small_h)
        small.planes[0].update(noise[offset : offset + small_w * small_h])
        frame = small.reformat(width=WIDTH, height=HEIGHT, format="yuv420p")
        frame.pts = index
        data = b"".join(bytes(packet) for packet in codec.encode(frame))
        if data:
            frames.append(data)
    return frames


class ClipTrack(MediaStreamTrack):
    """Replays encoded frames at FPS (aiortc's sender packs them: no encoder runs);
    `restart()` goes back to the keyframe, as an encoder asked for one would send one."""

    kind = "video"

    def __init__(self, frames: list[bytes]) -> None:
        super().__init__()
        self._frames = frames
        self._next = 0
        self._count = 0
        self._start: float | None = None
        self.requests: list[float] = []  # time.monotonic() of each keyframe request
        self.keyframes: list[float] = []  # ... and of each keyframe handed to the sender

    def restart(self) -> None:
        self.requests.append(time.monotonic())
        self._next = 0

    async def recv(self) -> av.Packet[Any]:
        now = time.monotonic()
        if self._start is None or now - (self._start + self._count / FPS) > 0.1:
            self._start = now - self._count / FPS  # late (a stalled loop): no catch-up burst
        wait = self._start + self._count / FPS - now
        if wait > 0:
            await asyncio.sleep(wait)
        if self._next == 0:
            self.keyframes.append(time.monotonic())
        packet = av.Packet(self._frames[self._next])
        packet.pts = self._count * (VIDEO_CLOCK // FPS)
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._next = (self._next + 1) % len(self._frames)
        self._count += 1
        return packet


async def publish_clip(anne: Participant, track: ClipTrack) -> RTCRtpSender:
    """Anne's microphone (peer.py's tone) and camera (the clip), on her publish connection."""
    anne.publish_pc.addTransceiver(ToneTrack(), direction="sendonly")
    video = anne.publish_pc.addTransceiver(track, direction="sendonly")
    video.setCodecPreferences(
        [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/VP8"]
    )
    await anne._offer(["microphone", "camera"])
    # aiortc ignores keyframe requests for pre-encoded media: the clip answers them itself.
    video.sender._send_keyframe = track.restart  # type: ignore[method-assign]
    return video.sender
