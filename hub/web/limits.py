"""Per-client request limits (login, lobby knocks, meeting creation), answered with 429.

A sliding window per (action, client address), kept by the shared state: in this process's
memory when the hub runs alone, in Redis when several nodes share the count (hub/shared/).
"""

from __future__ import annotations

import math

from hub.errors import TooManyRequests
from hub.i18n import Text
from hub.shared.port import SharedState


class RateLimiter:
    """Allows `limit` events per `window` seconds for each key; the next one is refused."""

    def __init__(self, state: SharedState, action: str, limit: int, window: float) -> None:
        self.action = action
        self.limit = limit
        self.window = window
        self._state = state
        self._window_ms = round(window * 1000)

    async def check(self, key: str) -> None:
        """Raise TooManyRequests if `key` has used up its events, without counting one."""
        self._refuse_after(await self._ask(key, count=False))

    async def hit(self, key: str) -> None:
        """Count one event for `key`, or raise TooManyRequests with the seconds to wait."""
        self._refuse_after(await self._ask(key, count=True))

    async def _ask(self, key: str, *, count: bool) -> int:
        return await self._state.window(
            f"{self.action}:{key}", self.limit, self._window_ms, count=count
        )

    def _refuse_after(self, wait_ms: int) -> None:
        if wait_ms <= 0:
            return
        retry_after = max(1, math.ceil(wait_ms / 1000))
        raise TooManyRequests(
            text=Text("error.too_many", {"action": self.action, "seconds": str(retry_after)}),
            retry_after=retry_after,
        )


class RateLimits:
    """The hub's limits, built from config.limits; keyed by client address."""

    def __init__(
        self,
        state: SharedState,
        *,
        login_per_minute: int,
        lobby_per_minute: int,
        meetings_per_hour: int,
    ) -> None:
        self.login = RateLimiter(state, "login", login_per_minute, 60)
        self.lobby = RateLimiter(state, "lobby", lobby_per_minute, 60)
        self.create_meeting = RateLimiter(state, "meeting creation", meetings_per_hour, 3600)
