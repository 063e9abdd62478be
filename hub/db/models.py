"""Database models (SQLAlchemy 2 typed mappings). Schema changes go through migrations/.

Every table the later features need already has its place: meetings and their participants,
Matrix room links, partner instances. Identities are strings prefixed by their origin so that
federation or Matrix users never need a schema change (see `IdentityKind`).
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from hub.ids import IdentityKind

# Constraint names are part of the schema: Alembic needs them to alter or drop constraints,
# and SQLite's batch mode can only recreate what it can name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AccessLevel(enum.StrEnum):
    """Who enters without waiting: anyone with the link, any authenticated person, or invitees."""

    PUBLIC = "public"
    TRUSTED = "trusted"
    RESTRICTED = "restricted"


class MeetingState(enum.StrEnum):
    CREATED = "created"
    ACTIVE = "active"
    ENDED = "ended"


class Role(enum.StrEnum):
    OWNER = "owner"
    MODERATOR = "moderator"
    PARTICIPANT = "participant"


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored as VARCHAR with a CHECK constraint: portable, and a new value is a plain migration.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Meeting(Base):
    """A meeting: its short unguessable id is also what appears in the link."""

    __tablename__ = "meetings"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    access_level: Mapped[AccessLevel] = mapped_column(
        _enum(AccessLevel, "access_level"), default=AccessLevel.RESTRICTED
    )
    state: Mapped[MeetingState] = mapped_column(
        _enum(MeetingState, "meeting_state"), default=MeetingState.CREATED
    )
    owner_identity: Mapped[str] = mapped_column(String(320))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    # Null when this instance hosts the meeting; a partner's server name otherwise.
    host_instance: Mapped[str | None] = mapped_column(
        ForeignKey("partner_instances.server_name", ondelete="RESTRICT"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The last transcript line handed to the rooms and the summary service (never twice),
    # and the summary the service wrote of the transcript up to it.
    transcript_released_through: Mapped[int | None] = mapped_column(Integer, default=None)
    transcript_summary: Mapped[str | None] = mapped_column(Text, default=None)

    participants: Mapped[list[Participant]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (Index("ix_meetings_owner_identity_state", "owner_identity", "state"),)


class Participant(Base):
    """One presence of one identity in one meeting: a person who rejoins gets a new row."""

    __tablename__ = "participants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    identity: Mapped[str] = mapped_column(String(320))
    identity_kind: Mapped[IdentityKind] = mapped_column(_enum(IdentityKind, "identity_kind"))
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.PARTICIPANT)
    # Which instance the person connects through (null: this one).
    via_instance: Mapped[str | None] = mapped_column(String(255), default=None)
    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    meeting: Mapped[Meeting] = relationship(back_populates="participants")

    __table_args__ = (Index("ix_participants_identity", "identity"),)


class Invitation(Base):
    """Someone invited to a restricted meeting, by e-mail address or by Matrix/partner identity.

    `invitee` is `email:<address>` (matched against the e-mail an identity provider vouches
    for) or a full identity (`matrix:@user:server`, `partner:user@instance`, `local:...`).
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    invitee: Mapped[str] = mapped_column(String(320))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.PARTICIPANT)
    invited_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("meeting_id", "invitee"),)


class AuthSession(Base):
    """A login through an identity provider: ended at logout, so its cookie stops working.

    Guest sessions have no row (they prove nothing); the id token is kept for the
    provider's logout (id_token_hint), never shown or logged.
    """

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    identity: Mapped[str] = mapped_column(String(320), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    id_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class MatrixRoomLink(Base):
    """A Matrix room linked to a meeting; the bridge keeps one live meeting per room."""

    __tablename__ = "matrix_room_links"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    room_id: Mapped[str] = mapped_column(String(255), index=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[str] = mapped_column(String(320))
    widget_id: Mapped[str | None] = mapped_column(String(64), default=None)
    status_event_id: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class MatrixRoomSettings(Base):
    """What a Matrix room chose for the bot (its language); rooms that chose nothing have none."""

    __tablename__ = "matrix_room_settings"

    room_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TranscriptLine(Base):
    """One final utterance recognised while a moderator had subtitles on: who said it (the
    participant and the name shown then), when (seconds after the meeting started), what.
    Deleted with its meeting, or once older than `speech.transcript_retention_days`."""

    __tablename__ = "transcript_lines"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    meeting_id: Mapped[str] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    participant_id: Mapped[str] = mapped_column(String(36))
    speaker: Mapped[str] = mapped_column(String(120))
    start_seconds: Mapped[float] = mapped_column(Float)
    end_seconds: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    kept_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class PartnerInstance(Base):
    """Another ministry's or EU partner's hub that this instance trusts, with its rules.

    Rows are never deleted, since meetings refer to the instance that hosted them: a removed
    partner keeps its row with `removed_at` set. Partners declared in the configuration file
    get a row too (`source` "config", refreshed at each start) so meetings can refer to them;
    the file, not the row, says whether they are still partners.
    """

    __tablename__ = "partner_instances"

    server_name: Mapped[str] = mapped_column(String(255), primary_key=True)
    base_url: Mapped[str] = mapped_column(Text)
    # May their users join our trusted meetings without waiting?
    inbound_trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    # May our users join meetings they host?
    outbound_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Shown after the names of their people ("Finances"); null: the server name.
    label: Mapped[str | None] = mapped_column(String(120), default=None)
    # Matrix homeservers whose users belong to that instance (a JSON array of server names).
    matrix_homeservers: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # "database" (`hub federation add`) or "config" ([[federation.partners]]).
    source: Mapped[str] = mapped_column(String(16), default="database", server_default="database")
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
