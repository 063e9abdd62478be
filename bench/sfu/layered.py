"""A person of the large meeting: a camera sent as three simulcast layers, as Chromium sends
it (one SSRC per layer, each packet naming its layer in the RID header extension), without
encoders, and a microphone that only the meeting's speakers use.

aiortc neither offers nor answers simulcast, so the offer is written here: the RID extension,
`a=rid:… send` per layer and `a=simulcast:send q;h;f`, lowest layer first (the order the hub's
page uses; Janus is told with `rid_order: lmh`). The packets carry the same trailer as every
person's (bench/sfu/person.py), its kind saying the layer (VIDEO + index), so a viewer knows
which layer of whom each packet is. A keyframe request names its layer by SSRC; the hub's
`encodings` message (docs/signaling.md) pauses the layers nobody watches, as the page does.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import replace

from aiortc.rtp import RtcpPacket, RtcpPsfbPacket

from bench.sfu.media import FIR, FPS, PLI, VIDEO_CLOCK, Clip
from bench.sfu.person import VIDEO, PairMeter, PersonPublisher, _Stream

RIDS = ("q", "h", "f")  # lowest first
URI_RID = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
SIMULCAST_LINES = [*(f"a=rid:{rid} send" for rid in RIDS), f"a=simulcast:send {';'.join(RIDS)}"]


def simulcast_offer(sdp: str, rid_ext: int) -> str:
    """aiortc's offer with its video section made a simulcast one: the RID extension under
    `rid_ext`, the RID lines, and no `a=ssrc` lines (layers are told apart by RID)."""
    out: list[str] = []
    video = False
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            if video:
                out += SIMULCAST_LINES
            video = line.startswith("m=video")
        if video and line.startswith(("a=ssrc:", "a=ssrc-group:")):
            continue
        out.append(line)
        if video and line.startswith("a=mid:"):
            out.append(f"a=extmap:{rid_ext} {URI_RID}")
    if video:
        while out and not out[-1]:
            out.pop()
        out += [*SIMULCAST_LINES, ""]
    return "\r\n".join(out)


def free_extension_id(sdp: str) -> int:
    taken = {
        int(line.split()[0].split(":")[1].split("/")[0])
        for line in sdp.replace("\r\n", "\n").split("\n")
        if line.startswith("a=extmap:")
    }
    return next(i for i in range(1, 15) if i not in taken)


class SimulcastPublisher(PersonPublisher):
    """`PersonPublisher` with one clip per layer (lowest first) and a microphone that sends
    only if `speaking`."""

    def __init__(
        self, address: str, clips: list[Clip], person: int, meter: PairMeter, speaking: bool
    ) -> None:
        super().__init__(address, clips[-1], person, meter)
        self.clips = clips
        self.speaking = speaking
        self.rid_ext = 0
        self.layers: list[_Stream] = []
        self.active = [True] * len(clips)  # the hub's `encodings` pause the others
        self._layer_frame = [0] * len(clips)
        self._layer_keyframe = [True] * len(clips)
        self._layer_keyframe_requests = [0] * len(clips)
        self.request_times: list[tuple[int, int]] = []  # (perf_counter_ns, layer index)

    async def offer(self) -> str:
        sdp = await super().offer()
        self.rid_ext = free_extension_id(sdp)
        return simulcast_offer(sdp, self.rid_ext)

    async def accept(self, answer: str) -> None:
        await super().accept(answer)  # starts _run once both kinds are negotiated
        base = self.streams[VIDEO]
        self.layers = []
        for index, rid in enumerate(RIDS[: len(self.clips)]):
            element = bytes([(self.rid_ext << 4) | (len(rid) - 1)]) + rid.encode()
            self.layers.append(
                replace(
                    base,
                    ssrc=base.ssrc if index == 0 else random.randrange(1, 1 << 32),
                    sequence=random.randrange(0x8000),
                    timestamp=random.randrange(1 << 32),
                    extensions_static=base.extensions_static + element,
                )
            )

    def set_active(self, rids: list[str]) -> None:
        """The hub's `encodings`: send only these layers (the lowest always)."""
        self.active = [index == 0 or rid in rids for index, rid in enumerate(RIDS)][
            : len(self.clips)
        ]

    @property
    def layer_keyframe_requests(self) -> list[int]:
        return list(self._layer_keyframe_requests)

    async def _on_rtcp(self, data: bytes) -> None:
        with contextlib.suppress(ValueError):
            for packet in RtcpPacket.parse(data):
                if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (PLI, FIR):
                    self.keyframe_requests += 1
                    for index, stream in enumerate(self.layers):
                        if stream.ssrc == packet.media_ssrc or packet.fmt == FIR:
                            self._layer_keyframe[index] = True
                            self._layer_keyframe_requests[index] += 1
                            self.request_times.append((time.perf_counter_ns(), index))

    def _send_frame(self) -> None:
        if not self.layers:
            return
        elapsed = time.perf_counter() - self._clock_start
        abs_send_time = (int(elapsed * 262144) & 0xFFFFFF).to_bytes(3, "big")
        picture_id = (0x8000 | self._picture_id).to_bytes(2, "big")
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        for index, (clip, stream) in enumerate(zip(self.clips, self.layers, strict=True)):
            if not self.active[index]:
                self._layer_keyframe[index] = True  # a layer resumes on a keyframe
                continue
            if self._layer_keyframe[index]:
                self._layer_frame[index], self._layer_keyframe[index] = 0, False
            payloads = clip.frames[self._layer_frame[index]]
            self._layer_frame[index] = (self._layer_frame[index] + 1) % len(clip.frames)
            stream.timestamp = (stream.timestamp + VIDEO_CLOCK // FPS) & 0xFFFFFFFF
            extensions = self._extensions(stream, abs_send_time)
            last = len(payloads) - 1
            for number, payload in enumerate(payloads):
                if payload[0] & 0x80 and payload[1] & 0x80 and payload[2] & 0x80:
                    payload = payload[:2] + picture_id + payload[4:]
                self._emit(VIDEO + index, payload, number == last, extensions, stream)

    def _send_audio(self, count: int) -> None:
        if self.speaking:
            super()._send_audio(count)
