"""Alembic driven from the hub: migrations run on the hub's own engine, at start and from the CLI.

The hub never touches a schema it does not know: a database whose revision is not in this
code's migrations (a newer hub wrote it) stops the start before anything is changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.errors import StartupError
from hub.resources import resource_dir

log = logging.getLogger(__name__)


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("migrations")))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@dataclass(frozen=True)
class SchemaStatus:
    current: tuple[str, ...]
    head: str
    unknown: tuple[str, ...]

    @property
    def is_head(self) -> bool:
        return self.current == (self.head,)


def _status(connection: Connection) -> SchemaStatus:
    script = ScriptDirectory.from_config(alembic_config())
    current = tuple(MigrationContext.configure(connection).get_current_heads())
    unknown: list[str] = []
    for revision in current:
        try:
            if script.get_revision(revision) is None:
                unknown.append(revision)
        except CommandError:
            unknown.append(revision)
    head = script.get_current_head()
    if head is None:
        raise StartupError("no migrations found")
    return SchemaStatus(current=current, head=head, unknown=tuple(unknown))


async def schema_status(engine: AsyncEngine) -> SchemaStatus:
    async with engine.connect() as connection:
        return await connection.run_sync(_status)


def _refuse_unknown(status: SchemaStatus, display_url: str) -> None:
    if status.unknown:
        raise StartupError(
            f"database {display_url} is at revision {', '.join(status.unknown)}, which this "
            f"hub does not know (its newest is {status.head}): a newer hub wrote it; "
            "upgrade the hub, nothing was changed"
        )


async def _migrate(engine: AsyncEngine, run: Callable[[Connection], None]) -> None:
    """Run migrations in one transaction. On SQLite with foreign keys off, as its docs ask for
    schema changes: batch mode rebuilds a table by dropping it, and with them on, ON DELETE
    CASCADE would empty the tables pointing at it (a meeting's participants, transcript,
    room links). What they point at is checked before the commit."""
    async with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # outside any transaction, where SQLite honours it
            await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.commit()
        try:
            async with connection.begin():
                await connection.run_sync(run)
                if sqlite:
                    broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise StartupError(
                            f"migration left {len(broken)} rows pointing at nothing "
                            f"(first in table {broken[0][0]}): nothing was changed"
                        )
        finally:
            if sqlite:
                await connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                await connection.commit()


async def upgrade(engine: AsyncEngine, display_url: str, revision: str = "head") -> SchemaStatus:
    """Bring the schema to `revision`; refuse a database newer than this code."""
    _refuse_unknown(await schema_status(engine), display_url)

    await _migrate(engine, lambda connection: command.upgrade(alembic_config(connection), revision))
    return await schema_status(engine)


async def downgrade(engine: AsyncEngine, display_url: str, revision: str) -> SchemaStatus:
    _refuse_unknown(await schema_status(engine), display_url)

    await _migrate(
        engine, lambda connection: command.downgrade(alembic_config(connection), revision)
    )
    return await schema_status(engine)


async def prepare_schema(engine: AsyncEngine, display_url: str, *, auto_migrate: bool) -> None:
    """At start: migrate to head, or (auto_migrate off) refuse a schema that is not at head."""
    status = await schema_status(engine)
    _refuse_unknown(status, display_url)
    if status.is_head:
        return
    if not auto_migrate:
        raise StartupError(
            f"database {display_url} schema is at {', '.join(status.current) or 'nothing'}, "
            f"not {status.head}: run `hub db upgrade` or set database.auto_migrate = true"
        )
    log.info(
        "migrating database schema",
        extra={"from_revision": ",".join(status.current) or "empty", "to_revision": status.head},
    )
    await upgrade(engine, display_url)
