"""
The edge's tables, in a registry of their own.

``metadata`` is what ``migrations/edge/env.py`` compares against, so the
cloud's tables never leak into the edge's migrations. Every write goes through
the writer thread as plain SQL (``edge_service.writer``); these classes declare
the schema once for alembic and document the columns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, MetaData, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from edgesync.migrate import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class EdgeTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of every edge table."""


class Report(EdgeTable, table=True):
    """
    The local version of each report, written here or pulled from the cloud.

    ``cloud_fields`` and ``cloud_clock`` hold the newest version pulled from
    the feed, shown next to the local one while the report is in conflict and
    restored when the cloud rejects the local change.
    """

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_sync_state", "sync_state"),)

    report_id: str = Field(primary_key=True, max_length=128)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    classification: str = Field(max_length=8)
    deleted: bool = False
    clock: dict[str, int] = Field(sa_type=JSON)
    created_by: str = Field(max_length=128)
    created_at: datetime
    updated_by: str = Field(max_length=128)
    updated_at: datetime
    sync_state: str = Field(max_length=16)
    cloud_clock: dict[str, int] | None = Field(default=None, sa_type=JSON)
    cloud_fields: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Outbox(EdgeTable, table=True):
    """
    One change per row, in the order it was written.

    ``origin_seq`` is an AUTOINCREMENT rowid, so it rises by one per change
    and is never reused, even after a purge (docs/protocol.md, "A change on the wire").
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_origin_seq", "state", "origin_seq"),
        Index("ix_outbox_report_id_state", "report_id", "state"),
        {"sqlite_autoincrement": True},
    )

    origin_seq: int | None = Field(default=None, primary_key=True, sa_type=Integer)
    change_id: str = Field(max_length=36, unique=True)
    report_id: str = Field(
        max_length=128, sa_column_args=[ForeignKey("reports.report_id")]
    )
    payload: str = Field(sa_type=Text)
    state: str = Field(max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    attempts: int = 0
    created_at: datetime
    answered_at: datetime | None = None


class SyncMeta(EdgeTable, table=True):
    """The sync loop's single row: feed cursor and the health of the last runs."""

    __tablename__ = "sync_meta"

    id: int = Field(primary_key=True, sa_type=Integer)
    feed_cursor: int = 0
    # The feed head the cloud named at the last pull: cursor and head give lag.
    feed_head: int = 0
    entries_pulled: int = 0
    last_push_at: datetime | None = None
    last_pull_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = Field(default=None, sa_type=Text)
    consecutive_failures: int = 0
    next_attempt_at: datetime | None = None
    last_purge_at: datetime | None = None


class Audit(EdgeTable, table=True):
    """
    The audit log: one record per action, each chained to the one before.

    ``seq`` is given by ``edge_service.audit.append`` from ``audit_head``, not
    by SQLite, so a gap is a removed record. ``at`` is stored as
    ``edge_service.db.to_db_time`` text; ``detail`` is JSON text. Triggers of
    migration 0002 refuse every UPDATE and DELETE.
    """

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_report_id", "report_id"),
        Index("ix_audit_actor", "actor"),
    )

    seq: int = Field(
        primary_key=True, sa_type=Integer, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime
    action: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    edge_id: str | None = Field(default=None, max_length=64)
    report_id: str | None = Field(default=None, max_length=128)
    change_id: str | None = Field(default=None, max_length=36)
    conflict_id: str | None = Field(default=None, max_length=36)
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    before_digest: str | None = Field(default=None, max_length=64)
    after_digest: str | None = Field(default=None, max_length=64)
    classification: str | None = Field(default=None, max_length=8)
    request_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(EdgeTable, table=True):
    """
    The single row (``id = 1``) naming the last audit record written.

    Verification compares the end of the chain with it, so a record added
    after the head, or the last ones removed, shows.
    """

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_type=Integer)
    seq: int
    hash: str = Field(max_length=64)
