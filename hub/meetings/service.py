"""Meeting lifecycle and attendance, stored in the database; publishes events on changes.

Views returned are frozen dataclasses, never ORM objects, so no caller can trigger lazy loads
or edit rows outside a transaction.
"""

from __future__ import annotations

import asyncio
import logging
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
from hub.errors import BadRequest, Conflict, Forbidden, HubError, NotFound
from hub.i18n import Text
from hub.ids import Identity, MeetingId, ParticipantId, ServerName
from hub.meetings.events import EventBus, MeetingEnded, ParticipantJoined, ParticipantLeft
from hub.meetings.ids import new_meeting_id, parse_meeting_id
from hub.tasks import Tasks

log = logging.getLogger(__name__)

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


@dataclass
class _Join:
    """One `record_join` waiting for its batch; `done` is answered when it is written."""

    meeting_id: MeetingId
    identity: Identity
    name: str
    role: Role
    participant_id: ParticipantId
    given: bool
    via_instance: ServerName | None
    at: datetime
    done: asyncio.Future[None]


async def _stage_join(session: AsyncSession, join: _Join) -> None:
    """Add `join`'s row to the batch's transaction; raises that join's refusal (HubError),
    having changed nothing for the others."""
    meeting = await MeetingService._open_row(session, join.meeting_id)
    again = await session.get(Participant, join.participant_id) if join.given else None
    if again is not None and (again.meeting_id, again.identity, again.via_instance) != (
        join.meeting_id, join.identity, join.via_instance,
    ):  # fmt: skip
        raise Conflict(text=Text("error.participant.id_taken"))
    if meeting.state is MeetingState.CREATED:
        meeting.state = MeetingState.ACTIVE
        meeting.started_at = join.at
    if again is not None:
        again.left_at = None  # back after a cascade link outage: the same presence
        return
    session.add(
        Participant(
            id=join.participant_id,
            meeting_id=join.meeting_id,
            identity=join.identity,
            identity_kind=join.identity.kind,
            display_name=join.name,
            role=join.role,
            via_instance=join.via_instance,
            joined_at=join.at,
        )
    )


class MeetingService:
    """Creates, reads and ends meetings and records who joined and left, in one place."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], events: EventBus) -> None:
        self._sessions = sessions
        self._events = events
        self._joins: list[_Join] = []  # waiting to be written (`record_join`)
        self._join_writer: asyncio.Task[None] | None = None
        self._closing = Tasks()  # rows of joins whose caller went away

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
            raise NotFound(text=Text("error.meeting.missing"))
        async with self._sessions() as session:
            row = await session.get(Meeting, parsed)
        if row is None:
            raise NotFound(text=Text("error.meeting.missing"))
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
            raise Forbidden(text=Text("error.meeting.owner_ends"))
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
            raise NotFound(text=Text("error.meeting.missing"))
        if row.state is MeetingState.ENDED:
            raise Conflict(text=Text("error.meeting.ended"))
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
                raise Conflict(text=Text("error.meeting.id_taken"))
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
        """A row for one presence; a partner's person keeps the id their own hub gave them.

        Joins that arrive together are written together, in one transaction: each database
        step waits for a turn of the event loop, and with the loop busy forwarding media,
        twenty people entering at once waited up to 5 s for twenty transactions in a row
        (bench/sfu --join-storm). Each join still gets its own answer and refusal."""
        join = _Join(
            meeting_id=meeting_id,
            identity=identity,
            name=clean_text(display_name, field="name", limit=MAX_NAME),
            role=role,
            participant_id=participant_id or ParticipantId(str(uuid.uuid4())),
            given=participant_id is not None,
            via_instance=via_instance,
            at=utcnow(),
            done=asyncio.get_running_loop().create_future(),
        )
        # Read here too, so a refusal whose caller went away is not reported as unread.
        join.done.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._joins.append(join)
        if self._join_writer is None or self._join_writer.done():
            self._join_writer = asyncio.get_running_loop().create_task(self._write_joins())
        try:
            await asyncio.shield(join.done)  # a cancelled caller leaves the batch intact
        except asyncio.CancelledError:
            self._close_when_written(join)
            raise
        await self._events.publish(
            ParticipantJoined(
                meeting_id=meeting_id,
                participant_id=join.participant_id,
                identity=identity,
                display_name=join.name,
                at=join.at,
            )
        )
        return join.participant_id

    def _close_when_written(self, join: _Join) -> None:
        """The person went away while their row waited for its batch: once it is written,
        mark it left, so attendance never counts someone who never entered."""

        async def close() -> None:
            try:
                await join.done
            except Exception:
                return  # refused, or the batch failed: no row to close
            try:
                async with self._sessions.begin() as session:
                    row = await session.get(Participant, join.participant_id)
                    if row is not None and row.left_at is None:
                        row.left_at = utcnow()
            except Exception as exc:
                log.warning("could not close an unentered join's row: %s", type(exc).__name__)

        self._closing.spawn(close())

    async def _write_joins(self) -> None:
        """Write every waiting join, batch after batch, until none waits."""
        while self._joins:
            batch, self._joins = self._joins, []
            try:
                accepted: list[_Join] = []
                async with self._sessions.begin() as session:
                    for join in batch:
                        try:
                            await _stage_join(session, join)
                        except HubError as refusal:  # this join alone
                            join.done.set_exception(refusal)
                        else:
                            accepted.append(join)
            except Exception as exc:  # the database failed: every join of the batch is told
                for join in batch:
                    if not join.done.done():
                        join.done.set_exception(exc)
                continue
            for join in accepted:
                join.done.set_result(None)

    async def record_role(self, participant_id: ParticipantId, role: Role) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Participant, participant_id)
            if row is not None:
                row.role = role

    async def close_presences_left_behind(self, meeting_id: MeetingId) -> int:
        """A hub node took over a live meeting whose home died: the presences it left open
        (its people are not in the meeting until they reconnect, with new rows) are closed,
        so attendance counts them out. A partner's people stay (their link says when they
        leave). How many were closed."""
        async with self._sessions.begin() as session:
            closed = await session.execute(
                update(Participant)
                .where(
                    Participant.meeting_id == meeting_id,
                    Participant.left_at.is_(None),
                    Participant.via_instance.is_(None),
                )
                .values(left_at=utcnow())
            )
        return int(getattr(closed, "rowcount", 0) or 0)

    async def open_via(self, meeting_id: MeetingId, partner: ServerName) -> dict[Identity, Role]:
        """Who of `partner`'s people is in the meeting by the database (presence not closed),
        with their role: a node taking over a meeting lets them back with their link."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Participant.identity, Participant.role).where(
                    Participant.meeting_id == meeting_id,
                    Participant.via_instance == partner,
                    Participant.left_at.is_(None),
                )
            )
        return {Identity(identity): role for identity, role in rows}

    async def open_presences_via(
        self, meeting_id: MeetingId, partner: ServerName | None = None
    ) -> dict[ParticipantId, tuple[ServerName, Identity]]:
        """The open presence rows of a partner's people (of every partner without
        `partner`): by row, through which partner and who."""
        query = select(Participant.id, Participant.via_instance, Participant.identity).where(
            Participant.meeting_id == meeting_id,
            Participant.via_instance.is_not(None),
            Participant.left_at.is_(None),
        )
        if partner is not None:
            query = query.where(Participant.via_instance == partner)
        async with self._sessions() as session:
            rows = await session.execute(query)
        return {
            ParticipantId(pid): (ServerName(via), Identity(identity))
            for pid, via, identity in rows
            if via is not None
        }

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
