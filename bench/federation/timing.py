"""Timing hooks on Anne's sender and the guests, and the figures they measure: joins, hop, cores."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiortc import RTCRtpSender

from bench.sfu.system import BenchError, machine_cpu_seconds, own_cpu_seconds, process_cpu_seconds
from bench.sfu.system import eventually as poll
from tests.support.peer import Participant

from .clip import ClipTrack
from .hubs import Hubs

STEP_TIMEOUT = 20.0  # seconds for any one step (a frame, a leave)
HOP_LIMIT = 60.0  # seconds the hop window may last while collecting its packets
DRAIN = 0.5  # seconds after the window for its last packets to reach RB
# Seconds between two joins, so that one round's keyframe requests cannot hold back the next
# round's: an SFU sends a publisher at most one request per 300 ms (hub/sfu/forwarder.py).
PAUSE = 0.5
DIRECT, COLD, WARM = "direct on A", "through B, link opened by the join", "through B, link up"

Payloads = dict[int, float]  # payload hash -> first time.perf_counter() seen


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await poll(check, what, within=STEP_TIMEOUT, interval=0.02)


def rtp_payload(packet: bytes) -> bytes:
    """The payload of a plain RTP packet: after CSRCs and header extension, before padding."""
    start = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        start += 4 + 4 * int.from_bytes(packet[start + 2 : start + 4], "big")
    end = len(packet) - (packet[-1] if packet[0] & 0x20 else 0)
    if end < start:
        raise ValueError("RTP packet is truncated")
    return packet[start:end]


def tap_sent(sender: RTCRtpSender, sent: Payloads, recording: Callable[[], bool]) -> None:
    """Note when each RTP packet of `sender` goes to its DTLS transport (before SRTP)."""
    transport = sender.transport
    ssrc = sender._ssrc
    original = transport._send_rtp

    async def send_rtp(data: bytes) -> None:
        if recording() and int.from_bytes(data[8:12], "big") == ssrc:
            sent.setdefault(hash(rtp_payload(data)), time.perf_counter())
        await original(data)

    transport._send_rtp = send_rtp  # type: ignore[method-assign]


# -- guests ----------------------------------------------------------------------------------


class TracedParticipant(Participant):
    """peer.py's participant, which also marks (time.monotonic()) the steps of its join: the
    first message of each type, its subscribe answer, the subscribe connection up, the first
    RTP packet of each kind; and hands every received payload of a stream to its `taps`."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, name: str) -> None:
        super().__init__(ws, name)
        self.marks: dict[str, float] = {}
        self.taps: dict[tuple[str, str], Callable[[bytes, float], None]] = {}
        self._hooked: set[int] = set()
        receive = ws.receive

        async def marked(*args: Any, **kwargs: Any) -> aiohttp.WSMessage:
            message = await receive(*args, **kwargs)
            if message.type is aiohttp.WSMsgType.TEXT:
                self.mark(str(json.loads(message.data).get("type")))
            return message

        ws.receive = marked  # type: ignore[method-assign]

    def mark(self, what: str) -> None:
        if what not in self.marks:
            self.marks[what] = time.monotonic()

    async def _answer(self, offer: dict[str, Any]) -> None:
        await super()._answer(offer)
        self.mark("answered")
        pc = self.subscribe_pc
        assert pc is not None
        if id(pc) not in self._hooked:
            self._hooked.add(id(pc))

            @pc.on("connectionstatechange")
            def on_state() -> None:
                if pc.connectionState == "connected":
                    self.mark("connected")

        for transceiver in pc.getTransceivers():
            receiver = transceiver.receiver
            if transceiver.mid is not None and id(receiver) not in self._hooked:
                self._hooked.add(id(receiver))
                self._tap(receiver, transceiver.mid)

    def _tap(self, receiver: Any, mid: str) -> None:
        original = receiver._handle_rtp_packet

        async def handle(packet: Any, arrival_time_ms: int) -> None:
            now = time.perf_counter()
            owner = self._mid_owner.get(mid)  # looked up each time: the hub may reuse a mid
            if owner is not None:
                self.mark(f"first RTP {owner[1]}")
                tap = self.taps.get(owner)
                if tap is not None:
                    tap(packet.payload, now)
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle


@dataclass
class Guest:
    http: aiohttp.ClientSession
    person: TracedParticipant
    entry: float  # seconds the meeting's page took (on B it mirrors the meeting)


async def arrive(base_url: str, entry_path: str, meeting_id: str, name: str) -> Guest:
    """A new browser: its own guest session from the entry page, then the meeting's socket."""
    # unsafe=True: keep cookies from an IP-address host such as 127.0.0.1.
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        began = time.monotonic()
        async with http.get(f"{base_url}{entry_path}", headers={"Accept": "text/html"}) as page:
            await page.read()
            if page.status != 200 or not page.url.path.endswith(meeting_id):
                raise BenchError(f"GET {entry_path} answered {page.status} at {page.url}")
        entry = time.monotonic() - began
        ws_url = f"{base_url.replace('http', 'ws', 1)}/api/v1/meetings/{meeting_id}/ws"
        ws = await http.ws_connect(ws_url, max_msg_size=1 << 20)
    except BaseException:
        await http.close()
        raise
    return Guest(http, TracedParticipant(ws, name), entry)


async def leave(guest: Guest) -> None:
    """Say `leave`, close both connections and the browser's session (once)."""
    if guest.http.closed:
        return
    with contextlib.suppress(Exception):
        await guest.person.send({"type": "leave"})
    await guest.person.close()
    await guest.http.close()


# -- 1. join → first remote frame ----------------------------------------------------------


@dataclass
class JoinRound:
    path: str
    latency: float  # seconds from sending join to the first decoded frame of Anne's video
    entry: float  # seconds the meeting's page took before the WebSocket
    marks: dict[str, float]  # seconds after sending join
    links_opened: int  # "cascade link up" lines B logged during the round


@dataclass
class Joins:
    """The join rounds of every path, with what they need: the hubs, the meeting, Anne."""

    hubs: Hubs
    http: aiohttp.ClientSession
    meeting_id: str
    anne_id: str
    camera: ClipTrack
    rounds: list[JoinRound] = field(default_factory=list)
    guests: int = 0

    async def once(self, path: str) -> JoinRound:
        """One guest joins by `path`, sees Anne, leaves; back to the previous participants."""
        hubs = self.hubs
        before = await hubs.participants(self.http)
        links_before = len(hubs.log_lines(hubs.b, "cascade link up"))
        self.guests += 1
        if path == DIRECT:
            base, entry = hubs.a.base_url, f"/m/{self.meeting_id}"
        else:
            base, entry = hubs.b.base_url, f"/f/{hubs.a_name}/{self.meeting_id}"
        guest = await arrive(base, entry, self.meeting_id, f"Invité {self.guests}")
        person, key = guest.person, (self.anne_id, "video")
        wall = time.time() - time.monotonic()  # to place B's log lines on our clock
        try:
            began = time.monotonic()
            await person.join(audio=False, video=False)

            async def decoded() -> bool:
                return key in person.received.first

            await eventually(decoded, f"{path}: the first frame of Anne's video")
        finally:
            await leave(guest)

        async def back() -> bool:
            return await hubs.participants(self.http) == before

        await eventually(back, f"{path}: the hubs letting the guest (and the link) go")
        marks = {what: at - began for what, at in person.marks.items()}
        marks["decoded"] = decoded_at = person.received.first[key] - began
        asked = [t - began for t in self.camera.requests if 0 <= t - began <= decoded_at]
        for number, at in enumerate(asked, 1):
            marks[f"keyframe asked of Anne #{number}"] = at
        sent = [t - began for t in self.camera.keyframes if 0 <= t - began <= decoded_at]
        for number, at in enumerate(sent, 1):
            marks[f"Anne's keyframe sent #{number}"] = at
        ups = hubs.log_lines(hubs.b, "cascade link up")
        for up in ups[links_before:]:
            marks["link up (B's log)"] = up - wall - began
        return JoinRound(path, marks["decoded"], guest.entry, marks, len(ups) - links_before)

    async def measure(self, paths: tuple[str, ...], rounds: int) -> None:
        """One unmeasured warm-up round of each path, then `rounds` of each, alternating."""
        for path in paths:
            await self.once(path)
            await asyncio.sleep(PAUSE)
        for _ in range(rounds):
            for path in paths:
                self.rounds.append(await self.once(path))
                await asyncio.sleep(PAUSE)

    def of(self, path: str) -> list[JoinRound]:
        return [r for r in self.rounds if r.path == path]


# -- 2. the cascade hop ----------------------------------------------------------------------


@dataclass
class Cpu:
    """Cores used by each hub, this process and everything else over a window."""

    pids: tuple[int, int]
    began: tuple[float, ...] = ()
    cores: dict[str, float] = field(default_factory=dict)

    def _sample(self) -> tuple[float, ...]:
        busy, total = machine_cpu_seconds()
        hubs = tuple(process_cpu_seconds(pid) for pid in self.pids)
        return (time.perf_counter(), *hubs, own_cpu_seconds(), busy, total)

    def begin(self) -> None:
        self.began = self._sample()

    def end(self) -> None:
        now = self._sample()
        wall, a, b, own, busy, total = (x - y for x, y in zip(now, self.began, strict=True))
        machine = busy / total * (os.cpu_count() or 1) if total else 0.0
        self.cores = {
            "hub A": a / wall,
            "hub B": b / wall,
            "bench": own / wall,
            "other": max(0.0, machine - (a + b + own) / wall),
        }

    def line(self) -> str:
        text = ", ".join(f"{name} {value:.2f}" for name, value in self.cores.items())
        return text + (" ⚠ other work was running" if self.cores["other"] > 0.25 else "")


@dataclass
class Hop:
    sent: int  # of Anne's video packets sent in the window
    at_a: int  # of those, how many RA received
    at_b: int
    hop: list[float]  # seconds, t_RB − t_RA per packet both received
    one_sfu: list[float]  # t_RA − t_sent
    two_sfu: list[float]  # t_RB − t_sent
    window: float
    cpu: Cpu


async def measure_hop(
    sender: RTCRtpSender, ra: TracedParticipant, rb: TracedParticipant, anne_id: str,
    packets: int, cpu: Cpu,
) -> Hop:  # fmt: skip
    """Anne's video packets as sent and as RA and RB receive them, until `packets` of them
    reached both; a short drain after the window lets the last ones reach RB."""
    sent: Payloads = {}
    at_a: Payloads = {}
    at_b: Payloads = {}
    window = {"sending": False, "receiving": False}
    tap_sent(sender, sent, lambda: window["sending"])

    def tap(arrivals: Payloads) -> Callable[[bytes, float], None]:
        def record(payload: bytes, at: float) -> None:
            if window["receiving"]:
                arrivals.setdefault(hash(payload), at)

        return record

    key = (anne_id, "video")
    ra.taps[key], rb.taps[key] = tap(at_a), tap(at_b)
    cpu.begin()
    began = time.perf_counter()
    window["sending"] = window["receiving"] = True
    while time.perf_counter() - began < HOP_LIMIT:
        await asyncio.sleep(0.25)
        if sum(1 for h in list(sent) if h in at_a and h in at_b) >= packets:
            break
    window["sending"] = False
    duration = time.perf_counter() - began
    await asyncio.sleep(DRAIN)
    window["receiving"] = False
    cpu.end()
    both = [h for h in sent if h in at_a and h in at_b]
    return Hop(
        sent=len(sent),
        at_a=sum(1 for h in sent if h in at_a),
        at_b=sum(1 for h in sent if h in at_b),
        hop=[at_b[h] - at_a[h] for h in both],
        one_sfu=[at_a[h] - sent[h] for h in both],
        two_sfu=[at_b[h] - sent[h] for h in both],
        window=duration,
        cpu=cpu,
    )


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Results:
    """Everything one run measured, as the report reads it."""

    joins: Joins
    hop: Hop
    clip_bitrate: float  # bits/s of Anne's video over the clip
    cpu_joins: Cpu  # during the direct and cold rounds
    cpu_warm: Cpu
    started: datetime
    load: tuple[float, float, float]  # at start
    loop: str  # the event loop this process ran on
