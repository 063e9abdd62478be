"""Meeting lifecycle and attendance, stored in the database; publishes events on changes.

Views returned are frozen dataclasses, never ORM objects, so no caller can trigger lazy loads
or edit rows outside a transaction.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import (
    AccessLevel,
    Meeting,
    MeetingState,
    Participant,
    Role,
    utcnow,
)
from hub.errors import BadRequest, Conflict, Forbidden, NotFound
from hub.ids import Identity, MeetingId, ParticipantId, ServerName
from hub.meetings.events import EventBus, MeetingEnded, ParticipantJoined, ParticipantLeft
from hub.meetings.ids import new_meeting_id, parse_meeting_id

MAX_TITLE = 200
MAX_NAME = 120


@dataclass(frozen=True)
class MeetingView:
    id: MeetingId
    title: str
    access_level: AccessLevel
    state: MeetingState
    owner_identity: Identity
    locked: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    # The partner instance that hosts it (this hub keeps a mirror for its own people), or
    # None when the meeting is hosted here.
    host_instance: ServerName | None = None

    @classmethod
    def of(cls, row: Meeting) -> MeetingView:
        return cls(
            id=MeetingId(row.id),
            title=row.title,
            access_level=row.access_level,
            state=row.state,
            owner_identity=Identity(row.owner_identity),
            locked=row.locked,
            created_at=row.created_at,
            started_at=row.started_at,
            ended_at=row.ended_at,
            host_instance=ServerName(row.host_instance) if row.host_instance else None,
        )


def clean_text(value: str, *, field: str, limit: int) -> str:
    """Strip, refuse control characters and empty or over-long values (for titles, names)."""
    text = " ".join(value.split())
    if not text:
        raise BadRequest(f"{field} must not be empty")
    if len(text) > limit:
        raise BadRequest(f"{field} is longer than {limit} characters")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co") for char in text):
        raise BadRequest(f"{field} contains control characters")
    return text


class MeetingService:
    """Creates, reads and ends meetings and records who joined and left, in one place."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventBus) -> None:
        self._sessions = sessions
        self._events = events

    async def create(
        self, *, owner: Identity, title: str, access_level: AccessLevel
    ) -> MeetingView:
        title = clean_text(title, field="title", limit=MAX_TITLE)
        for _ in range(5):  # 47 random bits: a collision is rare, but retry rather than fail
            row = Meeting(
                id=new_meeting_id(),
                title=title,
                access_level=access_level,
                owner_identity=owner,
                state=MeetingState.CREATED,
                locked=False,
                created_at=utcnow(),
            )
            try:
                async with self._sessions.begin() as session:
                    session.add(row)
            except IntegrityError:
                continue
            return MeetingView.of(row)
        raise Conflict("could not allocate a meeting id; try again")

    async def get(self, meeting_id: str) -> MeetingView:
        parsed = parse_meeting_id(meeting_id)
        if parsed is None:
            raise NotFound("Réunion introuvable / No such meeting")
        async with self._sessions() as session:
            row = await session.get(Meeting, parsed)
        if row is None:
            raise NotFound("Réunion introuvable / No such meeting")
        return MeetingView.of(row)

    async def list_owned(self, owner: Identity) -> list[MeetingView]:
        """The owner's meetings that have not ended, newest first."""
        query = select(Meeting).where(
            Meeting.owner_identity == owner, Meeting.state != MeetingState.ENDED
        )
        async with self._sessions() as session:
            rows = (await session.scalars(query.order_by(Meeting.created_at.desc()))).all()
        return [MeetingView.of(row) for row in rows]

    async def end(self, meeting_id: str, *, by: Identity, moderator: bool = False) -> MeetingView:
        """End for everyone: by the owner, or by a moderator of the live meeting."""
        meeting = await self.get(meeting_id)
        if meeting.owner_identity != by and not moderator:
            raise Forbidden(
                "Seul l'organisateur peut terminer la réunion / Only the owner may end it"
            )
        if meeting.state is MeetingState.ENDED:
            return meeting
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(Meeting, meeting.id)
            assert row is not None
            row.state = MeetingState.ENDED
            row.ended_at = now
            await session.execute(
                update(Participant)
                .where(Participant.meeting_id == meeting.id, Participant.left_at.is_(None))
                .values(left_at=now)
            )
            attendance = (
                await session.execute(
                    select(Participant.identity, Participant.display_name)
                    .where(Participant.meeting_id == meeting.id)
                    .distinct()
                )
            ).all()
            view = MeetingView.of(row)
        await self._events.publish(
            MeetingEnded(
                meeting_id=meeting.id,
                at=now,
                participant_names=tuple(sorted({name for _, name in attendance})),
                participant_count=len({identity for identity, _ in attendance}),
            )
        )
        return view

    @staticmethod
    async def _open_row(session: AsyncSession, meeting_id: MeetingId) -> Meeting:
        """The meeting's row, for a change that only a meeting not yet ended may take."""
        row = await session.get(Meeting, meeting_id)
        if row is None:
            raise NotFound("Réunion introuvable / No such meeting")
        if row.state is MeetingState.ENDED:
            raise Conflict("La réunion est terminée / The meeting has ended")
        return row

    async def set_locked(self, meeting_id: MeetingId, locked: bool) -> MeetingView:
        async with self._sessions.begin() as session:
            row = await self._open_row(session, meeting_id)
            row.locked = locked
            return MeetingView.of(row)

    async def mirror(
        self, meeting_id: MeetingId, *, host: ServerName, title: str, access_level: AccessLevel
    ) -> MeetingView:
        """This hub's copy of a meeting a partner hosts (same id), created or refreshed, so
        our people join it through our own pages and SFU."""
        title = clean_text(title, field="title", limit=MAX_TITLE)
        async with self._sessions.begin() as session:
            row = await session.get(Meeting, meeting_id)
            if row is not None and row.host_instance != host:
                raise Conflict("Identifiant de réunion déjà utilisé / Meeting id already in use")
            if row is None:
                row = Meeting(
                    id=meeting_id,
                    owner_identity=Identity.vouched_by("host", host),
                    host_instance=host,
                    state=MeetingState.CREATED,
                    locked=False,
                    created_at=utcnow(),
                )
                session.add(row)
            elif row.state is MeetingState.ENDED:  # the host opened it again
                row.state, row.ended_at = MeetingState.CREATED, None
            row.title, row.access_level = title, access_level
            return MeetingView.of(row)

    async def record_join(
        self,
        meeting_id: MeetingId,
        *,
        identity: Identity,
        display_name: str,
        role: Role,
        participant_id: ParticipantId | None = None,
        via_instance: ServerName | None = None,
    ) -> ParticipantId:
        """A row for one presence; a partner's person keeps the id their own hub gave them."""
        name = clean_text(display_name, field="name", limit=MAX_NAME)
        now = utcnow()
        given = participant_id is not None
        participant_id = participant_id or ParticipantId(str(uuid.uuid4()))
        async with self._sessions.begin() as session:
            meeting = await self._open_row(session, meeting_id)
            if meeting.state is MeetingState.CREATED:
                meeting.state = MeetingState.ACTIVE
                meeting.started_at = now
            again = await session.get(Participant, participant_id) if given else None
            if again is not None:
                if (again.meeting_id, again.identity, again.via_instance) != (
                    meeting_id, identity, via_instance,
                ):  # fmt: skip
                    raise Conflict("participant id already used / identifiant déjà utilisé")
                again.left_at = None  # back after a cascade link outage: the same presence
            else:
                session.add(
                    Participant(
                        id=participant_id,
                        meeting_id=meeting_id,
                        identity=identity,
                        identity_kind=identity.kind,
                        display_name=name,
                        role=role,
                        via_instance=via_instance,
                        joined_at=now,
                    )
                )
        await self._events.publish(
            ParticipantJoined(
                meeting_id=meeting_id,
                participant_id=participant_id,
                identity=identity,
                display_name=name,
                at=now,
            )
        )
        return participant_id

    async def record_role(self, participant_id: ParticipantId, role: Role) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Participant, participant_id)
            if row is not None:
                row.role = role

    async def record_leave(self, meeting_id: MeetingId, participant_id: ParticipantId) -> None:
        now = utcnow()
        async with self._sessions.begin() as session:
            row = await session.get(Participant, participant_id)
            if row is None or row.left_at is not None:
                return
            row.left_at = now
            name = row.display_name
        await self._events.publish(
            ParticipantLeft(
                meeting_id=meeting_id, participant_id=participant_id, display_name=name, at=now
            )
        )
