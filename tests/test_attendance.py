"""Attendance rows in the real database (SQLite, migrated): joins that arrive together are
written together, and each keeps its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, func, select

from hub.db import migrate
from hub.db.database import Database
from hub.db.models import AccessLevel, Participant, Role
from hub.errors import Conflict, NotFound
from hub.ids import Identity, MeetingId
from hub.meetings.events import EventBus, ParticipantJoined
from hub.meetings.service import MeetingService
from tests.conftest import make_config


@pytest.fixture
async def database(tmp_path) -> AsyncIterator[Database]:
    db = Database(make_config(tmp_path))
    await db.open()
    await migrate.upgrade(db.engine, db.display_url)
    yield db
    await db.close()


async def test_twenty_joins_at_once_are_all_written_and_a_refused_one_spoils_none(database):
    events = EventBus()
    heard: list[ParticipantJoined] = []

    async def listen(event: object) -> None:
        if isinstance(event, ParticipantJoined):
            heard.append(event)

    events.subscribe(listen)
    service = MeetingService(database.sessions, events)
    owner = Identity("guest:owner")
    open_one = await service.create(owner=owner, title="Point", access_level=AccessLevel.PUBLIC)
    ended = await service.create(owner=owner, title="Fini", access_level=AccessLevel.PUBLIC)
    await service.end(ended.id, by=owner)

    def join(meeting_id: MeetingId, number: int):
        return service.record_join(
            meeting_id,
            identity=Identity(f"guest:p{number}"),
            display_name=f"Personne {number}",
            role=Role.PARTICIPANT,
        )

    commits: list[object] = []

    def count_commit(connection: object) -> None:
        commits.append(connection)

    event.listen(database.engine.sync_engine, "commit", count_commit)
    results = await asyncio.gather(
        *(join(open_one.id, n) for n in range(20)),
        join(ended.id, 20),
        join(MeetingId("abc-defg-hij"), 21),
        return_exceptions=True,
    )
    event.remove(database.engine.sync_engine, "commit", count_commit)

    ids = results[:20]
    assert all(isinstance(i, str) for i in ids) and len(set(ids)) == 20
    assert isinstance(results[20], Conflict)
    assert isinstance(results[21], NotFound)
    assert 1 <= len(commits) <= 2, len(commits)  # the first join's batch, then the rest
    count = select(func.count()).select_from(Participant)
    async with database.sessions() as session:
        stored = await session.scalar(count.where(Participant.meeting_id == open_one.id))
        others = await session.scalar(count.where(Participant.meeting_id != open_one.id))
    assert (stored, others) == (20, 0)
    assert sorted(e.participant_id for e in heard) == sorted(ids)
    assert (await service.get(open_one.id)).started_at is not None


async def test_a_join_whose_caller_went_away_is_written_closed(database):
    service = MeetingService(database.sessions, EventBus())
    owner = Identity("guest:owner")
    meeting = await service.create(owner=owner, title="Point", access_level=AccessLevel.PUBLIC)

    def join(number: int):
        return asyncio.get_running_loop().create_task(
            service.record_join(
                meeting.id,
                identity=Identity(f"guest:p{number}"),
                display_name=f"Personne {number}",
                role=Role.PARTICIPANT,
            )
        )

    staying, leaving = join(1), join(2)
    await asyncio.sleep(0)  # both wait for their batch
    leaving.cancel()  # the socket dropped during the join
    stayed = await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    rows: list[Participant] = []
    for _ in range(100):
        async with database.sessions() as session:
            rows = list(await session.scalars(select(Participant)))
        if len(rows) == 2 and all(r.left_at is not None for r in rows if r.id != stayed):
            break
        await asyncio.sleep(0.02)
    assert len(rows) == 2
    [kept] = [r for r in rows if r.id == stayed]
    [gone] = [r for r in rows if r.id != stayed]
    assert kept.left_at is None  # still in the meeting
    assert gone.left_at is not None  # written by its batch, then closed: it never entered
