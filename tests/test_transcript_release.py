"""When a complete transcript is handed out, through the hub's own app on SQLite (the Matrix
room's side, with Synapse, is tests/bridge/test_transcript_posting.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hub.ids import MeetingId, ParticipantId
from hub.web.keys import TRANSCRIPTS
from tests.conftest import make_config
from tests.support.hub_client import api_client
from tests.test_lobby import Hub

BOT = {"bot_user_id": "@visio:localhost", "bot_password": "x" * 16}


async def keep_line(hub: Hub, meeting: MeetingId, text: str) -> None:
    await hub.app[TRANSCRIPTS].keep(
        meeting, ParticipantId("p-bruno"), "Bruno", text,
        language="en", ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip


async def test_nothing_is_claimed_while_the_bot_is_not_listening(aiohttp_client, tmp_path):
    """`hub bridge` runs the bot alone and is not connected: the meeting's end and its empty
    wait hand nothing out, so the transcript is still there to post when the bot listens."""
    config = make_config(
        tmp_path, speech={"transcript_empty_seconds": 1},
        matrix={**BOT, "bridge_token": "t" * 32},
    )  # fmt: skip
    client, csrf = await api_client(aiohttp_client, config)
    hub = Hub(client, csrf, [], [])
    meeting, olga, _ = await hub.gathering("public")
    await keep_line(hub, meeting, "good morning everyone")
    await olga.ws.close()
    await asyncio.sleep(1.5)  # past the empty wait
    ended = await client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
    assert ended.status == 200, await ended.text()
    await asyncio.sleep(0.3)
    transcript = await hub.app[TRANSCRIPTS].claim(meeting)
    assert transcript is not None and len(transcript.lines) == 1
