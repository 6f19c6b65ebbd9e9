"""Reports, outbox and sync_meta: the edge's first schema.

Revision ID: 0001_edge_initial
Revises:
Create Date: 2026-12-03 17:30:52.394758
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0001_edge_initial"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column(
            "title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "classification", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False
        ),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "updated_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "sync_state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("cloud_clock", sa.JSON(), nullable=True),
        sa.Column("cloud_fields", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_sync_state", ["sync_state"], unique=False)

    op.create_table(
        "sync_meta",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_cursor", sa.Integer(), nullable=False),
        sa.Column("entries_pulled", sa.Integer(), nullable=False),
        sa.Column("last_push_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_pull_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column(
            "last_success_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True
        ),
        sa.Column("last_purge_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_meta")),
    )
    op.create_table(
        "outbox",
        sa.Column("origin_seq", sa.Integer(), nullable=False),
        sa.Column(
            "change_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False
        ),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.report_id"],
            name=op.f("fk_outbox_report_id_reports"),
        ),
        sa.PrimaryKeyConstraint("origin_seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("change_id", name=op.f("uq_outbox_change_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_report_id_state", ["report_id", "state"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_state_origin_seq", ["state", "origin_seq"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_origin_seq")
        batch_op.drop_index("ix_outbox_report_id_state")

    op.drop_table("outbox")
    op.drop_table("sync_meta")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_sync_state")

    op.drop_table("reports")
