"""Matrix rooms linked to meetings, and what each room chose for the bot.

`RoomSettings` is stored: the language the bot writes in, per room. `RoomLinks` is stored:
which meeting a room started (one live meeting per room), the widget the bot put in the room
and the status message it edits. `RoomRosters` is told by the bridge who is joined to each
room with which power level; it lives in the shared state (memory on a hub alone, Redis for
hub nodes) and the bridge sends it again after a restart (its first sync carries every room's
full state).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import MatrixRoomLink, MatrixRoomSettings, Meeting, MeetingState, utcnow
from hub.ids import MeetingId
from hub.shared.port import SharedState

MAX_ROOM_MEMBERS = 10_000


@dataclass(frozen=True)
class RoomLinkView:
    room_id: str
    meeting_id: MeetingId
    created_by: str
    widget_id: str
    status_event_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: MatrixRoomLink) -> RoomLinkView:
        return cls(
            room_id=row.room_id,
            meeting_id=MeetingId(row.meeting_id),
            created_by=row.created_by,
            widget_id=row.widget_id or "",
            status_event_id=row.status_event_id,
            created_at=row.created_at,
        )


def new_widget_id() -> str:
    return f"visio_{secrets.token_hex(8)}"


class RoomLinks:
    """Room ↔ meeting links, in the database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def live_for(self, room_id: str) -> RoomLinkView | None:
        """The room's link to a meeting that has not ended, if any (the newest)."""
        query = (
            select(MatrixRoomLink)
            .join(Meeting, Meeting.id == MatrixRoomLink.meeting_id)
            .where(MatrixRoomLink.room_id == room_id, Meeting.state != MeetingState.ENDED)
            .order_by(MatrixRoomLink.id.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = (await session.scalars(query)).first()
        return RoomLinkView.of(row) if row is not None else None

    async def rooms_of(self, meeting_id: MeetingId) -> list[RoomLinkView]:
        query = select(MatrixRoomLink).where(MatrixRoomLink.meeting_id == meeting_id)
        async with self._sessions() as session:
            rows = (await session.scalars(query.order_by(MatrixRoomLink.id))).all()
        return [RoomLinkView.of(row) for row in rows]

    async def link(self, room_id: str, meeting_id: MeetingId, *, created_by: str) -> RoomLinkView:
        row = MatrixRoomLink(
            room_id=room_id,
            meeting_id=meeting_id,
            created_by=created_by,
            widget_id=new_widget_id(),
            created_at=utcnow(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
        return RoomLinkView.of(row)

    async def set_status_event(self, room_id: str, meeting_id: MeetingId, event_id: str) -> None:
        async with self._sessions.begin() as session:
            rows = await session.scalars(
                select(MatrixRoomLink).where(
                    MatrixRoomLink.room_id == room_id, MatrixRoomLink.meeting_id == meeting_id
                )
            )
            for row in rows:
                row.status_event_id = event_id


class RoomSettings:
    """Each room's choices for the bot, in the database; a room without a row has chosen
    nothing (the bot's defaults apply)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def language(self, room_id: str) -> str | None:
        async with self._sessions() as session:
            row = await session.get(MatrixRoomSettings, room_id)
        return row.language if row is not None else None

    async def set_language(self, room_id: str, language: str, *, by: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(MatrixRoomSettings, room_id)
            if row is None:
                row = MatrixRoomSettings(room_id=room_id, language=language, updated_by=by)
                session.add(row)
            row.language, row.updated_by, row.updated_at = language, by, utcnow()


class RoomRosters:
    """Who is joined to each linked Matrix room, with their power level: written by the bot
    (on the node holding the lease `bot`), read by every node's admissions. Kept in the
    shared state, one hash per room (`room:{id}:members`, user → power), so a meeting at
    home on another node than the bot's knows the room's members too."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def update(self, room_id: str, members: Mapping[str, int]) -> None:
        if len(members) > MAX_ROOM_MEMBERS:
            raise ValueError(f"a room of more than {MAX_ROOM_MEMBERS} members")
        await self._state.hash_replace(
            _members_key(room_id), {user: str(power) for user, power in members.items()}
        )

    async def homeservers(self, room_id: str) -> set[str]:
        """The homeservers of a room's joined members (Tchap: one per ministry)."""
        users = await self._state.hash_fields(_members_key(room_id))
        return {user.split(":", 1)[1] for user in users if ":" in user}

    async def power(self, room_ids: list[str], user_id: str) -> int | None:
        """The user's highest power level among the rooms they are joined to; None if none."""
        levels = await asyncio.gather(
            *(self._state.hash_get(_members_key(room), user_id) for room in room_ids)
        )
        known = [int(level) for level in levels if level is not None]
        return max(known) if known else None


def _members_key(room_id: str) -> str:
    return f"room:{room_id}:members"
