"""Transcripts: each final utterance recognised while a moderator had subtitles on, kept in
the database with who said it and when, read back by the meeting's moderators, and deleted
once older than the operator's retention.

Consent is the conference's: it hands over only what it showed as a subtitle (hub/web/
subtitles.py keeps those lines here). Rendering them as WebVTT or Markdown is
hub/meetings/transcript_formats.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db.models import Meeting, MeetingState, Participant, TranscriptLine
from hub.ids import Identity, MeetingId, ParticipantId

from .access import MODERATING

log = logging.getLogger(__name__)

MAX_SPEAKER = 120  # as a participant's display name (hub/meetings/service.py MAX_NAME)
MAX_TEXT = 10_000  # one utterance; far more than anyone says in one breath
MAX_STARTS = 1024  # meetings whose start is remembered (one utterance after another)


@dataclass(frozen=True)
class Line:
    """One utterance: seconds after the meeting started, who (the name shown then), what."""

    participant_id: ParticipantId
    speaker: str
    start: float
    end: float
    text: str
    language: str


@dataclass(frozen=True)
class Transcript:
    meeting_id: MeetingId
    title: str
    started_at: datetime  # what the lines' seconds count from
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Overview:
    """What a meeting's transcript holds, without its words: for the page listing what is
    kept. `last_kept_at` is what its retention counts from."""

    lines: int
    speakers: tuple[str, ...]  # in the order they first spoke
    last_kept_at: datetime


@dataclass(frozen=True)
class Readable:
    """A meeting whose transcript and recordings someone may read (`Transcripts.readable_by`)."""

    id: MeetingId
    title: str
    created_at: datetime


@dataclass(frozen=True)
class Expired:
    """A meeting's transcript that retention deleted: how many lines it had."""

    meeting_id: MeetingId
    lines: int


class Transcripts:
    """The transcript lines of every meeting, in the hub's database."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        # Meetings' starts (set once, at the first join), not read again for every utterance.
        self._starts: dict[MeetingId, datetime] = {}

    async def keep(
        self,
        meeting_id: MeetingId,
        participant_id: ParticipantId,
        speaker: str,
        text: str,
        *,
        language: str,
        ended_at: datetime,
        seconds: float,
    ) -> bool:
        """Keep one utterance that ended at `ended_at` after `seconds` of speech; False (and
        nothing kept) if the meeting is unknown or the text blank."""
        text = " ".join(text.split())[:MAX_TEXT]
        if not text:
            return False
        async with self._sessions.begin() as session:
            origin = self._starts.get(meeting_id)
            if origin is None:
                meeting = await session.get(Meeting, meeting_id)
                if meeting is None:
                    return False
                origin = _origin(meeting)
                if meeting.started_at is not None:
                    if len(self._starts) >= MAX_STARTS:  # the oldest goes
                        del self._starts[next(iter(self._starts))]
                    self._starts[meeting_id] = origin
            end = max(0.0, (ended_at - origin).total_seconds())
            session.add(
                TranscriptLine(
                    meeting_id=meeting_id,
                    participant_id=participant_id,
                    speaker=speaker[:MAX_SPEAKER],
                    start_seconds=max(0.0, end - max(0.0, seconds)),
                    end_seconds=end,
                    text=text,
                    language=language,
                )
            )
        return True

    async def of(self, meeting_id: MeetingId, *, through: int | None = None) -> Transcript | None:
        """The meeting's transcript in spoken order, with `through` its lines up to that id
        (those kept later are not in it); None if nothing was kept (or it expired)."""
        async with self._sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return None
            query = select(TranscriptLine).where(TranscriptLine.meeting_id == meeting_id)
            if through is not None:
                query = query.where(TranscriptLine.id <= through)
            order = (TranscriptLine.start_seconds, TranscriptLine.id)
            rows = (await session.scalars(query.order_by(*order))).all()
            if not rows:
                return None
            return Transcript(
                meeting_id=meeting_id,
                title=meeting.title,
                started_at=_origin(meeting),
                lines=tuple(
                    Line(
                        participant_id=ParticipantId(row.participant_id),
                        speaker=row.speaker,
                        start=row.start_seconds,
                        end=row.end_seconds,
                        text=row.text,
                        language=row.language,
                    )
                    for row in rows
                ),
            )

    async def overview(self, meeting_id: MeetingId) -> Overview | None:
        """How many lines, who spoke, when the last was kept; None if nothing is kept."""
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(TranscriptLine.speaker, func.count(), func.max(TranscriptLine.kept_at))
                    .where(TranscriptLine.meeting_id == meeting_id)
                    .group_by(TranscriptLine.speaker)
                    .order_by(func.min(TranscriptLine.start_seconds), func.min(TranscriptLine.id))
                )
            ).all()
        if not rows:
            return None
        return Overview(
            lines=sum(count for _, count, _ in rows),
            speakers=tuple(speaker for speaker, _, _ in rows),
            last_kept_at=max(last for _, _, last in rows),
        )

    async def claim(self, meeting_id: MeetingId) -> Transcript | None:
        """The whole transcript so far, if it has lines never handed out before; they are
        marked handed out in the same statement, so two callers (the meeting ending while its
        empty-room timer fires, two hub nodes) never both get the same lines as new. What is
        handed out stops at the last line marked: one kept meanwhile comes with the next
        claim. A later claim hands out the whole (longer) transcript again. None: nothing
        new."""
        async with self._sessions.begin() as session:
            last = await session.scalar(
                select(func.max(TranscriptLine.id)).where(TranscriptLine.meeting_id == meeting_id)
            )
            if last is None:
                return None
            claimed = await session.execute(
                update(Meeting)
                .where(
                    Meeting.id == meeting_id,
                    or_(
                        Meeting.transcript_released_through.is_(None),
                        Meeting.transcript_released_through < last,
                    ),
                )
                .values(transcript_released_through=last)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return await self.of(meeting_id, through=last)

    async def left_unreleased(self, kept_before: datetime) -> list[MeetingId]:
        """Meetings with lines never handed out, the last kept before `kept_before`, and
        nobody in them by the database (ended, or every presence closed): those whose
        release a stopped hub never made (its empty-meeting waits live in memory)."""
        last = (
            select(TranscriptLine.meeting_id, func.max(TranscriptLine.id).label("last"))
            .group_by(TranscriptLine.meeting_id)
            .having(func.max(TranscriptLine.kept_at) < kept_before)
            .subquery()
        )
        present = select(Participant.id).where(
            Participant.meeting_id == Meeting.id, Participant.left_at.is_(None)
        )
        query = (
            select(Meeting.id)
            .join(last, last.c.meeting_id == Meeting.id)
            .where(
                or_(
                    Meeting.transcript_released_through.is_(None),
                    Meeting.transcript_released_through < last.c.last,
                ),
                or_(Meeting.state == MeetingState.ENDED, ~present.exists()),
            )
            .order_by(Meeting.id)
        )
        async with self._sessions() as session:
            return [MeetingId(meeting) for meeting in await session.scalars(query)]

    async def keep_summary(self, meeting_id: MeetingId, text: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Meeting).where(Meeting.id == meeting_id).values(transcript_summary=text)
            )

    async def summary_of(self, meeting_id: MeetingId) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Meeting.transcript_summary).where(Meeting.id == meeting_id)
            )

    async def may_read(self, meeting_id: MeetingId, identity: Identity) -> bool:
        """The owner, and whoever was a moderator in the meeting, may read its transcript."""
        async with self._sessions() as session:
            found = await session.scalar(
                _readable_by(identity).where(Meeting.id == meeting_id).limit(1)
            )
        return found is not None

    async def readable_by(
        self, identity: Identity, *, ended_after: datetime, limit: int | None,
        transcribed: bool = False,
    ) -> list[Readable]:  # fmt: skip
        """The meetings whose transcripts and recordings `identity` may read, open or ended
        after `ended_after` (older ones kept nothing), newest first; `transcribed`: only
        those with a transcript."""
        query = _readable_by(identity, Meeting.title).where(
            or_(Meeting.ended_at.is_(None), Meeting.ended_at > ended_after)
        )
        if transcribed:
            query = query.where(
                select(TranscriptLine.id).where(TranscriptLine.meeting_id == Meeting.id).exists()
            )
        query = query.distinct().order_by(Meeting.created_at.desc()).limit(limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Readable(MeetingId(meeting), title, created) for meeting, title, created in rows]

    async def delete_expired(self, kept_before: datetime) -> list[Expired]:
        """Delete the transcripts whose last line was kept before `kept_before`, whole."""
        async with self._sessions.begin() as session:
            expired = (
                await session.execute(
                    select(TranscriptLine.meeting_id, func.count())
                    .group_by(TranscriptLine.meeting_id)
                    .having(func.max(TranscriptLine.kept_at) < kept_before)
                    .order_by(TranscriptLine.meeting_id)
                )
            ).all()
            if expired:
                gone = [meeting for meeting, _ in expired]
                await session.execute(
                    delete(TranscriptLine).where(TranscriptLine.meeting_id.in_(gone))
                )
                await session.execute(
                    update(Meeting)
                    .where(Meeting.id.in_(gone))
                    .values(transcript_released_through=None, transcript_summary=None)
                )
        return [Expired(MeetingId(meeting), count) for meeting, count in expired]


def _readable_by(identity: Identity, *columns: Any) -> Select[Any]:
    """Meetings `identity` owns or was a moderator in (the readers of what they kept)."""
    return (
        select(Meeting.id, *columns, Meeting.created_at)
        .outerjoin(
            Participant,
            (Participant.meeting_id == Meeting.id)
            & (Participant.identity == identity)
            & Participant.role.in_(MODERATING),
        )
        .where(or_(Meeting.owner_identity == identity, Participant.id.is_not(None)))
    )


def _origin(meeting: Meeting) -> datetime:
    """When the meeting started (its first join); its creation if nobody joined yet."""
    return meeting.started_at or meeting.created_at
