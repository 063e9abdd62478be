"""Transcripts: each final utterance recognised while subtitles were on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transcript_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("meeting_id", sa.String(length=16), nullable=False),
        sa.Column("participant_id", sa.String(length=36), nullable=False),
        sa.Column("speaker", sa.String(length=120), nullable=False),
        sa.Column("start_seconds", sa.Float(), nullable=False),
        sa.Column("end_seconds", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_transcript_lines_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_lines")),
    )
    with op.batch_alter_table("transcript_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transcript_lines_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transcript_lines_kept_at"), ["kept_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transcript_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcript_lines_kept_at"))
        batch_op.drop_index(batch_op.f("ix_transcript_lines_meeting_id"))
    op.drop_table("transcript_lines")
