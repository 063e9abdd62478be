"""`MemoryState`: the shared state of a hub that runs alone, in this process's memory.

The embedded default, behaving as the hub did before Redis: rate-limit windows are deques,
claims are remembered until they expire, leases are held against this process only. Memory
is bounded: windows of idle clients are dropped once past `MAX_KEYS`, and when `MAX_CLAIMS`
unexpired claims are held a new one is refused (FULL) rather than an unexpired one forgotten
(forgetting a nonce would let its request be replayed).
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable

from hub.shared.bus import LocalFanOut, Subscription
from hub.shared.port import Claim, ClaimVerdict, SharedState

MAX_KEYS = 10_000
MAX_CLAIMS = 100_000

Clock = Callable[[], float]  # seconds, never going back (time.monotonic)


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
