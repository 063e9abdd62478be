"""The shared-state port: what hub nodes share through Redis, or keep in memory when alone.

Exactly what step 3 of docs/scale-out.md needs: sliding-window counts (rate limits), one-time
claims with an expiry (federation nonces, spent OIDC states), leases with a fencing token
(one node runs the bot and the partner links), a live message bus per meeting, a stream
read by one consumer group (the bot's events, kept until acknowledged), and hashes (the Matrix
rooms' rosters the bot writes and every node's admissions read). Two
implementations: `MemoryState` (one process, the default) and `RedisState` (`[redis] url`).
Every method raises `SharedStateUnavailable` (503) when the store cannot answer.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from hub.ids import MeetingId
from hub.shared.bus import Subscription


class ClaimVerdict(enum.Enum):
    FRESH = "fresh"  # nobody held the key: it is ours until it expires
    TAKEN = "taken"  # already claimed and not expired: refuse (a replay)
    FULL = "full"  # the in-memory store is at its bound: refuse, retry later


@dataclass(frozen=True)
class StreamEntry:
    """One entry of a stream read by a consumer group: its id (to acknowledge) and text."""

    id: str
    text: str


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

    @abstractmethod
    async def stream_add(self, stream: str, text: str, max_length: int) -> None:
        """Append `text` to `stream`, which keeps about its last `max_length` entries (the
        oldest go, read or not)."""

    @abstractmethod
    async def stream_group(self, stream: str, group: str) -> None:
        """Make consumer group `group` of `stream` (and the stream) if missing; a new group
        reads from the stream's first entry."""

    @abstractmethod
    async def stream_claim(self, stream: str, group: str, consumer: str) -> list[StreamEntry]:
        """Every entry of the group delivered to any consumer and not acknowledged, now
        `consumer`'s, oldest first: what a previous reader left (it died or stopped)."""

    @abstractmethod
    async def stream_read(
        self, stream: str, group: str, consumer: str, wait_ms: int
    ) -> list[StreamEntry]:
        """Entries the group has not been given yet, for `consumer`, oldest first; waits up
        to `wait_ms` for one. Each stays pending until `stream_ack`."""

    @abstractmethod
    async def stream_ack(self, stream: str, group: str, entry: str) -> None:
        """The group handled `entry`: it is no longer pending."""

    @abstractmethod
    async def hash_replace(self, key: str, values: Mapping[str, str]) -> None:
        """Make hash `key` hold exactly `values` (none: gone), at once for every reader."""

    @abstractmethod
    async def hash_get(self, key: str, field: str) -> str | None:
        """One field of hash `key` (None: no such field or hash)."""

    @abstractmethod
    async def hash_fields(self, key: str) -> list[str]:
        """The fields of hash `key` (none if it does not exist)."""

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
