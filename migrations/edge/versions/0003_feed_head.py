"""The feed head the cloud named at the last pull, so an edge knows its lag.

Revision ID: 0003_feed_head
Revises: 0002_audit
Create Date: 2026-12-04 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_feed_head"
down_revision: str | Sequence[str] | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The default fills the existing row; the next pull writes the real head.
    with op.batch_alter_table("sync_meta", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("feed_head", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_meta", schema=None) as batch_op:
        batch_op.drop_column("feed_head")
