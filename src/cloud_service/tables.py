"""
The cloud's tables, in a registry of their own.

``metadata`` is what ``migrations/cloud/env.py`` compares against, so the edge
service's tables never leak into the cloud's migrations. Report fields are
plain columns where they are read often (reports, versions, feed) and JSON
where they are only shown (conflict siblings and bases).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from edgesync.migrate import NAMING_CONVENTION

metadata = MetaData(naming_convention=NAMING_CONVENTION)
# SQLite only auto-numbers an INTEGER PRIMARY KEY, not a BIGINT one.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class CloudTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of every cloud table."""


class Report(CloudTable, table=True):
    """The current version of each report."""

    __tablename__ = "reports"

    report_id: str = Field(primary_key=True, max_length=128)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    classification: str = Field(max_length=8)
    deleted: bool
    clock: dict[str, int] = Field(sa_type=JSON)
    clock_key: str = Field(sa_type=Text)
    created_by: str = Field(max_length=128)
    created_at: datetime
    updated_by: str = Field(max_length=128)
    updated_at: datetime
    origin: str = Field(max_length=64)
    change_id: uuid.UUID | None = None
    kind: str = Field(max_length=16)
    conflict_id: uuid.UUID | None = None
    feed_seq: int = Field(sa_type=BigInteger)


class Version(CloudTable, table=True):
    """
    One version of a report: a received change, or a version the cloud made.

    A change's own row carries ``change_id`` (unique: one history row per
    change); a merged or provisional version carries the change that caused
    it in ``trigger_change_id`` instead.
    """

    __tablename__ = "versions"
    __table_args__ = (
        Index("ix_versions_report_id_clock_key", "report_id", "clock_key"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoId)
    report_id: str = Field(max_length=128)
    change_id: uuid.UUID | None = Field(default=None, unique=True)
    trigger_change_id: uuid.UUID | None = None
    outcome: str = Field(max_length=16)
    clock: dict[str, int] = Field(sa_type=JSON)
    clock_key: str = Field(sa_type=Text)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    classification: str = Field(max_length=8)
    deleted: bool
    origin: str = Field(max_length=64)
    author: str = Field(max_length=128)
    authored_at: datetime
    received_at: datetime


class InboxEntry(CloudTable, table=True):
    """Every change id the cloud has seen, with its first outcome."""

    __tablename__ = "inbox"
    __table_args__ = (Index("ix_inbox_origin_origin_seq", "origin", "origin_seq"),)

    change_id: uuid.UUID = Field(primary_key=True)
    origin: str = Field(max_length=64)
    origin_seq: int | None = Field(default=None, sa_type=BigInteger)
    report_id: str | None = Field(default=None, max_length=128)
    outcome: str = Field(max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    conflict_id: uuid.UUID | None = None
    received_at: datetime = Field(index=True)


class FeedRow(CloudTable, table=True):
    """One entry of the feed: a version that became current."""

    __tablename__ = "feed"

    seq: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    report_id: str = Field(max_length=128)
    kind: str = Field(max_length=16)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    classification: str = Field(max_length=8)
    deleted: bool
    clock: dict[str, int] = Field(sa_type=JSON)
    change_id: uuid.UUID | None = None
    origin: str = Field(max_length=64)
    created_by: str = Field(max_length=128)
    created_at: datetime
    updated_by: str = Field(max_length=128)
    updated_at: datetime
    conflict_id: uuid.UUID | None = None


class FeedHead(CloudTable, table=True):
    """The single row holding the last feed seq handed out."""

    __tablename__ = "feed_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)


class Conflict(CloudTable, table=True):
    """A set of concurrent versions of one report that could not be merged."""

    __tablename__ = "conflicts"

    conflict_id: uuid.UUID = Field(primary_key=True)
    report_id: str = Field(max_length=128, index=True)
    status: str = Field(max_length=16)
    base_clock: dict[str, int] | None = Field(default=None, sa_type=JSON)
    base: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    conflicting_fields: list[str] = Field(sa_type=JSON)
    opened_at: datetime
    resolved_by: str | None = Field(default=None, max_length=128)
    resolved_at: datetime | None = None
    reason: str | None = Field(default=None, sa_type=Text)
    # The resolved version, kept here as well so that a conflict shows its
    # outcome without a lookup in the report's history.
    resolution_change_id: uuid.UUID | None = None
    resolution_clock: dict[str, int] | None = Field(default=None, sa_type=JSON)
    resolution_fields: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    kept_change_id: uuid.UUID | None = None


class ConflictSiblingRow(CloudTable, table=True):
    """One sibling of a conflict; a retried change never joins twice."""

    __tablename__ = "conflict_siblings"
    __table_args__ = (UniqueConstraint("conflict_id", "change_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=AutoId)
    conflict_id: uuid.UUID = Field(foreign_key="conflicts.conflict_id")
    change_id: uuid.UUID | None = None
    origin: str = Field(max_length=64)
    author: str = Field(max_length=128)
    authored_at: datetime
    clock: dict[str, int] = Field(sa_type=JSON)
    fields: dict[str, Any] = Field(sa_type=JSON)


class Edge(CloudTable, table=True):
    """What the cloud knows of each edge's pushes and pulls."""

    __tablename__ = "edges"

    edge_id: str = Field(primary_key=True, max_length=64)
    acked_seq: int = Field(default=0, sa_type=BigInteger)
    max_seq: int = Field(default=0, sa_type=BigInteger)
    changes_received: int = Field(default=0, sa_type=BigInteger)
    rejected: int = Field(default=0, sa_type=BigInteger)
    first_push_at: datetime | None = None
    last_push_at: datetime | None = None
    last_pull_at: datetime | None = None
    feed_cursor: int | None = Field(default=None, sa_type=BigInteger)
    # Set by an administrator's registration; read on every authenticated
    # request, so a revocation holds at once across all cloud replicas.
    public_key_pem: str | None = Field(default=None, sa_type=Text)
    clearance: str | None = Field(default=None, max_length=8)
    registered_at: datetime | None = None
    revoked_at: datetime | None = None


class AuditRow(CloudTable, table=True):
    """
    One audit record (``syncproto.audit``): append-only, chained by hash.

    On PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE; on SQLite
    triggers refuse UPDATE and DELETE (migration 0004).
    """

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_report_id_seq", "report_id", "seq"),
        Index("ix_audit_actor_seq", "actor", "seq"),
        Index("ix_audit_edge_id_seq", "edge_id", "seq"),
        Index("ix_audit_at", "at"),
    )

    seq: int = Field(
        primary_key=True, sa_type=BigInteger, sa_column_kwargs={"autoincrement": False}
    )
    at: datetime
    action: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    edge_id: str | None = Field(default=None, max_length=64)
    report_id: str | None = Field(default=None, max_length=128)
    change_id: uuid.UUID | None = None
    conflict_id: uuid.UUID | None = None
    outcome: str | None = Field(default=None, max_length=16)
    reason: str | None = Field(default=None, sa_type=Text)
    before_digest: str | None = Field(default=None, max_length=64)
    after_digest: str | None = Field(default=None, max_length=64)
    classification: str | None = Field(default=None, max_length=8)
    request_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(CloudTable, table=True):
    """The single row holding the last audit seq and its hash."""

    __tablename__ = "audit_head"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = Field(sa_type=BigInteger)
    hash: str = Field(max_length=64)


def _table(model: type[CloudTable]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


# Core handles for set-wise statements (bulk inserts, upserts, column reads).
reports_table = _table(Report)
versions_table = _table(Version)
inbox_table = _table(InboxEntry)
feed_table = _table(FeedRow)
feed_head_table = _table(FeedHead)
conflicts_table = _table(Conflict)
siblings_table = _table(ConflictSiblingRow)
edges_table = _table(Edge)
audit_table = _table(AuditRow)
audit_head_table = _table(AuditHead)
