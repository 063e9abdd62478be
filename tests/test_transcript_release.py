"""When a complete transcript is handed out, through the hub's own app on SQLite (the Matrix
room's side, with Synapse, is tests/bridge/test_transcript_posting.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from bridge.hub_port import BridgeEvent, TranscriptReady
from hub.ids import MeetingId, ParticipantId
from hub.meetings.events import MeetingEvent, TranscriptReleased, TranscriptSummarised
from hub.meetings.transcripts import Transcript, Transcripts
from hub.web.bridge_api import BRIDGE_API
from hub.web.keys import DATABASE, EVENTS, LIVE, ROOM_LINKS, TRANSCRIPTS
from tests.conftest import make_config
from tests.support.chat_completions import ChatCompletionsServer
from tests.support.hub_client import api_client
from tests.support.peer import wait_until
from tests.test_lobby import Hub

BOT = {"bot_user_id": "@visio:localhost", "bot_password": "x" * 16}


async def keep_line(hub: Hub, meeting: MeetingId, said: str) -> None:
    await hub.app[TRANSCRIPTS].keep(
        meeting, ParticipantId("p-bruno"), "Bruno", said,
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
    await client.app[ROOM_LINKS].link("!room:localhost", meeting, created_by="@olga:localhost")
    await keep_line(hub, meeting, "good morning everyone")
    await olga.ws.close()
    await asyncio.sleep(1.5)  # past the empty wait
    ended = await client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
    assert ended.status == 200, await ended.text()
    await asyncio.sleep(1.5)  # past a sweep for what was left unreleased
    assert await client.app[TRANSCRIPTS].left_unreleased(datetime.now(UTC)) == [meeting]
    # The bot connects: the next sweep hands the transcript to its room.
    ready: list[TranscriptReady] = []

    async def bot(event: BridgeEvent) -> None:
        if isinstance(event, TranscriptReady):
            ready.append(event)

    client.app[BRIDGE_API].hub.listen(bot)
    await wait_until(lambda: ready, 10, "the transcript never reached the room")
    assert ready[0].room_id == "!room:localhost"
    assert "good morning everyone" in ready[0].transcript.text
    assert await client.app[TRANSCRIPTS].claim(meeting) is None


async def test_a_summary_the_database_refuses_is_told_as_none_and_logged_once(
    aiohttp_client, tmp_path, caplog
):
    """The summary came but could not be kept (a trigger stands for the database's error):
    the rooms are told no summary came, rather than never told anything."""
    chat = ChatCompletionsServer()
    await chat.start()
    try:
        config = make_config(tmp_path, transcript_summary={"url": chat.url, "model": "m"})
        client, csrf = await api_client(aiohttp_client, config)
        hub = Hub(client, csrf, [], [])
        async with client.app[DATABASE].sessions.begin() as session:
            await session.execute(
                text(
                    "CREATE TRIGGER refuse_summary BEFORE UPDATE OF transcript_summary ON meetings"
                    " BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
                )
            )
        told: list[TranscriptSummarised] = []

        async def listen(event: MeetingEvent) -> None:
            if isinstance(event, TranscriptSummarised):
                told.append(event)

        client.app[EVENTS].subscribe(listen)
        meeting, _olga, _ = await hub.gathering("public")
        await keep_line(hub, meeting, "good morning everyone")
        with caplog.at_level(logging.INFO, logger="hub.meetings.transcript_release"):
            ended = await client.post(f"/api/v1/meetings/{meeting}/end", headers=hub.owner_csrf)
            assert ended.status == 200
            await wait_until(lambda: told, 10, "no TranscriptSummarised")
        assert told[0].text is None and len(chat.requests) == 1
        assert [r.getMessage() for r in caplog.records if "summar" in r.getMessage()] == [
            "transcript summary not kept"
        ]
    finally:
        await chat.close()


async def test_a_line_kept_while_claiming_is_handed_out_once_with_the_next_claim(
    aiohttp_client, tmp_path
):
    """Between marking the lines handed out and reading them, one more is kept: it is not in
    this transcript (it was not marked), and the next claim has it."""
    client, csrf = await api_client(aiohttp_client, make_config(tmp_path))
    hub = Hub(client, csrf, [], [])
    meeting = await hub.meeting("public")
    await keep_line(hub, meeting, "first")
    racing = Transcripts(client.app[DATABASE].sessions)

    async def of_after_a_line(meeting_id: MeetingId, **through: Any) -> Transcript | None:
        await keep_line(hub, meeting, "second")  # kept just after the claim's update
        return await Transcripts.of(racing, meeting_id, **through)

    racing.of = of_after_a_line  # type: ignore[method-assign]
    first = await racing.claim(meeting)
    assert first is not None and [line.text for line in first.lines] == ["first"]
    second = await hub.app[TRANSCRIPTS].claim(meeting)
    assert second is not None and [line.text for line in second.lines] == ["first", "second"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_a_meeting_left_empty_before_a_restart_is_released_after_it(
    aiohttp_client, tmp_path, request, backend
):
    """The hub stops before the empty wait ends (the wait lived in its memory): the next start
    releases the transcript one empty wait later, and its summary is asked for."""
    chat = ChatCompletionsServer()
    await chat.start()
    try:
        database = {}
        if backend == "postgres":
            database = {"url": request.getfixturevalue("postgres_url")}
        config = make_config(
            tmp_path, speech={"transcript_empty_seconds": 1}, database=database,
            transcript_summary={"url": chat.url, "model": "m"},
        )  # fmt: skip
        client, csrf = await api_client(aiohttp_client, config)
        hub = Hub(client, csrf, [], [])
        meeting, olga, _ = await hub.gathering("public")
        await keep_line(hub, meeting, "good morning everyone")
        await olga.ws.close()
        await wait_until(lambda: not client.app[LIVE].get(meeting), 5, "Olga never left")
        await client.close()  # within the empty wait
        assert not chat.requests
        again, _csrf = await api_client(aiohttp_client, config)
        released: list[TranscriptReleased] = []

        async def listen(event: MeetingEvent) -> None:
            if isinstance(event, TranscriptReleased):
                released.append(event)

        again.app[EVENTS].subscribe(listen)
        await wait_until(lambda: released, 10, "nothing released after the restart")
        assert [event.meeting_id for event in released] == [meeting]
        await wait_until(lambda: chat.requests, 10, "no summary asked for")
        assert await again.app[TRANSCRIPTS].claim(meeting) is None
    finally:
        await chat.close()
