"""Partner instances: a label, their Matrix homeservers, where each was declared, removal.

Removed partners keep their row (meetings refer to the instance that hosted them), marked by
removed_at; partners of the configuration file get rows too, with source "config".

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partner_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("label", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("matrix_homeservers", sa.JSON(), server_default="[]", nullable=False)
        )
        batch_op.add_column(
            sa.Column("source", sa.String(length=16), server_default="database", nullable=False)
        )
        batch_op.add_column(sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Removed partners would come back as partners without this column: drop them first.
    partners = sa.table("partner_instances", sa.column("removed_at"))
    op.execute(partners.delete().where(partners.c.removed_at.is_not(None)))
    with op.batch_alter_table("partner_instances", schema=None) as batch_op:
        batch_op.drop_column("removed_at")
        batch_op.drop_column("source")
        batch_op.drop_column("matrix_homeservers")
        batch_op.drop_column("label")
