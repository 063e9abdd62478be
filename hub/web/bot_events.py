"""Where the bridge events a hub node builds go: to the bot in this process (a hub alone), or,
with `[redis] url`, into the bot's event stream, read by whichever node runs the bot.

A meeting's events happen at its home (hub/nodes/homes.py), which alone has its conference
and so its roster; the bot runs on the node holding the lease `bot` (hub/web/bot_host.py),
often another. Every node therefore appends the bridge events it builds to the Redis stream
`bot:events`, and the bot's node reads them through the consumer group `bot`: each entry stays
pending until the bot has carried it to its room, then it is acknowledged. A holder that dies
leaves its unacknowledged entries pending; the next holder claims those first, then reads on.
The stream keeps about its last `MAX_LENGTH` entries: a bot away long enough for more to pile
up loses the oldest (they are status edits and chat lines of meetings long over).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from bridge.hub_port import BridgeEvent, Listener
from bridge.wire import event_from_json, event_to_json
from hub.errors import SharedStateUnavailable
from hub.nodes.wire import printable
from hub.shared.port import SharedState, StreamEntry

log = logging.getLogger(__name__)

STREAM = "bot:events"
GROUP = "bot"
MAX_LENGTH = 10_000
READ_WAIT_MS = 300
RETRY_AFTER = 1.0  # seconds, when Redis does not answer


async def _deliver(listeners: Sequence[Listener], event: BridgeEvent) -> bool:
    """Hand `event` to every listener and wait until each has carried it; False when one was
    stopped on the way (the bot stopped: the event is not done)."""
    results = await asyncio.gather(
        *(listener(event) for listener in listeners), return_exceptions=True
    )
    done = True
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            done = False
        elif isinstance(result, BaseException):
            log.error("bridge: a listener failed", exc_info=result)
    return done


class EventOutlet(Protocol):
    """Where `LocalHub` hands the bridge events it builds, and where the bot listens."""

    @property
    def wanted(self) -> bool: ...

    def listen(self, listener: Listener) -> Callable[[], None]: ...

    async def publish(self, events: Sequence[BridgeEvent]) -> None: ...

    async def close(self) -> None: ...


class LocalOutlet:
    """Bridge events handed straight to the listeners of this process (a hub alone)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    @property
    def wanted(self) -> bool:
        """Whether anyone would read events now (none are built for nobody)."""
        return bool(self._listeners)

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def publish(self, events: Sequence[BridgeEvent]) -> None:
        for event in events:
            await _deliver(list(self._listeners), event)

    async def close(self) -> None:
        return None


class StreamOutlet:
    """The bot's event stream in the shared state: `publish` appends (on every node, whether
    or not its bot runs); `listen` reads it as consumer `node` of the group while the listener
    is registered (the bot runs here). Owns the reading task; `close()` stops it."""

    def __init__(self, state: SharedState, node: str) -> None:
        self._state = state
        self._node = node
        self._listeners: list[Listener] = []
        self._reader: asyncio.Task[None] | None = None

    @property
    def wanted(self) -> bool:
        return True  # the bot may run on another node, or start here later

    async def publish(self, events: Sequence[BridgeEvent]) -> None:
        for event in events:
            text = json.dumps(event_to_json(event), separators=(",", ":"))
            try:
                await self._state.stream_add(STREAM, text, MAX_LENGTH)
            except SharedStateUnavailable:  # the outage is logged by the state
                log.warning("bridge: a %s was not kept for the bot", type(event).__name__)

    def listen(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(
                self._read(), name="bot-event-stream"
            )

        def unlisten() -> None:
            self._listeners.remove(listener)
            if not self._listeners and self._reader is not None:
                self._reader.cancel()  # nothing more is read, so nothing more acknowledged
                self._reader = None

        return unlisten

    async def close(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self) -> None:
        """What a previous reader left pending first, then new entries, for good."""
        while True:
            try:
                await self._state.stream_group(STREAM, GROUP)
                left = await self._state.stream_claim(STREAM, GROUP, self._node)
                if left:
                    log.info("bridge: %d event(s) a previous bot left are carried now", len(left))
                fresh = left
                while await self._carry(fresh):
                    fresh = await self._state.stream_read(STREAM, GROUP, self._node, READ_WAIT_MS)
                return  # the bot stopped here: what it had not carried stays pending
            except SharedStateUnavailable:
                await asyncio.sleep(RETRY_AFTER)  # then claim again what stayed pending

    async def _carry(self, entries: list[StreamEntry]) -> bool:
        """Each entry carried to the bot, then acknowledged; False when the bot stopped."""
        for entry in entries:
            try:
                event = event_from_json(json.loads(entry.text))
            except (ValueError, RecursionError) as exc:  # not one of ours: said once, then dropped
                log.warning("bridge: a stream entry refused: %s", printable(str(exc)))
            else:
                if not await _deliver(list(self._listeners), event):
                    return False
            await self._state.stream_ack(STREAM, GROUP, entry.id)
        return True
