"""Audit log: append-only records chained by hash, and the head of the chain.

Revision ID: 0002_audit
Revises: 0001_edge_initial
Create Date: 2026-12-04 07:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002_audit"
down_revision: str | Sequence[str] | None = "0001_edge_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# syncproto.audit.GENESIS_HASH, written out so this revision never changes.
GENESIS_HASH = "0" * 64
APPEND_ONLY = "audit records are append-only"


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column(
            "action", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False
        ),
        sa.Column(
            "actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False
        ),
        sa.Column(
            "edge_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "report_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True
        ),
        sa.Column(
            "change_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True
        ),
        sa.Column(
            "conflict_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True
        ),
        sa.Column(
            "outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "before_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "after_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column(
            "classification", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True
        ),
        sa.Column(
            "request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
        ),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column(
            "prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False
        ),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_actor", ["actor"], unique=False)
        batch_op.create_index("ix_audit_report_id", ["report_id"], unique=False)
    # A later revision that rebuilds this table in batch mode drops these
    # triggers with it, and must create them again.
    for statement in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_no_{statement.lower()} BEFORE {statement} ON audit "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH}])
    # The head only moves forward: moving it back would hide a cut-off tail.
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head"
        " WHEN NEW.seq < OLD.seq"
        " BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
        " BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward'); END"
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.execute("DROP TRIGGER audit_no_delete")
    op.execute("DROP TRIGGER audit_no_update")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_report_id")
        batch_op.drop_index("ix_audit_actor")

    op.drop_table("audit")
