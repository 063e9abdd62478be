"""Alembic environment: runs on the hub's connection when given one, else on its own engine.

The hub (hub/db/migrate.py) passes its connection in `config.attributes["connection"]`, so
migrations use exactly the database and driver the hub uses. The plain `alembic` command works
too, with the URL from `-x url=...` or HUB_DATABASE__URL.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from hub.db.models import Base

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things: recreate tables instead
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_own_engine(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(run_on)
    await engine.dispose()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get(
        "HUB_DATABASE__URL", ""
    )
    if not url:
        raise SystemExit("alembic: give the database with -x url=... or HUB_DATABASE__URL")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(run_own_engine(url))


main()
