"""Conflict resolution: the resolved version's id, clock, fields and kept sibling.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution_change_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("resolution_clock", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("resolution_fields", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("kept_change_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    # SQLite drops columns only by copying the table, which batch mode does.
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_column("kept_change_id")
        batch_op.drop_column("resolution_fields")
        batch_op.drop_column("resolution_clock")
        batch_op.drop_column("resolution_change_id")
