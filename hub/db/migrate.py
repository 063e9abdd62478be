"""Alembic driven from the hub: migrations run on the hub's own engine, at start and from the CLI.

The hub never touches a schema it does not know: a database whose revision is not in this
code's migrations (a newer hub wrote it) stops the start before anything is changed.
"""

from __future__ import annotations

import logging
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


async def upgrade(engine: AsyncEngine, display_url: str, revision: str = "head") -> SchemaStatus:
    """Bring the schema to `revision`; refuse a database newer than this code."""
    _refuse_unknown(await schema_status(engine), display_url)

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
    return await schema_status(engine)


async def downgrade(engine: AsyncEngine, display_url: str, revision: str) -> SchemaStatus:
    _refuse_unknown(await schema_status(engine), display_url)

    def run(connection: Connection) -> None:
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)
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
