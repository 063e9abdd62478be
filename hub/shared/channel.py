"""A node's own channel in the shared state, read for good (the relay's `node:{id}`, the
bot's orders on `node:{id}:bot`): subscribed again a second after the state failed to answer,
every message handed on in order, a subscription that lost messages reported to its owner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hub.errors import SharedStateUnavailable
from hub.shared.bus import MessagesLost
from hub.shared.port import SharedState
from hub.tasks import Tasks

START_WAIT = 5.0  # for the first subscription: a node that cannot subscribe does not start
RESUBSCRIBE_AFTER = 1.0


class ChannelReader:
    """Owns the task reading `channel`: each message goes to `handle`, a loss of messages to
    `lost` (then it subscribes again). `start()` returns once subscribed (TimeoutError after
    `START_WAIT`); `close()` stops it."""

    def __init__(
        self, state: SharedState, channel: str, handle: Callable[[str], None],
        lost: Callable[[MessagesLost], None] = lambda _: None,
    ) -> None:  # fmt: skip
        self._state = state
        self._channel = channel
        self._handle = handle
        self._lost = lost
        self._subscribed = asyncio.Event()
        self._tasks = Tasks()

    async def start(self) -> None:
        self._tasks.spawn(self._read(), name=f"channel {self._channel}")
        async with asyncio.timeout(START_WAIT):
            await self._subscribed.wait()

    async def close(self) -> None:
        self._tasks.cancel()

    async def _read(self) -> None:
        while True:
            try:
                subscription = await self._state.subscribe_to(self._channel)
            except SharedStateUnavailable:
                await asyncio.sleep(RESUBSCRIBE_AFTER)
                continue
            self._subscribed.set()
            try:
                async with subscription:
                    async for text in subscription:
                        self._handle(text)
            except MessagesLost as exc:
                self._lost(exc)
