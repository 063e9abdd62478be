"""Initial schema: meetings, participants, Matrix room links, partner instances.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 21:31:54.707648
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "partner_instances",
        sa.Column("server_name", sa.String(length=255), nullable=False),
        sa.Column("base_url", sa.Text(), nullable=False),
        sa.Column("inbound_trusted", sa.Boolean(), nullable=False),
        sa.Column("outbound_allowed", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("server_name", name=op.f("pk_partner_instances")),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "access_level",
            sa.Enum(
                "public",
                "trusted",
                "restricted",
                name="access_level",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "state",
            sa.Enum(
                "created",
                "active",
                "ended",
                name="meeting_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("owner_identity", sa.String(length=320), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("host_instance", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["host_instance"],
            ["partner_instances.server_name"],
            name=op.f("fk_meetings_host_instance_partner_instances"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
    )
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_meetings_owner_identity_state", ["owner_identity", "state"], unique=False
        )

    op.create_table(
        "matrix_room_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("room_id", sa.String(length=255), nullable=False),
        sa.Column("meeting_id", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("widget_id", sa.String(length=64), nullable=True),
        sa.Column("status_event_id", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_matrix_room_links_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matrix_room_links")),
    )
    with op.batch_alter_table("matrix_room_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matrix_room_links_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_matrix_room_links_room_id"), ["room_id"], unique=False)

    op.create_table(
        "participants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("meeting_id", sa.String(length=16), nullable=False),
        sa.Column("identity", sa.String(length=320), nullable=False),
        sa.Column(
            "identity_kind",
            sa.Enum(
                "local",
                "guest",
                "matrix",
                "partner",
                name="identity_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner",
                "moderator",
                "participant",
                name="role",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("via_instance", sa.String(length=255), nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_participants_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
    )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.create_index("ix_participants_identity", ["identity"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_participants_meeting_id"), ["meeting_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participants_meeting_id"))
        batch_op.drop_index("ix_participants_identity")

    op.drop_table("participants")
    with op.batch_alter_table("matrix_room_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_matrix_room_links_room_id"))
        batch_op.drop_index(batch_op.f("ix_matrix_room_links_meeting_id"))

    op.drop_table("matrix_room_links")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_index("ix_meetings_owner_identity_state")

    op.drop_table("meetings")
    op.drop_table("partner_instances")
