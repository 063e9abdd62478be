"""The auth_sessions table: one row per login through an identity provider.

A login's cookie counts only while its row is open (not ended, not expired), so logging out
on one device really ends that session, whatever copy of the cookie remains.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.auth.session import Session
from hub.db.models import AuthSession


def _now() -> datetime:
    return datetime.now(UTC)


class LoginStore:
    """Opens, checks and ends login rows; built on the app's session factory, owns nothing."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], datetime] = _now
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    async def open(self, session: Session, id_token: str) -> None:
        """Record a fresh login; `session` must come from a provider (it has `provider`)."""
        if session.provider is None:
            raise ValueError("a guest session has no login row")
        row = AuthSession(
            id=session.session_id,
            identity=session.identity,
            provider=session.provider,
            email=session.email,
            id_token=id_token,
            created_at=self._clock(),
            expires_at=datetime.fromtimestamp(session.expires_at, UTC),
        )
        async with self._sessions.begin() as db:
            db.add(row)

    async def is_open(self, session_id: str) -> bool:
        """One primary-key lookup: does this login still count?"""
        async with self._sessions() as db:
            row = await db.get(AuthSession, session_id)
        return row is not None and row.ended_at is None and row.expires_at > self._clock()

    async def end(self, session_id: str) -> str | None:
        """End a login; its ID token (for the provider's logout) if it was still open."""
        now = self._clock()
        async with self._sessions.begin() as db:
            id_token = await db.scalar(
                select(AuthSession.id_token).where(
                    AuthSession.id == session_id,
                    AuthSession.ended_at.is_(None),
                    AuthSession.expires_at > now,
                )
            )
            await db.execute(
                update(AuthSession)
                .where(AuthSession.id == session_id, AuthSession.ended_at.is_(None))
                .values(ended_at=now)
            )
        return id_token
