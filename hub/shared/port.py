"""The shared-state port: what hub nodes share through Redis, or keep in memory when alone.

Exactly what step 3 of docs/scale-out.md needs: sliding-window counts (rate limits), one-time
claims with an expiry (federation nonces, spent OIDC states), leases with a fencing token
(one node runs the bot and the partner links), and a live message bus per meeting. Two
implementations: `MemoryState` (one process, the default) and `RedisState` (`[redis] url`).
Every method raises `SharedStateUnavailable` (503) when the store cannot answer.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass

from hub.ids import MeetingId
from hub.shared.bus import Subscription


class ClaimVerdict(enum.Enum):
    FRESH = "fresh"  # nobody held the key: it is ours until it expires
    TAKEN = "taken"  # already claimed and not expired: refuse (a replay)
    FULL = "full"  # the in-memory store is at its bound: refuse, retry later


@dataclass(frozen=True)
class Claim:
    verdict: ClaimVerdict
    retry_after_ms: int = 0  # when FULL: until the oldest claim expires


class SharedState(ABC):
    """Owns the connection to the shared store (or the memory standing in for it); `start()`
    checks that it answers (StartupError otherwise), `close()` lets it go."""

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for logs: never a password."""

    @abstractmethod
    async def start(self) -> None:
        """Check the store answers; StartupError with one line for the operator if not."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections and end every subscription."""

    @abstractmethod
    async def window(self, key: str, limit: int, window_ms: int, *, count: bool) -> int:
        """Sliding window of `limit` events per `window_ms` for `key`: 0 when one more is
        allowed (and counted, if `count`), else the milliseconds until the oldest leaves."""

    @abstractmethod
    async def claim(self, key: str, ttl_ms: int) -> Claim:
        """Take `key` for `ttl_ms` if nobody holds it (SET NX PX)."""

    @abstractmethod
    async def lease_acquire(self, name: str, token: str, ttl_ms: int) -> bool:
        """Hold lease `name` with `token` for `ttl_ms` if nobody holds it."""

    @abstractmethod
    async def lease_renew(self, name: str, token: str, ttl_ms: int) -> bool:
        """Extend lease `name` to `ttl_ms` from now only if `token` still holds it."""

    @abstractmethod
    async def lease_release(self, name: str, token: str) -> None:
        """Let lease `name` go, only if `token` still holds it."""

    @abstractmethod
    async def lease_holder(self, name: str) -> str | None:
        """The token holding lease `name` now (None if nobody does): whose it is."""

    @abstractmethod
    async def publish_on(self, channel: str, message: str) -> int:
        """Send `message` on `channel` (at most once); how many subscribers got it (with
        Redis: subscribed connections, one per node; 0 means nobody listens there)."""

    @abstractmethod
    async def subscribe_to(self, channel: str) -> Subscription:
        """The messages published on `channel` from now on, on this node."""

    async def publish(self, meeting: MeetingId, message: str) -> None:
        """Send `message` to the meeting's subscribers on every node (at most once)."""
        await self.publish_on(channel(meeting), message)

    async def subscribe(self, meeting: MeetingId) -> Subscription:
        """The meeting's messages published from now on, on this node."""
        return await self.subscribe_to(channel(meeting))


def channel(meeting: MeetingId) -> str:
    """The pub/sub channel of a meeting's live messages."""
    return f"meeting:{meeting}"


def node_channel(node: str) -> str:
    """The pub/sub channel of what is addressed to one hub node (hub/web/relay.py)."""
    return f"node:{node}"
