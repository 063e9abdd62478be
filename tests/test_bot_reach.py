"""The bot's orders to a meeting's home on another node (hub/web/bot_reach.py), on a real
Redis: a home whose lease stands but which does not listen for orders is a failure the room
hears of, not an order carried out on this node's empty desk ("locked" while the meeting
stays open); a home whose lease is gone leaves the meeting to this node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bridge.hub_port import HubFailure
from hub.ids import MeetingId
from hub.meetings.conference import Conferences
from hub.nodes import bot_orders as orders
from hub.nodes.homes import MeetingHomes
from hub.shared.redis_state import RedisState
from hub.web.bot_desk import LiveDesk
from hub.web.bot_reach import NodeReach
from tests.support.redis import RedisServer

MEETING = MeetingId("abc-defg-hij")
BY = "@alice:localhost"


@pytest.fixture
async def state(redis_server: RedisServer) -> AsyncIterator[RedisState]:
    shared = RedisState(redis_server.url)
    await shared.start()
    yield shared
    await shared.close()


async def test_a_home_that_does_not_hear_is_a_failure_and_a_gone_one_leaves_it_here(
    state: RedisState,
) -> None:
    asking = "0123456789ab"
    home = MeetingHomes(state, "ba9876543210", lambda _: None)  # lives, no NodeReach
    homes = MeetingHomes(state, asking, lambda _: None)
    held = await home.claim(MEETING)
    reach = NodeReach(state, asking, homes, LiveDesk(Conferences(None)))  # type: ignore[arg-type]
    await reach.start()
    try:
        with pytest.raises(HubFailure, match="ba9876543210 does not hear orders"):
            await reach.carry(MEETING, orders.Lock(True, BY))
        await home.release(MEETING, held)  # the home let the meeting go: live nowhere
        assert await reach.carry(MEETING, orders.Lock(True, BY)) is False
    finally:
        await reach.close()
        await homes.close()
        await home.close()
