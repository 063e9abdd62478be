"""Per-client request limits (login, lobby knocks, meeting creation), answered with 429.

A sliding window per (action, client address) kept in memory: enough for one hub process,
and cheap (one deque per active client). Entries of idle clients are dropped as they expire.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from hub.errors import TooManyRequests

Clock = Callable[[], float]


class RateLimiter:
    """Allows `limit` events per `window` seconds for each key; the next one is refused."""

    def __init__(self, action: str, limit: int, window: float, clock: Clock = time.monotonic):
        self.action = action
        self.limit = limit
        self.window = window
        self._clock = clock
        self._events: dict[str, deque[float]] = {}

    def check(self, key: str) -> None:
        """Raise TooManyRequests if `key` has used up its events, without counting one."""
        events = self._events.get(key)
        if events is None:
            return
        now = self._clock()
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            retry_after = max(1, math.ceil(events[0] + self.window - now))
            raise TooManyRequests(
                f"Trop de tentatives ({self.action}) ; réessayez dans {retry_after} s / "
                f"Too many attempts ({self.action}); try again in {retry_after} s",
                retry_after=retry_after,
            )

    def hit(self, key: str) -> None:
        """Count one event for `key`, or raise TooManyRequests with the seconds to wait."""
        self._events.setdefault(key, deque())
        self.check(key)
        now = self._clock()
        self._events[key].append(now)
        if len(self._events) > 10_000:  # forget clients whose window has passed
            stale = [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]
            for k in stale:
                del self._events[k]


class RateLimits:
    """The hub's limits, built from config.limits; keyed by client address."""

    def __init__(self, login_per_minute: int, lobby_per_minute: int, meetings_per_hour: int):
        self.login = RateLimiter("login", login_per_minute, 60)
        self.lobby = RateLimiter("lobby", lobby_per_minute, 60)
        self.create_meeting = RateLimiter("meeting creation", meetings_per_hour, 3600)
