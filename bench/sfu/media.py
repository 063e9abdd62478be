"""The benchmark's media: a pre-encoded VP8 clip, a publisher that injects RTP, and
subscribers that count packets without decoding.

All of it lives in the one benchmark client process and uses one clock
(`time.perf_counter_ns`): every packet the publisher sends ends with a 12-byte trailer
(`MAGIC` + send time), which both SFUs forward untouched (it is payload), so a subscriber
knows at once which measurement window a packet belongs to and how long it took.

The publisher is a real aiortc RTCPeerConnection (ICE, DTLS, SRTP) whose sender never starts
an encoder: packets are built here, SRTP-protected with the connection's own session and
written to the ICE pair's socket. Subscribers are real aiortc connections whose receivers
never start: their ICE sockets' `datagram_received` is wrapped so SRTP packets are decrypted
and counted right there (no aioice queue, no RtpPacket, no jitter buffer, no decoder), which
keeps the client light enough to measure an SFU on the same two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import os
import struct
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtcpPacket, RtcpPsfbPacket
from av import VideoFrame

from hub.sfu.ice import enlarge_receive_buffers, gather_on
from hub.sfu.liveness import watch_peer
from hub.sfu.media import URI_ABS_SEND_TIME, URI_MID

MAGIC = b"BnCh"
TRAILER = 12  # MAGIC + 8-byte send time (ns, perf_counter)
FPS = 30
VIDEO_CLOCK = 90_000
SYNTHETIC_PACKET = 1100  # bytes of RTP (header + extensions + payload + trailer)
SYNTHETIC_PER_FRAME = 10  # packets sharing one timestamp, marker on the last
PLI, FIR = 1, 4
CONNECT_TIMEOUT = 20.0  # seconds for ICE + DTLS

_trailer = struct.Struct("!4sQ")


def rtc_config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])  # never aiortc's default public STUN server


def vp8_only() -> list[Any]:
    return [
        c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == "video/vp8"
    ]


# -- the clip --------------------------------------------------------------------------------


@dataclass
class Clip:
    """Encoded frames (VP8 payloads with aiortc's descriptor), frame 0 a keyframe."""

    frames: list[list[bytes]]
    width: int
    height: int
    bitrate: float  # bits/s of payload, measured over the clip
    packets_per_second: float


def encode_clip(
    seconds: float = 5.0,
    width: int = 640,
    height: int = 480,
    bitrate: int = 1_000_000,
    pattern: tuple[int, int] | None = None,
) -> Clip:
    """Encode a moving, smooth pattern with aiortc's own VP8 encoder (as a publisher would):
    random pixels of `pattern` size (default: an eighth of the picture's) scaled up. Layers
    of one simulcast camera share one pattern: the same picture at three sizes."""
    encoder = Vp8Encoder()
    encoder.target_bitrate = bitrate
    # The pattern's width a multiple of 16, so that its plane has no padding.
    small_w, small_h = pattern or ((width // 8 + 15) // 16 * 16, height // 8)
    noise = os.urandom(small_w * small_h * 4)
    frames: list[list[bytes]] = []
    for index in range(int(seconds * FPS)):
        small = VideoFrame(width=small_w, height=small_h, format="gray")
        offset = (index * small_w // 8) % (small_w * small_h * 2)
        small.planes[0].update(noise[offset : offset + small_w * small_h])
        frame = small.reformat(width=width, height=height, format="yuv420p")
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, VIDEO_CLOCK)
        payloads, _ = encoder.encode(frame, force_keyframe=index == 0)
        frames.append(payloads)
    octets = sum(len(p) for f in frames for p in f)
    packets = sum(len(f) for f in frames)
    duration = len(frames) / FPS
    return Clip(frames, width, height, octets * 8 / duration, packets / duration)


# -- measurement windows -----------------------------------------------------------------------


@dataclass
class Meter:
    """Counts, per subscriber, the packets sent inside the open window, and their latency."""

    start_ns: int = 0
    end_ns: int = 0  # empty window until `open`
    sent: int = 0
    counts: list[int] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)  # every packet ever (connection checks)
    latencies: array[int] = field(default_factory=lambda: array("q"))
    foreign: int = 0  # RTP without our trailer (padding, probes, other streams)

    def add_subscriber(self) -> int:
        self.counts.append(0)
        self.totals.append(0)
        return len(self.counts) - 1

    def open(self) -> None:
        self.sent = 0
        self.counts = [0] * len(self.counts)
        self.latencies = array("q")
        self.foreign = 0
        self.end_ns = 1 << 62
        self.start_ns = time.perf_counter_ns()

    def close(self) -> None:
        self.end_ns = time.perf_counter_ns()

    def on_sent(self, sent_ns: int) -> None:
        if self.start_ns <= sent_ns < self.end_ns:
            self.sent += 1

    def receiver(self, index: int) -> Callable[[bytes], None]:
        """The per-packet function of subscriber `index` (decrypted RTP in)."""
        clock, unpack = time.perf_counter_ns, _trailer.unpack_from
        meter = self  # read the window's lists through the meter: open() replaces them

        def on_rtp(data: bytes) -> None:
            now = clock()
            end = len(data) - (data[-1] if data[0] & 0x20 else 0)
            if end < 12 + TRAILER:
                meter.foreign += 1
                return
            magic, sent = unpack(data, end - TRAILER)
            if magic != MAGIC:
                meter.foreign += 1
                return
            meter.totals[index] += 1
            if meter.start_ns <= sent < meter.end_ns:
                meter.counts[index] += 1
                meter.latencies.append(now - sent)

        return on_rtp


def percentile(sorted_values: list[int] | list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    position = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return float(sorted_values[position])


# -- publisher ---------------------------------------------------------------------------------


class Sender:
    """What the load generator's senders share (InjectingPublisher, person.PersonPublisher):
    a keyframe request (PLI/FIR) is counted and makes the next frame a keyframe; `close()`
    stops the sending task and the connection."""

    pc: RTCPeerConnection
    keyframe_requests: int
    _keyframe_wanted: bool
    _task: asyncio.Task[None] | None

    async def _on_rtcp(self, data: bytes) -> None:
        with contextlib.suppress(ValueError):
            for packet in RtcpPacket.parse(data):
                if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (PLI, FIR):
                    self.keyframe_requests += 1
                    self._keyframe_wanted = True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.pc.close()


def fast_send(dtls: Any) -> Callable[[bytes], None]:
    """SRTP-protect with the connection's session and write to the ICE pair's socket: the
    sending half of aiortc without its per-packet coroutine."""
    pair = dtls.transport._connection._nominated.get(1)
    srtp = dtls._tx_srtp
    if pair is None or srtp is None or pair.protocol.transport is None:
        raise RuntimeError("publisher connection has no nominated ICE pair / SRTP session")
    protect, sendto, remote = srtp.protect, pair.protocol.transport.sendto, pair.remote_addr

    def send(packet: bytes) -> None:
        sendto(protect(packet), remote)

    return send


class InjectingPublisher(Sender):
    """A sendonly VP8 connection whose packets are built and sent by this class.

    Modes: the clip at 30 fps (answers PLI/FIR by restarting at its keyframe), or synthetic
    ~1100-byte packets at a given rate. Sequence numbers, timestamps and VP8 picture ids stay
    continuous across mode changes, as a real sender's would.
    """

    def __init__(self, address: str, clip: Clip, meter: Meter) -> None:
        self.address = address
        self.clip = clip
        self.meter = meter
        self.pc = RTCPeerConnection(rtc_config())
        self.transceiver = self.pc.addTransceiver("video", direction="sendonly")
        self.transceiver.setCodecPreferences(vp8_only())
        # Per-instance override: no encoder loop, no RTCP loop (docs/sfu-aiortc-hooks.md).
        self.transceiver.sender.send = self._negotiated  # type: ignore[method-assign,assignment]
        self._ready = asyncio.Event()
        self._payload_type = 0  # the negotiated values, set by _negotiated()
        self._abs_id: int | None = None
        self._ext_static = b""
        self._synthetic_ts = 0
        self.trailer = True
        self.keyframe_requests = 0
        self.packets_sent = 0
        self.rate: float | None = None  # None: the clip; else synthetic packets per second
        self._rate_start = 0.0
        self._rate_sent = 0
        self._frame = 0
        self._keyframe_wanted = True
        self._sequence = int.from_bytes(os.urandom(2), "big") & 0x7FFF
        self._timestamp_base = int.from_bytes(os.urandom(4), "big")
        self._picture_id = int.from_bytes(os.urandom(2), "big") & 0x7FFF
        self._clock_start = time.perf_counter()
        self._filler = os.urandom(2048)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._send: Callable[[bytes], None] | None = None

    @property
    def mid(self) -> str:
        return self.transceiver.mid or ""

    async def offer(self) -> str:
        await gather_on(self.pc, [self.address])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        transport = self.transceiver.sender.transport
        transport._handle_rtcp_data = self._on_rtcp  # type: ignore[method-assign]
        transport._handle_rtp_data = ignore_rtp  # type: ignore[method-assign]
        sdp: str = self.pc.localDescription.sdp
        return sdp

    async def accept(self, answer: str) -> None:
        timeout = CONNECT_TIMEOUT
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            raise TimeoutError(
                f"publisher: no DTLS connection within {timeout} s "
                f"(ICE {self.pc.iceConnectionState}, connection {self.pc.connectionState})"
            ) from None
        self._bind_fast_send()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _negotiated(self, params: Any) -> None:  # replaces RTCRtpSender.send
        ids = {ext.uri: ext.id for ext in params.headerExtensions}
        codec = next(c for c in params.codecs if c.mimeType.lower() == "video/vp8")
        self._payload_type = codec.payloadType
        elements = b""
        if URI_MID in ids and params.muxId:
            mid = params.muxId.encode()
            elements += bytes([(ids[URI_MID] << 4) | (len(mid) - 1)]) + mid
        self._abs_id = ids.get(URI_ABS_SEND_TIME)
        self._ext_static = elements
        self._ready.set()

    def _bind_fast_send(self) -> None:
        self._send = fast_send(self.transceiver.sender.transport)

    # -- modes ---------------------------------------------------------------------------

    def play_clip(self) -> None:
        self.rate = None
        self._keyframe_wanted = True

    def play_synthetic(self, rate: float) -> None:
        self._rate_start = time.perf_counter()
        self._rate_sent = 0
        self.rate = rate
        self._wake.set()  # not after the clip's next frame time: no catch-up burst

    # -- packets -------------------------------------------------------------------------

    def _extensions(self) -> bytes:
        elements = self._ext_static
        if self._abs_id is not None:
            now = int((time.perf_counter() - self._clock_start) * 262144) & 0xFFFFFF
            elements += bytes([(self._abs_id << 4) | 2]) + now.to_bytes(3, "big")
        if not elements:
            return b""
        elements += b"\x00" * (-len(elements) % 4)
        return b"\xbe\xde" + (len(elements) // 4).to_bytes(2, "big") + elements

    def _rtp_timestamp(self) -> int:
        elapsed = time.perf_counter() - self._clock_start
        return (self._timestamp_base + int(elapsed * VIDEO_CLOCK)) & 0xFFFFFFFF

    def _emit(self, payload: bytes, marker: bool, timestamp: int, extensions: bytes) -> None:
        assert self._send is not None
        header = struct.pack(
            "!BBHII",
            0x90 if extensions else 0x80,
            (0x80 if marker else 0) | self._payload_type,
            self._sequence,
            timestamp,
            self.transceiver.sender._ssrc,
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        if self.trailer:
            sent = time.perf_counter_ns()
            packet = header + extensions + payload + _trailer.pack(MAGIC, sent)
            self.meter.on_sent(sent)
        else:
            packet = header + extensions + payload
        self._send(packet)
        self.packets_sent += 1

    def _send_frame(self) -> None:
        if self._keyframe_wanted:
            self._frame, self._keyframe_wanted = 0, False
        payloads = self.clip.frames[self._frame]
        self._frame = (self._frame + 1) % len(self.clip.frames)
        timestamp, extensions = self._rtp_timestamp(), self._extensions()
        picture_id = (0x8000 | self._picture_id).to_bytes(2, "big")
        self._picture_id = (self._picture_id + 1) & 0x7FFF
        last = len(payloads) - 1
        for index, payload in enumerate(payloads):
            if payload[0] & 0x80 and payload[1] & 0x80 and payload[2] & 0x80:
                payload = payload[:2] + picture_id + payload[4:]  # keep picture ids continuous
            self._emit(payload, index == last, timestamp, extensions)

    def _send_synthetic(self, count: int) -> None:
        extensions = self._extensions()
        size = SYNTHETIC_PACKET - 12 - len(extensions) - (TRAILER if self.trailer else 0)
        for _ in range(count):
            position = self._rate_sent % SYNTHETIC_PER_FRAME
            if position == 0:
                self._synthetic_ts = self._rtp_timestamp()
                self._picture_id = (self._picture_id + 1) & 0x7FFF
            # VP8 descriptor (X, S on a frame's first packet; 15-bit picture id), then an
            # inter-frame payload header (P=1) and filler: never a keyframe.
            descriptor = bytes([0x90 if position == 0 else 0x80, 0x80]) + (
                0x8000 | self._picture_id
            ).to_bytes(2, "big")
            offset = self._rate_sent % 512
            payload = descriptor + b"\x01" + self._filler[offset : offset + size - 5]
            self._emit(payload, position == SYNTHETIC_PER_FRAME - 1, self._synthetic_ts, extensions)
            self._rate_sent += 1

    async def _run(self) -> None:
        next_frame = time.perf_counter()
        while True:
            now = time.perf_counter()
            rate = self.rate
            if rate is None:
                if now >= next_frame:
                    self._send_frame()
                    next_frame = max(next_frame + 1 / FPS, now - 0.1)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, next_frame - time.perf_counter())):
                        await self._wake.wait()
            else:
                due = int((now - self._rate_start) * rate) - self._rate_sent
                if due > 0:
                    # Late by more than 10 ms (this process stalled): skip, never burst.
                    limit = max(1, int(rate * 0.01))
                    if due > limit:
                        self._rate_sent += due - limit
                        due = limit
                    self._send_synthetic(due)
                next_frame = now
                await asyncio.sleep(0.002)


async def ignore_rtp(data: bytes, arrival_time_ms: int) -> None:
    return None


async def _ignore_rtcp(data: bytes) -> None:
    return None


async def _no_receive(params: Any) -> None:  # replaces RTCRtpReceiver.receive
    return None


# -- subscribers -------------------------------------------------------------------------------


class CountingSubscriber:
    """An answering connection whose RTP is decrypted and counted in the socket callback."""

    def __init__(
        self,
        address: str,
        meter: Meter | None,
        count: Callable[[bytes], None] | None = None,
        *,
        lenient_consent: bool = False,
    ) -> None:
        """Counts into `meter`, or hands each decrypted packet to `count` (the meeting's
        per-pair meter), or discards (neither). `lenient_consent`: ICE consent as browsers
        and the hub check it (`hub.sfu.liveness`), not aioice's 0.5 s-per-probe check."""
        self.address = address
        self.lenient_consent = lenient_consent
        self.consent_states: list[str] = []  # suspect / failed / connected, as they come
        self.pc = RTCPeerConnection(rtc_config())
        self.index = meter.add_subscriber() if meter is not None else -1
        self._count: Callable[[bytes], None] = (
            meter.receiver(self.index) if meter is not None else count or _discard
        )
        self._hooked: set[int] = set()  # ids of the DTLS transports already hooked

    async def answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        for transceiver in self.pc.getTransceivers():
            # No decoder thread, no jitter buffer, no RTCP loop.
            transceiver.receiver.receive = _no_receive  # type: ignore[method-assign,assignment]
        if self.lenient_consent:
            watch_peer(self.pc, self.consent_states.append)
        await gather_on(self.pc, [self.address])
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._hook()
        sdp: str = self.pc.localDescription.sdp
        return sdp

    def _hook(self) -> None:
        count = self._count

        async def on_rtp(data: bytes, arrival_time_ms: int) -> None:  # the slow path, if any
            count(data)

        for transceiver in self.pc.getTransceivers():
            dtls = transceiver.receiver.transport
            if dtls is None or id(dtls) in self._hooked:
                continue
            self._hooked.add(id(dtls))
            dtls._handle_rtp_data = on_rtp  # type: ignore[method-assign]
            dtls._handle_rtcp_data = _ignore_rtcp  # type: ignore[method-assign]
            for protocol in dtls.transport._connection._protocols:
                protocol.datagram_received = _fast_receive(dtls, protocol, count)  # type: ignore[method-assign]
        # Big client buffers, so that an SFU's send bursts are never lost at the client:
        # losses must be the SFU's. The hub's own helper, for the same 4 MB.
        enlarge_receive_buffers(self.pc)

    async def close(self) -> None:
        await self.pc.close()


def _fast_receive(dtls: Any, protocol: Any, count: Callable[[bytes], None]) -> Any:
    """Wrap an aioice socket callback: SRTP packets are decrypted and counted right here."""
    original = protocol.datagram_received

    def datagram_received(data: bytes, addr: tuple[Any, ...]) -> None:
        session = dtls._rx_srtp
        if session is not None and 127 < data[0] < 192 and not 191 < data[1] < 224:
            try:
                plain = session.unprotect(data)
            except Exception:  # replayed or unauthenticated: the real receiver drops it too
                return
            count(plain)
            return
        original(data, addr)

    return datagram_received


def _discard(data: bytes) -> None:
    return None


async def wait_connected(meter: Meter, indexes: list[int], limit: float) -> None:
    """Until every subscriber in `indexes` received at least one of our packets."""
    timeout = limit
    deadline = time.monotonic() + timeout
    while any(meter.totals[i] == 0 for i in indexes):
        if time.monotonic() > deadline:
            missing = sum(1 for i in indexes if meter.totals[i] == 0)
            raise TimeoutError(f"{missing}/{len(indexes)} subscribers got no packet in {timeout} s")
        await asyncio.sleep(0.05)
