"""The hub's side of the bot's port, in process (hub/web/bridge.py, hub/web/room_events.py):
the meeting events queued when it closes (a stop's last leaves) still reach the bot; a Redis
outage is one log line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest

from bridge.hub_port import BridgeEvent, ChatFromMeeting
from hub.ids import MeetingId, ParticipantId
from hub.meetings.events import ChatPosted, LobbyChanged
from hub.nodes.homes import MeetingHomes
from hub.shared.redis_state import RedisState
from hub.web.bot_desk import LiveDesk
from hub.web.bot_events import StreamOutlet
from hub.web.bot_reach import NodeReach
from hub.web.bridge import local_hub
from hub.web.keys import EVENTS, LIVE
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.support.redis import RedisServer

ROOM = "!room:localhost"


async def test_events_queued_at_the_close_are_carried_first(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path))
    hub = local_hub(client.app)
    meeting = await hub.start_meeting(ROOM, by="@alice:localhost", title="Point")
    heard: list[BridgeEvent] = []

    async def listener(event: BridgeEvent) -> None:
        heard.append(event)

    hub.listen(listener)
    for n in range(20):
        line = ChatPosted(MeetingId(meeting.meeting_id), ParticipantId("p1"), "Anne",
                          f"ligne {n}", dt.datetime.now(dt.UTC))  # fmt: skip
        await client.app[EVENTS].publish(line)
    await hub.close()
    assert heard == [ChatFromMeeting(ROOM, "Anne", f"ligne {n}") for n in range(20)]


async def test_a_redis_outage_is_one_line_not_a_traceback_per_event(
    aiohttp_client: Any, tmp_path: Path, redis_server: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """With hub nodes, each presence change reads the live meeting through the shared state:
    while Redis is away, the events are not carried, said in one warning for the outage."""
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path))
    state = RedisState(redis_server.url)
    await state.start()
    homes = MeetingHomes(state, "0123456789ab", lambda _: None)
    reach = NodeReach(state, "0123456789ab", homes, LiveDesk(client.app[LIVE]))
    await reach.start()
    hub = local_hub(client.app, StreamOutlet(state, "0123456789ab"), reach)
    try:
        meeting = await hub.start_meeting(ROOM, by="@alice:localhost", title="Point")
        caplog.set_level(logging.INFO, logger="hub.web.room_events")
        redis_server.kill()
        for _ in range(5):
            changed = LobbyChanged(MeetingId(meeting.meeting_id), dt.datetime.now(dt.UTC))
            await client.app[EVENTS].publish(changed)
        await hub.close()
    finally:
        redis_server.start()
        await reach.close()
        await homes.close()
        await state.close()
    said = [r for r in caplog.records if r.name == "hub.web.room_events"]
    assert [r.levelname for r in said] == ["WARNING"], [r.getMessage() for r in said]
    assert said[0].exc_info is None
    assert "not carried to their rooms" in said[0].getMessage()


async def test_a_stuck_worker_drops_events_past_the_bound_and_says_how_many(
    aiohttp_client: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setattr("hub.web.room_events.MAX_BACKLOG", 10)
    client, _csrf = await api_client(aiohttp_client, make_config(tmp_path))
    hub = local_hub(client.app)
    meeting = await hub.start_meeting(ROOM, by="@alice:localhost", title="Point")
    stuck = asyncio.Event()
    heard: list[BridgeEvent] = []

    async def listener(event: BridgeEvent) -> None:
        await stuck.wait()
        heard.append(event)

    hub.listen(listener)
    caplog.set_level(logging.WARNING, logger="hub.web.room_events")
    for n in range(16):  # one carried (stuck), ten waiting, five dropped
        line = ChatPosted(MeetingId(meeting.meeting_id), ParticipantId("p1"), "Anne",
                          f"ligne {n}", dt.datetime.now(dt.UTC))  # fmt: skip
        await client.app[EVENTS].publish(line)
        await asyncio.sleep(0.01 if n == 0 else 0)
    stuck.set()
    await hub.close()
    assert len(heard) == 11
    said = [r.getMessage() for r in caplog.records if r.name == "hub.web.room_events"]
    assert said == ["bridge: 5 meeting event(s) dropped, 10 waiting"], said
