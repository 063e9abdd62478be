"""Local delivery of a meeting's live messages to the subscriptions of this process.

Both shared-state implementations fan out through `LocalFanOut`: in memory, `publish` hands
the message straight to it; with Redis, one pub/sub connection per node feeds it. Delivery
is at most once: a subscription that falls `MAX_PENDING` messages behind, or whose node lost
its Redis connection, ends with `MessagesLost`, and its owner subscribes again and asks for
a snapshot instead of trusting a stream with holes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

MAX_PENDING = 1000


class MessagesLost(Exception):
    """Messages of this subscription were dropped: subscribe again and ask for a snapshot."""


class Subscription:
    """Messages published on one channel since it was made, in order; `async for` them.
    Made by `SharedState.subscribe`; `close()` (or leaving `async with`) ends it."""

    def __init__(self, channel: str, on_close: Callable[[Subscription], Awaitable[None]]):
        self.channel = channel
        self._on_close = on_close
        self._pending: deque[str] = deque()
        self._ready = asyncio.Event()
        self._end: BaseException | None = None
        self._closed = False

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        while not self._pending:
            if self._end is not None:
                raise self._end
            self._ready.clear()
            await self._ready.wait()
        return self._pending.popleft()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Unregistered once, even after it lost messages (`lose` ended it already)."""
        if self._end is None:
            self._finish(StopAsyncIteration())
        if not self._closed:
            self._closed = True
            await self._on_close(self)

    def deliver(self, message: str) -> None:
        if self._end is not None:
            return
        if len(self._pending) >= MAX_PENDING:
            self.lose(f"{self.channel}: fell {MAX_PENDING} messages behind")
            return
        self._pending.append(message)
        self._ready.set()

    def lose(self, reason: str) -> None:
        """End it with MessagesLost: its owner must subscribe again and resynchronise."""
        if self._end is None:
            self._finish(MessagesLost(reason))

    def _finish(self, end: BaseException) -> None:
        self._end = end
        self._ready.set()


class LocalFanOut:
    """The open subscriptions of this process, by channel; owned by one shared state."""

    def __init__(self) -> None:
        self._by_channel: dict[str, set[Subscription]] = {}

    def add(self, subscription: Subscription) -> bool:
        """Register it; True when it is its channel's first (the channel must be joined)."""
        subscribers = self._by_channel.setdefault(subscription.channel, set())
        subscribers.add(subscription)
        return len(subscribers) == 1

    def remove(self, subscription: Subscription) -> bool:
        """Forget it; True when it was its channel's last (the channel may be left)."""
        subscribers = self._by_channel.get(subscription.channel)
        if subscribers is None or subscription not in subscribers:
            return False
        subscribers.discard(subscription)
        if subscribers:
            return False
        del self._by_channel[subscription.channel]
        return True

    def deliver(self, channel: str, message: str) -> int:
        """Hand `message` to the channel's subscriptions; how many there were."""
        subscriptions = tuple(self._by_channel.get(channel, ()))
        for subscription in subscriptions:
            subscription.deliver(message)
        return len(subscriptions)

    def lose_all(self, reason: str) -> None:
        """End every subscription with MessagesLost (the node's link to the others broke)."""
        subscriptions = [s for group in self._by_channel.values() for s in group]
        self._by_channel.clear()
        for subscription in subscriptions:
            subscription.lose(reason)
