"""`MemoryState`: the shared state of a hub that runs alone, in this process's memory.

The embedded default, behaving as the hub did before Redis: rate-limit windows are deques,
claims are remembered until they expire, leases are held against this process only. Memory
is bounded: windows of idle clients are dropped once past `MAX_KEYS`, and when `MAX_CLAIMS`
unexpired claims are held a new one is refused (FULL) rather than an unexpired one forgotten
(forgetting a nonce would let its request be replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Mapping

from hub.shared.bus import LocalFanOut, Subscription
from hub.shared.port import Claim, ClaimVerdict, SharedState, StreamEntry

MAX_KEYS = 10_000
MAX_CLAIMS = 100_000

Clock = Callable[[], float]  # seconds, never going back (time.monotonic)


class _Stream:
    """A stream's entries (number, text), its groups' next number to deliver and their
    pending entries, and an event set on each append."""

    def __init__(self) -> None:
        self.entries: deque[tuple[int, str]] = deque()
        self.added = 0
        self.next: dict[str, int] = {}
        self.pending: dict[str, dict[int, str]] = {}
        self.arrived = asyncio.Event()


class MemoryState(SharedState):
    """Owns the windows, claims, leases and subscriptions of one process; nothing to open."""

    def __init__(self, clock: Clock = time.monotonic, *, max_claims: int = MAX_CLAIMS) -> None:
        self._clock = clock
        self._max_claims = max_claims
        self._windows: dict[str, deque[int]] = {}
        self._lengths: dict[str, int] = {}  # each window key's own length (ms)
        self._claims: dict[str, int] = {}
        self._claim_expiry: list[tuple[int, str]] = []  # heap: the next to expire first
        self._leases: dict[str, tuple[str, int]] = {}
        self._fanout = LocalFanOut()
        self._streams: dict[str, _Stream] = {}
        self._hashes: dict[str, dict[str, str]] = {}

    def describe(self) -> str:
        return "in-memory"

    def _now_ms(self) -> int:
        return math.floor(self._clock() * 1000)

    async def start(self) -> None:
        return None  # nothing to reach

    async def close(self) -> None:
        self._fanout.lose_all("the shared state was closed")

    async def window(self, key: str, limit: int, window_ms: int, *, count: bool) -> int:
        now = self._now_ms()
        events = self._windows.get(key)
        if events is None:
            if not count:
                return 0
            events = self._windows[key] = deque()
            self._lengths[key] = window_ms
        while events and events[0] <= now - window_ms:
            events.popleft()
        if len(events) >= limit:
            return max(1, events[0] + window_ms - now)
        if count:
            events.append(now)
            if len(self._windows) > MAX_KEYS:
                self._forget_idle(now)
        return 0

    def _forget_idle(self, now: int) -> None:
        """Drop the keys idle for their own window (a login's minute must not end a meeting
        creation's hour)."""
        stale = [k for k, v in self._windows.items() if not v or v[-1] <= now - self._lengths[k]]
        for key in stale:
            del self._windows[key]
            self._lengths.pop(key, None)

    async def claim(self, key: str, ttl_ms: int) -> Claim:
        now = self._now_ms()
        while self._claim_expiry and self._claim_expiry[0][0] <= now:
            _, expired = heapq.heappop(self._claim_expiry)
            del self._claims[expired]
        if key in self._claims:
            return Claim(ClaimVerdict.TAKEN)
        if len(self._claims) >= self._max_claims:
            return Claim(ClaimVerdict.FULL, max(1, self._claim_expiry[0][0] - now))
        expires = now + ttl_ms
        self._claims[key] = expires
        heapq.heappush(self._claim_expiry, (expires, key))
        return Claim(ClaimVerdict.FRESH)

    def _holder(self, name: str) -> str | None:
        held = self._leases.get(name)
        if held is None or held[1] <= self._now_ms():
            return None
        return held[0]

    async def lease_acquire(self, name: str, token: str, ttl_ms: int) -> bool:
        if self._holder(name) is not None:
            return False
        self._leases[name] = (token, self._now_ms() + ttl_ms)
        return True

    async def lease_renew(self, name: str, token: str, ttl_ms: int) -> bool:
        if self._holder(name) != token:
            return False
        self._leases[name] = (token, self._now_ms() + ttl_ms)
        return True

    async def lease_release(self, name: str, token: str) -> None:
        if self._holder(name) == token:
            del self._leases[name]

    async def lease_holder(self, name: str) -> str | None:
        return self._holder(name)

    async def publish_on(self, channel: str, message: str) -> int:
        return self._fanout.deliver(channel, message)

    async def subscribe_to(self, channel: str) -> Subscription:
        subscription = Subscription(channel, self._unsubscribe)
        self._fanout.add(subscription)
        return subscription

    async def _unsubscribe(self, subscription: Subscription) -> None:
        self._fanout.remove(subscription)

    def _stream(self, name: str) -> _Stream:
        return self._streams.setdefault(name, _Stream())

    async def stream_add(self, stream: str, text: str, max_length: int) -> None:
        kept = self._stream(stream)
        kept.added += 1
        kept.entries.append((kept.added, text))
        while len(kept.entries) > max_length:
            kept.entries.popleft()
        kept.arrived.set()

    async def stream_group(self, stream: str, group: str) -> None:
        kept = self._stream(stream)
        kept.next.setdefault(group, 1)
        kept.pending.setdefault(group, {})

    async def stream_claim(self, stream: str, group: str, consumer: str) -> list[StreamEntry]:
        pending = self._stream(stream).pending.get(group, {})
        return [StreamEntry(str(number), pending[number]) for number in sorted(pending)]

    async def stream_read(
        self, stream: str, group: str, consumer: str, wait_ms: int
    ) -> list[StreamEntry]:
        kept = self._stream(stream)
        await self.stream_group(stream, group)
        fresh = [(n, text) for n, text in kept.entries if n >= kept.next[group]]
        if not fresh:
            kept.arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_ms / 1000):
                    await kept.arrived.wait()
            fresh = [(n, text) for n, text in kept.entries if n >= kept.next[group]]
        if fresh:
            kept.next[group] = fresh[-1][0] + 1
            kept.pending[group].update(fresh)
        return [StreamEntry(str(number), text) for number, text in fresh]

    async def stream_ack(self, stream: str, group: str, entry: str) -> None:
        self._stream(stream).pending.get(group, {}).pop(int(entry), None)

    async def hash_replace(self, key: str, values: Mapping[str, str]) -> None:
        if values:
            self._hashes[key] = dict(values)
        else:
            self._hashes.pop(key, None)

    async def hash_get(self, key: str, field: str) -> str | None:
        return self._hashes.get(key, {}).get(field)

    async def hash_fields(self, key: str) -> list[str]:
        return list(self._hashes.get(key, ()))
