"""Every migration runs up and down on SQLite and on PostgreSQL, and matches the models."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from hub.db import migrate
from hub.db.database import Database
from hub.db.models import AccessLevel, Base
from hub.ids import Identity, ParticipantId
from hub.meetings.events import EventBus
from hub.meetings.rooms import RoomLinks
from hub.meetings.service import MeetingService
from hub.meetings.transcripts import Transcripts
from tests.conftest import make_config

TABLES = {
    "meetings",
    "participants",
    "matrix_room_links",
    "partner_instances",
    "transcript_lines",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(make_config(tmp_path, database={"url": url}))
    await db.open()
    yield db
    await db.close()


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as connection:
        return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))


def _revisions_oldest_first() -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


async def test_each_revision_goes_up_and_down(database):
    revisions = _revisions_oldest_first()
    assert revisions, "no migrations found"
    for revision in revisions:
        status = await migrate.upgrade(database.engine, database.display_url, revision)
        assert status.current == (revision,)
    assert await _tables(database) >= TABLES
    for previous in [*reversed(revisions[:-1]), "base"]:
        status = await migrate.downgrade(database.engine, database.display_url, "-1")
        assert status.current == (() if previous == "base" else (previous,))
    assert not TABLES & await _tables(database)
    status = await migrate.upgrade(database.engine, database.display_url)
    assert status.is_head


async def test_models_and_migrations_describe_the_same_schema(database):
    await migrate.upgrade(database.engine, database.display_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with database.engine.connect() as connection:
        diff = await connection.run_sync(differences)
    assert diff == [], f"models differ from migrations: {diff}"


async def test_constraints_are_named_by_the_convention(database):
    await migrate.upgrade(database.engine, database.display_url)

    def foreign_keys(connection: Connection) -> list[str | None]:
        return [fk["name"] for fk in inspect(connection).get_foreign_keys("participants")]

    async with database.engine.connect() as connection:
        names = await connection.run_sync(foreign_keys)
    assert names == ["fk_participants_meeting_id_meetings"]


async def _children(db: Database) -> tuple[int, int]:
    async with db.engine.connect() as connection:
        lines = await connection.scalar(text("SELECT count(*) FROM transcript_lines"))
        links = await connection.scalar(text("SELECT count(*) FROM matrix_room_links"))
    return int(lines or 0), int(links or 0)


async def test_a_downgrade_and_upgrade_keep_the_meetings_child_rows(database):
    """Each downgrade that rebuilds a table (SQLite's batch mode) must not let ON DELETE
    CASCADE empty the tables that point at it."""
    await migrate.upgrade(database.engine, database.display_url)
    sessions = database.sessions
    meeting = await MeetingService(sessions, EventBus()).create(
        owner=Identity.matrix("@olga:localhost"), title="Budget", access_level=AccessLevel.PUBLIC
    )
    await Transcripts(sessions).keep(
        meeting.id, ParticipantId("p-b"), "Bruno", "good morning",
        language="en", ended_at=datetime.now(UTC), seconds=1.0,
    )  # fmt: skip
    await RoomLinks(sessions).link("!r:localhost", meeting.id, created_by="@a:localhost")
    assert await _children(database) == (1, 1)
    # Down to the revision that created transcript_lines, then back up.
    await migrate.downgrade(database.engine, database.display_url, "0005")
    await migrate.upgrade(database.engine, database.display_url)
    assert await _children(database) == (1, 1)
