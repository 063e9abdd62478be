"""The hub's side of the bot's port, in process (hub/web/bridge.py): the meeting events queued
when it closes (a stop's last leaves) still reach the bot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from bridge.hub_port import BridgeEvent, ChatFromMeeting
from hub.ids import MeetingId, ParticipantId
from hub.meetings.events import ChatPosted
from hub.web.bridge import local_hub
from hub.web.keys import EVENTS
from tests.conftest import make_config
from tests.support.hub_client import api_client

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
