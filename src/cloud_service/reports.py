"""Reading reports and their history."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloud_service.errors import ReportNotFound
from cloud_service.state import fields_of, version_columns
from cloud_service.tables import reports_table, versions_table
from syncproto import Classification, ReportFields, VersionKind
from syncproto.audit import AuditRecord


class ReportPublic(BaseModel):
    """A report's current version at the cloud."""

    report_id: str
    title: str
    content: str
    classification: Classification
    deleted: bool
    clock: dict[str, int]
    kind: VersionKind = Field(description="How this version became current.")
    change_id: uuid.UUID | None = Field(
        description="The change whose snapshot this is; null for a version the "
        "cloud made (merged or provisional)."
    )
    origin: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    conflict_id: uuid.UUID | None = Field(
        description="The open conflict on this report, if any."
    )
    feed_seq: int


class ReportsPublic(BaseModel):
    """A page of reports ordered by report id."""

    reports: list[ReportPublic]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )


class VersionPublic(BaseModel):
    """One version in a report's history."""

    version_id: int
    change_id: uuid.UUID | None
    trigger_change_id: uuid.UUID | None = Field(
        description="For a merged or provisional version: the change that made it."
    )
    outcome: str
    clock: dict[str, int]
    fields: ReportFields
    origin: str
    author: str
    authored_at: datetime
    received_at: datetime


class ReportHistoryPublic(BaseModel):
    """Every version of a report the cloud received or made, oldest first."""

    report_id: str
    versions: list[VersionPublic]
    audit: list[AuditRecord] | None = Field(
        default=None,
        description="The report's audit trail, oldest first, for callers with "
        "the auditor role (the first 1000 records; read on with "
        "`GET /audit?report_id=`); null for others.",
    )


async def list_reports(
    session: AsyncSession,
    *,
    after: str | None,
    limit: int,
    classification: Classification | None,
    include_deleted: bool,
    visible: frozenset[Classification] | None = None,
    search: str | None = None,
) -> ReportsPublic:
    """
    Return up to *limit* reports with an id above *after*, of *visible* ones.

    *search* keeps the reports whose id or title contains it, ignoring case.
    """
    columns = reports_table.c
    query = select(reports_table).order_by(columns.report_id).limit(limit + 1)
    if after is not None:
        query = query.where(columns.report_id > after)
    if classification is not None:
        query = query.where(columns.classification == classification.value)
    if not include_deleted:
        query = query.where(columns.deleted.is_(False))
    if visible is not None:
        query = query.where(columns.classification.in_(sorted(visible)))
    if search:
        # The text is matched literally: its % and _ are no wildcards.
        escaped = re.sub(r"([\\%_])", r"\\\1", search)
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                columns.report_id.ilike(pattern, escape="\\"),
                columns.title.ilike(pattern, escape="\\"),
            )
        )
    rows = (await session.execute(query)).all()
    page = [_public(row) for row in rows[:limit]]
    more = len(rows) > limit

    return ReportsPublic(reports=page, next_after=page[-1].report_id if more else None)


async def get_report(session: AsyncSession, report_id: str) -> ReportPublic:
    """Return one report, or raise ``ReportNotFound``."""
    query = select(reports_table).where(reports_table.c.report_id == report_id)
    row = (await session.execute(query)).first()
    if row is None:
        raise ReportNotFound(report_id)
    return _public(row)


async def get_history(session: AsyncSession, report_id: str) -> ReportHistoryPublic:
    """Return a report's versions, or raise ``ReportNotFound``."""
    columns = versions_table.c
    query = (
        select(versions_table)
        .where(columns.report_id == report_id)
        .order_by(columns.id)
    )
    rows = (await session.execute(query)).all()
    if not rows:
        raise ReportNotFound(report_id)
    return ReportHistoryPublic(
        report_id=report_id, versions=[_version(row) for row in rows]
    )


def _public(row: Any) -> ReportPublic:
    return ReportPublic(
        **version_columns(row), **fields_of(row).model_dump(), feed_seq=row.feed_seq
    )


def _version(row: Any) -> VersionPublic:
    return VersionPublic(
        version_id=row.id,
        change_id=row.change_id,
        trigger_change_id=row.trigger_change_id,
        outcome=row.outcome,
        clock=row.clock,
        fields=fields_of(row),
        origin=row.origin,
        author=row.author,
        authored_at=row.authored_at,
        received_at=row.received_at,
    )
