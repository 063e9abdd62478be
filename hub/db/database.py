"""The async engine and session factory of one hub process, created at start, never at import."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from hub.config import HubConfig
from hub.errors import StartupError


def masked(url: str) -> str:
    """The URL as it may appear in a message: password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a URL too broken to parse is shown by its scheme only
        return url.split(":", 1)[0] + "://…"


def describe_failure(exc: BaseException) -> str:
    """A one-line reason for a database failure, without the driver's multi-line noise."""
    cause: BaseException = exc
    if isinstance(exc, SQLAlchemyError) and exc.__cause__ is not None:
        cause = exc.__cause__
    original = getattr(exc, "orig", None)
    if isinstance(original, BaseException):
        cause = original
    if isinstance(cause, TimeoutError):
        return "no answer before the connect timeout"
    message = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return message


class Database:
    """Owns the engine and the session factory; `open()` connects, `close()` disposes."""

    def __init__(self, config: HubConfig) -> None:
        self.url = config.database_url
        self.display_url = masked(self.url)
        self.connect_timeout = config.database.connect_timeout
        self.is_sqlite = self.url.startswith("sqlite")
        self._create_parent = config.dev
        self.reachable = True  # last known state, so health checks log only transitions
        kwargs: dict[str, Any] = {
            "echo": config.database.echo,
            "connect_args": {"timeout": config.database.connect_timeout},
        }
        if not self.is_sqlite:
            kwargs["pool_size"] = config.database.pool_size
            kwargs["pool_pre_ping"] = True  # a server may have closed an idle connection
        elif make_url(self.url).database not in (None, "", ":memory:"):
            # SQLite lets one connection write at a time: with a pool of several, concurrent
            # writers sleep in SQLite's busy handler (1 to 100 ms at a time), and 20 people
            # joining at once waited up to 3 s for their rows (bench/sfu/storm.py). With one
            # connection they queue in order in the event loop, each in about a millisecond.
            kwargs["pool_size"] = 1
            kwargs["max_overflow"] = 0
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    async def open(self) -> None:
        """Check the database answers; raise StartupError with one line if it does not."""
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                parent = Path(database).parent
                if self._create_parent:
                    parent.mkdir(parents=True, exist_ok=True)
                elif not parent.is_dir():
                    raise StartupError(
                        f"database {self.display_url}: folder {parent} does not exist"
                    )
        try:
            await self.ping()
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            await self.engine.dispose()
            raise StartupError(
                f"database {self.display_url} is unreachable: {describe_failure(exc)}"
            ) from None

    async def ping(self) -> None:
        """Run `SELECT 1`; raises on any failure or after the connect timeout."""
        async with asyncio.timeout(self.connect_timeout + 1):
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run during a write.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
