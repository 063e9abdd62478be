"""The measured cases, run the same way against either SFU.

A `Target` connects the one injecting publisher and adds counting subscribers; everything else
(windows, CPU accounting, the stress ladder) is shared, so the hub and Janus get the very same
load from the very same client process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench.sfu import hub as hubapi
from bench.sfu import janus as janusapi
from bench.sfu.media import (
    CountingSubscriber,
    InjectingPublisher,
    Meter,
    percentile,
    wait_connected,
)
from bench.sfu.system import BenchError, CpuWindow, udp_drops

LOSS_LIMIT = 0.005  # < 0.5 % loss counts as "forwarded"
JOIN_CONCURRENCY = 6
CONNECT_TIMEOUT = 40.0


@dataclass(frozen=True)
class Plan:
    """Durations and sizes; `quick()` fits in about three minutes for both SFUs."""

    video_subscribers: tuple[int, ...] = (3, 10, 30)
    stress_subscribers: int = 10
    window: float = 8.0  # seconds of a video measurement window
    settle: float = 2.0  # seconds after a change before measuring
    stress_window: float = 3.0
    stress_settle: float = 1.0
    stress_start: float = 500.0  # inbound packets/s of the first step
    stress_factor: float = 1.5
    stress_max_rate: float = 20_000.0
    stress_max_steps: int = 12
    stress_refine: int = 2  # bisection steps after the first failing rate
    profile_window: float = 8.0
    joins: int = 3
    # A window during which other processes used more than this many cores is measured
    # again (at most `retries` times); the least disturbed attempt is kept and flagged.
    max_other_cores: float = 0.25
    retries: int = 2

    @classmethod
    def quick(cls) -> Plan:
        return cls(window=4.0, settle=1.5, stress_window=2.0, stress_settle=0.8,
                   stress_start=1000.0, stress_factor=1.7, stress_max_steps=7,
                   stress_refine=1, profile_window=5.0, joins=1, retries=1)  # fmt: skip


class Target(ABC):
    """One SFU as the benchmark sees it."""

    name: str
    pid: int

    def __init__(self, address: str, meter: Meter) -> None:
        self.address = address
        self.meter = meter
        self.subscribers: list[CountingSubscriber] = []

    @abstractmethod
    async def connect_publisher(self, publisher: InjectingPublisher) -> None: ...

    @abstractmethod
    async def _add_subscriber(self) -> CountingSubscriber: ...

    async def add_subscribers(self, count: int) -> list[int]:
        """`count` more subscribers, joined a few at a time; returns their meter indexes."""
        gate = asyncio.Semaphore(JOIN_CONCURRENCY)

        async def one() -> CountingSubscriber:
            async with gate:
                return await self._add_subscriber()

        added = await asyncio.gather(*(one() for _ in range(count)))
        self.subscribers += added
        indexes = [s.index for s in added]
        await wait_connected(self.meter, indexes, CONNECT_TIMEOUT)
        return indexes

    @abstractmethod
    async def close_subscribers(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    def diagnostics(self) -> dict[str, Any]:
        return {}


class HubTarget(Target):
    name = "hub"

    def __init__(self, server: hubapi.HubServer, address: str, meter: Meter) -> None:
        super().__init__(address, meter)
        self.server = server
        self.pid = server.pid
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.meeting_id = ""
        self.chromium = True  # also time joins in Chromium (after the measured cases)
        self.publisher_socket: hubapi.HubParticipant | None = None
        self.sockets: list[hubapi.HubParticipant] = []
        self._sink: list[CountingSubscriber] = []  # what the hub offers the publisher

    async def connect_publisher(self, publisher: InjectingPublisher) -> None:
        self.meeting_id = await hubapi.create_meeting(self.http, self.server.base_url)

        async def sink(offer: dict[str, Any]) -> str:  # e.g. Chromium's camera, not measured
            if not self._sink or offer.get("restart"):
                self._sink.append(CountingSubscriber(self.address, None))
            return await self._sink[-1].answer(offer["sdp"])

        self.publisher_socket = hubapi.HubParticipant(
            self.http, self.server.base_url, self.meeting_id, "publisher", sink
        )
        await self.publisher_socket.join()
        answer = await self.publisher_socket.publish(await publisher.offer(), publisher.mid)
        await publisher.accept(answer)

    async def _add_subscriber(self) -> CountingSubscriber:
        subscriber = CountingSubscriber(self.address, self.meter)

        async def on_offer(offer: dict[str, Any]) -> str:
            if offer.get("restart"):
                raise BenchError("hub restarted a subscriber connection during the benchmark")
            return await subscriber.answer(offer["sdp"])

        socket = hubapi.HubParticipant(
            self.http, self.server.base_url, self.meeting_id, f"sub{subscriber.index}", on_offer
        )
        self.sockets.append(socket)
        await socket.join()
        return subscriber

    async def close_subscribers(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        await asyncio.gather(*(s.close() for s in self.subscribers), return_exceptions=True)
        self.sockets, self.subscribers = [], []

    async def close(self) -> None:
        await self.close_subscribers()
        if self.publisher_socket is not None:
            await self.publisher_socket.close()
        await asyncio.gather(*(s.close() for s in self._sink), return_exceptions=True)
        await self.http.close()

    async def metrics(self) -> dict[str, float]:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            return await hubapi.metrics(self.http, self.server.base_url)
        return {}

    def diagnostics(self) -> dict[str, Any]:
        errors = [e for s in [self.publisher_socket, *self.sockets] if s for e in s.errors]
        return {"signaling_errors": errors[:10]}


class JanusTarget(Target):
    name = "janus"

    def __init__(self, server: janusapi.JanusServer, address: str, meter: Meter) -> None:
        super().__init__(address, meter)
        self.server = server
        self.pid = server.pid
        self.http = aiohttp.ClientSession()
        self.session = janusapi.JanusSession(self.http, server.base_url)
        self.room = 0
        self.feed = 0
        self.handles: list[int] = []

    async def connect_publisher(self, publisher: InjectingPublisher) -> None:
        await self.session.create()
        admin = await self.session.attach()
        self.room = await janusapi.create_room(self.session, admin)
        handle = await self.session.attach()
        self.feed, answer = await janusapi.publish(
            self.session, handle, self.room, await publisher.offer()
        )
        await publisher.accept(answer)
        await self.session.wait_up(handle)

    async def _add_subscriber(self) -> CountingSubscriber:
        subscriber = CountingSubscriber(self.address, self.meter)
        handle = await self.session.attach()
        self.handles.append(handle)
        offer = await janusapi.subscribe_offer(self.session, handle, self.room, self.feed)
        answer = await subscriber.answer(offer)
        await janusapi.subscribe_start(self.session, handle, self.room, answer)
        return subscriber

    async def close_subscribers(self) -> None:
        await asyncio.gather(*(s.close() for s in self.subscribers), return_exceptions=True)
        self.subscribers = []

    async def close(self) -> None:
        await self.close_subscribers()
        await self.session.close()
        await self.http.close()

    def diagnostics(self) -> dict[str, Any]:
        return {"janus_events": dict(self.session.events)}


# -- measuring -------------------------------------------------------------------------------


async def _loop_lag(lags: list[float], period: float = 0.005) -> None:
    """How late this (client) event loop wakes up: its own stalls inflate latency too."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - before - period)


async def measure(target: Target, window: float, drain: float = 0.6) -> dict[str, Any]:
    """One window: packets sent in it, what every subscriber got of them, CPU, latency."""
    meter = target.meter
    indexes = [s.index for s in target.subscribers]
    cpu = CpuWindow(target.pid)
    pids = (target.pid, os.getpid())
    drops_before = udp_drops(pids)
    lags: list[float] = []
    lag_task = asyncio.get_running_loop().create_task(_loop_lag(lags))
    cpu.begin()
    meter.open()
    await asyncio.sleep(window)
    meter.close()
    cpu.end()
    lag_task.cancel()
    await asyncio.sleep(drain)  # packets sent before the window closed, still on their way
    sfu_drops, client_drops = (b - a for a, b in zip(drops_before, udp_drops(pids), strict=True))
    received = sum(meter.counts[i] for i in indexes)
    expected = meter.sent * len(indexes)
    latencies = sorted(meter.latencies)
    usage = cpu.summary()
    return {
        "subscribers": len(indexes),
        "sent": meter.sent,
        "sent_pps": round(meter.sent / cpu.wall, 1),
        "forwarded": received,
        "forwarded_pps": round(received / cpu.wall, 1),
        "loss_pct": round(100 * (1 - received / expected), 3) if expected else None,
        "worst_subscriber_loss_pct": round(
            100 * max((1 - meter.counts[i] / meter.sent for i in indexes), default=0.0), 3
        )
        if meter.sent
        else None,
        "cpu_us_per_packet": round(cpu.sfu / received * 1e6, 2) if received else None,
        "forwarded_pps_per_core": round(received / cpu.sfu, 0) if cpu.sfu > 0 else None,
        "latency_p50_ms": round(percentile(latencies, 0.50) / 1e6, 3),
        "latency_p99_ms": round(percentile(latencies, 0.99) / 1e6, 3),
        "latency_max_ms": round(latencies[-1] / 1e6, 3) if latencies else None,
        "foreign_packets": meter.foreign,
        "client_loop_lag_max_ms": round(max(lags, default=0.0) * 1000, 2),
        # Datagrams dropped by full socket receive buffers, the SFU's and the client's.
        "sfu_udp_drops": sfu_drops,
        "client_udp_drops": client_drops,
        **usage,
    }


async def measure_undisturbed(target: Target, window: float, plan: Plan) -> dict[str, Any]:
    """`measure`, again while other processes (another test run...) took CPU meanwhile."""
    best: dict[str, Any] | None = None
    for attempt in range(1 + plan.retries):
        result = await measure(target, window)
        result["attempts"] = attempt + 1
        if best is None or result["other_cores"] < best["other_cores"]:
            best = result
        if result["other_cores"] <= plan.max_other_cores:
            break
        _say(target, f"  other processes used {result['other_cores']:.2f} cores: measuring again")
    assert best is not None
    best["disturbed"] = best["other_cores"] > plan.max_other_cores
    return best


def _say(target: Target, text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {target.name}: {text}", flush=True)


async def video_cases(
    target: Target,
    publisher: InjectingPublisher,
    plan: Plan,
    after: Callable[[int], Awaitable[None]] | None = None,
    results: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """1 publisher (the VP8 clip) to each subscriber count of the plan, growing one set.

    `after(count)` runs right after the measurement with `count` subscribers (profiling,
    the stress ladder), while those subscribers are connected. Results go into `results`
    as they come.
    """
    results = {} if results is None else results
    for count in plan.video_subscribers:
        publisher.play_clip()
        missing = count - len(target.subscribers)
        if missing > 0:
            _say(target, f"adding {missing} subscribers (total {count})")
            started = time.monotonic()
            await target.add_subscribers(missing)
            _say(target, f"  all connected in {time.monotonic() - started:.1f} s")
        await asyncio.sleep(plan.settle)
        result = await measure_undisturbed(target, plan.window, plan)
        result["keyframe_requests_total"] = publisher.keyframe_requests
        results[str(count)] = result
        _say(target, f"  video 1→{count}: {_line(result)}")
        if after is not None:
            await after(count)
    return results


async def stress_ladder(
    target: Target, publisher: InjectingPublisher, plan: Plan
) -> dict[str, Any]:
    """Synthetic ~1100-byte packets at rising rates to the connected subscribers, until loss
    reaches 0.5 %; then a few bisection steps between the last good and first bad rate."""
    steps: list[dict[str, Any]] = []

    async def step(rate: float) -> bool:
        publisher.play_synthetic(rate)
        await asyncio.sleep(plan.stress_settle)
        result = await measure_undisturbed(target, plan.stress_window, plan)
        result["rate"] = round(rate)
        steps.append(result)
        _say(target, f"  stress {rate:.0f} pkt/s in: {_line(result)}")
        return result["loss_pct"] is not None and result["loss_pct"] < 100 * LOSS_LIMIT

    good: float | None = None
    bad: float | None = None
    rate = plan.stress_start
    for _ in range(plan.stress_max_steps):
        if rate > plan.stress_max_rate:
            break
        if await step(rate):
            good = rate
            rate *= plan.stress_factor
        else:
            bad = rate
            break
    if good is not None and bad is not None:
        for _ in range(plan.stress_refine):
            middle = (good + bad) / 2
            if await step(middle):
                good = middle
            else:
                bad = middle
    publisher.play_clip()
    await asyncio.sleep(plan.settle)
    passing = [s for s in steps if s["loss_pct"] is not None and s["loss_pct"] < 100 * LOSS_LIMIT]
    best = max(passing, key=lambda s: s["forwarded_pps"], default=None)
    first_bad = min((s for s in steps if s not in passing), key=lambda s: s["rate"], default=None)
    return {
        "subscribers": len(target.subscribers),
        "packet_bytes": 1100,
        "loss_limit_pct": 100 * LOSS_LIMIT,
        "steps": steps,
        "best": best,
        "first_failing_rate": first_bad["rate"] if first_bad else None,
        "limited_by": _limit(first_bad) if first_bad else "not reached (ladder ended)",
    }


def _limit(step: dict[str, Any]) -> str:
    """Where the packets were lost at the first failing step, and who was short of CPU."""
    sfu, client = step["sfu_udp_drops"], step["client_udp_drops"]
    if sfu or client:
        parts = [f"socket buffers overflowed (SFU {sfu}, client {client} datagrams)"]
    else:
        parts = ["no socket overflow: lost or late (> drain) inside the SFU"]
    if step["machine_busy_cores"] >= 1.85:
        parts.append("both cores busy")
    if step["client_cores"] >= 0.9:
        parts.append("client at a full core")
    return "; ".join(parts)


def _line(result: dict[str, Any]) -> str:
    return (
        f"fwd {result['forwarded_pps']:.0f}/s loss {result['loss_pct']}% "
        f"cpu {result['cpu_us_per_packet']} µs/pkt (sfu {result['sfu_cores']:.2f} cores, "
        f"client {result['client_cores']:.2f}, other {result['other_cores']:.2f}) "
        f"lat p50 {result['latency_p50_ms']} p99 {result['latency_p99_ms']} ms"
    )
