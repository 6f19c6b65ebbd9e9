"""Cloud schema: reports, versions, inbox, feed, conflicts and edges.

Revision ID: 0001
Revises:
Create Date: 2026-12-03 17:27:33.781965
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conflicts",
        sa.Column("conflict_id", sa.Uuid(), nullable=False),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column(
            "status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("base_clock", sa.JSON(), nullable=True),
        sa.Column("base", sa.JSON(), nullable=True),
        sa.Column("conflicting_fields", sa.JSON(), nullable=False),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "resolved_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column("resolved_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("conflict_id", name=op.f("pk_conflicts")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conflicts_report_id"), ["report_id"], unique=False
        )

    op.create_table(
        "edges",
        sa.Column(
            "edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("acked_seq", sa.BigInteger(), nullable=False),
        sa.Column("max_seq", sa.BigInteger(), nullable=False),
        sa.Column("changes_received", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("first_push_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_push_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_pull_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("feed_cursor", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("edge_id", name=op.f("pk_edges")),
    )
    op.create_table(
        "feed",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "classification", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False
        ),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column(
            "origin", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "updated_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("conflict_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_feed")),
    )
    feed_head = op.create_table(
        "feed_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_head")),
    )
    # The feed's single counter row: every push takes its seqs from it.
    op.bulk_insert(feed_head, [{"id": 1, "seq": 0}])
    op.create_table(
        "inbox",
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column(
            "origin", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("origin_seq", sa.BigInteger(), nullable=True),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column(
            "outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("conflict_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("change_id", name=op.f("pk_inbox")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_origin_origin_seq", ["origin", "origin_seq"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbox_received_at"), ["received_at"], unique=False
        )

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
        sa.Column("clock_key", sa.Text(), nullable=False),
        sa.Column(
            "created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "updated_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "origin", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("conflict_id", sa.Uuid(), nullable=True),
        sa.Column("feed_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
    )
    op.create_table(
        "versions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column("trigger_change_id", sa.Uuid(), nullable=True),
        sa.Column(
            "outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False
        ),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column("clock_key", sa.Text(), nullable=False),
        sa.Column(
            "title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "classification", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False
        ),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column(
            "origin", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "author", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("authored_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("change_id", name=op.f("uq_versions_change_id")),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_versions_report_id_clock_key", ["report_id", "clock_key"], unique=False
        )

    op.create_table(
        "conflict_siblings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("conflict_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column(
            "origin", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column(
            "author", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column("authored_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conflict_id"],
            ["conflicts.conflict_id"],
            name=op.f("fk_conflict_siblings_conflict_id_conflicts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflict_siblings")),
        sa.UniqueConstraint(
            "conflict_id", "change_id", name=op.f("uq_conflict_siblings_conflict_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("conflict_siblings")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index("ix_versions_report_id_clock_key")

    op.drop_table("versions")
    op.drop_table("reports")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbox_received_at"))
        batch_op.drop_index("ix_inbox_origin_origin_seq")

    op.drop_table("inbox")
    op.drop_table("feed_head")
    op.drop_table("feed")
    op.drop_table("edges")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conflicts_report_id"))

    op.drop_table("conflicts")
