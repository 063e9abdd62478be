"""The bot's event stream (hub/web/bot_events.py) on a real Redis: what one node appends, the
node running the bot reads; an event its bot had not carried when it stopped is carried by the
next reader, and nothing it had carried is carried again; an entry that is not an event is
refused in one line and dropped; the stream keeps about its last `MAX_LENGTH` entries."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bridge.hub_port import BridgeEvent, ChatFromMeeting
from hub.shared.redis_state import RedisState
from hub.web.bot_events import GROUP, STREAM, StreamOutlet
from tests.support.redis import RedisServer


def line(n: int) -> ChatFromMeeting:
    return ChatFromMeeting("!room:localhost", "Anne", f"message {n}")


@pytest.fixture
async def state(redis_server: RedisServer) -> AsyncIterator[RedisState]:
    shared = RedisState(redis_server.url)
    await shared.start()
    yield shared
    await shared.close()


async def until(check: object, what: str, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_what_a_stopped_bot_left_is_carried_once_by_the_next(
    state: RedisState, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    home, first, second = (StreamOutlet(state, node) for node in ("home", "node-a", "node-b"))
    carried: list[tuple[str, str]] = []
    stuck = asyncio.Event()

    async def bot_a(event: BridgeEvent) -> None:
        assert isinstance(event, ChatFromMeeting)
        if event.text == "message 2":  # it dies while carrying this one
            stuck.set()
            await asyncio.Event().wait()
        carried.append(("a", event.text))

    async def bot_b(event: BridgeEvent) -> None:
        assert isinstance(event, ChatFromMeeting)
        carried.append(("b", event.text))

    # Appended before any bot reads: kept for whoever comes.
    await home.publish([line(1), line(2), line(3)])
    unlisten = first.listen(bot_a)
    await asyncio.wait_for(stuck.wait(), 5)
    unlisten()  # the lease is lost: this bot stops mid-event, nothing more is acknowledged
    await first.close()
    async with Redis.from_url(redis_server.url, decode_responses=True) as redis:
        pending = await redis.xpending(STREAM, GROUP)
        await redis.xadd(STREAM, {"text": '{"type": "nonsense"}'})  # not an event of ours
    assert pending["pending"] == 2  # message 2 (being carried) and 3 (read with it)
    await home.publish([line(4)])

    caplog.set_level(logging.INFO, logger="hub.web.bot_events")
    second.listen(bot_b)
    await until(lambda: len(carried) == 4, "the next bot carried what was left")
    await asyncio.sleep(0.5)  # anything carried twice would show now
    await second.close()
    assert carried == [("a", "message 1"), ("b", "message 2"), ("b", "message 3"),
                       ("b", "message 4")]  # fmt: skip
    refused = [r.message for r in caplog.records if "stream entry refused" in r.message]
    assert refused == ["bridge: a stream entry refused: bridge event: unknown type 'nonsense'"]
    async with Redis.from_url(redis_server.url, decode_responses=True) as redis:
        assert (await redis.xpending(STREAM, GROUP))["pending"] == 0


async def test_the_stream_is_bounded(state: RedisState, redis_server: RedisServer) -> None:
    outlet = StreamOutlet(state, "home")
    batches = [[line(n) for n in range(first, first + 200)] for first in range(0, 12_000, 200)]
    await asyncio.gather(*(outlet.publish(batch) for batch in batches))
    async with Redis.from_url(redis_server.url, decode_responses=True) as redis:
        length = await redis.xlen(STREAM)
    # MAXLEN ~ trims whole macro nodes: about 10,000, never the 12,000 appended.
    assert 10_000 <= length < 11_000


async def test_an_entry_without_text_is_refused_once_and_old_consumers_are_forgotten(
    state: RedisState, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry not written by a hub (no `text` field) is refused in one line and
    acknowledged, not left pending forever; each holder start's consumer does not stay in
    the group once it has nothing pending."""
    caplog.set_level(logging.WARNING, logger="hub.web.bot_events")
    async with Redis.from_url(redis_server.url, decode_responses=True) as redis:
        await state.stream_group(STREAM, GROUP)
        for old in ("0123456789ab", "ba9876543210"):  # earlier holders, all they read acked
            await redis.xreadgroup(GROUP, old, {STREAM: ">"})
        await redis.xadd(STREAM, {"other": "field"})
        outlet = StreamOutlet(state, "aaaaaaaaaaaa")
        carried: list[BridgeEvent] = []

        async def listener(event: BridgeEvent) -> None:
            carried.append(event)

        unlisten = outlet.listen(listener)
        try:
            await until(lambda: any("refused" in r.message for r in caplog.records), "refused")
            async with asyncio.timeout(5):
                while (await redis.xpending(STREAM, GROUP))["pending"]:
                    await asyncio.sleep(0.05)
            names = {c["name"] for c in await redis.xinfo_consumers(STREAM, GROUP)}
        finally:
            unlisten()
            await outlet.close()
    assert carried == []
    assert names == {"aaaaaaaaaaaa"}, names
