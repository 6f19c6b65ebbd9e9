"""Edge registration: each edge's public key, clearance and revocation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("edges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key_pem", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "clearance",
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "registered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("edges", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("registered_at")
        batch_op.drop_column("clearance")
        batch_op.drop_column("public_key_pem")
