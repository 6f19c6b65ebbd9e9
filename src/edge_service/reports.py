"""
Reports: the write jobs the API hands to the writer, and the read queries.

A write job reads the current row, ticks its clock at this edge, writes the
row, appends the change to the outbox and its record to the audit log, all
inside the writer's savepoint: either all three are stored or none is
(docs/protocol.md, "The edge write path"; docs/audit.md).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from edge_service import audit, outbox
from edge_service.db import from_db_time, to_db_time, to_json
from edge_service.errors import (
    BaseClockMismatchError,
    ForbiddenError,
    ReportExistsError,
    ReportNotFoundError,
)
from edge_service.models import (
    CloudVersion,
    ReportCreate,
    ReportPublic,
    ReportsPublic,
    ReportUpdate,
    SyncState,
)
from syncproto import Change, ChangeOp, Classification, Clock, ReportFields, tick
from syncproto.audit import AuditAction, AuditEvent, fields_digest
from syncproto.merge import highest_classification

_AUDIT_ACTIONS = {
    ChangeOp.CREATE: AuditAction.REPORT_CREATED,
    ChangeOp.UPDATE: AuditAction.REPORT_UPDATED,
    ChangeOp.DELETE: AuditAction.REPORT_DELETED,
}
_COLUMNS = (
    "report_id, title, content, classification, deleted, clock, created_by, "
    "created_at, updated_by, updated_at, sync_state, cloud_clock, cloud_fields"
)


@dataclass(frozen=True)
class Author:
    """Who writes, where and when: the context of one local write."""

    edge_id: str
    analyst: str
    at: datetime
    # The highest marking the analyst may touch; None when auth is off.
    clearance: Classification | None = None
    # The API request the write came in, named in its audit record.
    request_id: str | None = None


def within(clearance: Classification | None, classification: Classification) -> bool:
    """Return whether a report marked *classification* is within *clearance*."""
    return clearance is None or classification.rank <= clearance.rank


def _check_clearance(author: Author, classification: Classification) -> None:
    if not within(author.clearance, classification):
        msg = f"a {classification.value} report is above your clearance or this edge's"
        raise ForbiddenError(msg)


def create_report(
    conn: sqlite3.Connection, author: Author, new: ReportCreate
) -> ReportPublic:
    """Insert a new report and its ``create`` change."""
    _check_clearance(author, new.classification)
    fields = ReportFields(
        title=new.title, content=new.content, classification=new.classification
    )
    clock = tick({}, author.edge_id)
    stamp = to_db_time(author.at)
    try:
        # The primary key answers "does it exist" in the same statement.
        conn.execute(
            f"INSERT INTO reports ({_COLUMNS}) "
            "VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, NULL, NULL)",
            (
                new.report_id,
                fields.title,
                fields.content,
                fields.classification.value,
                to_json(clock),
                author.analyst,
                stamp,
                author.analyst,
                stamp,
                SyncState.PENDING.value,
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise ReportExistsError(new.report_id) from exc
    change = outbox.append_change(
        conn, author, new.report_id, ChangeOp.CREATE, fields, base_clock={}
    )
    _audit(conn, author, change, before=None)

    return ReportPublic(
        report_id=new.report_id,
        **fields.model_dump(),
        clock=clock,
        created_by=author.analyst,
        created_at=author.at,
        updated_by=author.analyst,
        updated_at=author.at,
        sync_state=SyncState.PENDING,
    )


def update_report(
    conn: sqlite3.Connection, author: Author, report_id: str, patch: ReportUpdate
) -> ReportPublic:
    """Apply a partial edit on top of the current version."""
    current = _require_visible(conn, author, report_id)
    if patch.classification is not None:
        # Nor may an analyst mark a report above what they could read back.
        _check_clearance(author, patch.classification)
    if patch.base_clock is not None and patch.base_clock != current.clock:
        raise BaseClockMismatchError(report_id, patch.base_clock, current.clock)
    fields = ReportFields(
        title=current.title if patch.title is None else patch.title,
        content=current.content if patch.content is None else patch.content,
        classification=patch.classification or current.classification,
    )
    return _write_version(conn, author, current, ChangeOp.UPDATE, fields)


def delete_report(
    conn: sqlite3.Connection, author: Author, report_id: str
) -> ReportPublic:
    """Mark a report deleted; the row stays so that the delete can sync."""
    current = _require_visible(conn, author, report_id)
    fields = ReportFields(
        title=current.title,
        content=current.content,
        classification=current.classification,
        deleted=True,
    )
    return _write_version(conn, author, current, ChangeOp.DELETE, fields)


def _write_version(
    conn: sqlite3.Connection,
    author: Author,
    current: ReportPublic,
    op: ChangeOp,
    fields: ReportFields,
) -> ReportPublic:
    clock = tick(current.clock, author.edge_id)
    conn.execute(
        "UPDATE reports SET title = ?, content = ?, classification = ?, "
        "deleted = ?, clock = ?, updated_by = ?, updated_at = ?, sync_state = ? "
        "WHERE report_id = ?",
        (
            fields.title,
            fields.content,
            fields.classification.value,
            fields.deleted,
            to_json(clock),
            author.analyst,
            to_db_time(author.at),
            SyncState.PENDING.value,
            current.report_id,
        ),
    )
    change = outbox.append_change(
        conn, author, current.report_id, op, fields, base_clock=current.clock
    )
    _audit(conn, author, change, before=_fields(current))

    # What was just written, without reading it back on the write path.
    return current.model_copy(
        update={
            **fields.model_dump(),
            "clock": clock,
            "updated_by": author.analyst,
            "updated_at": author.at,
            "sync_state": SyncState.PENDING,
            "cloud": None,
        }
    )


def _audit(
    conn: sqlite3.Connection,
    author: Author,
    change: Change,
    *,
    before: ReportFields | None,
) -> None:
    # Digests, not fields: the log shows that and when a report changed, and
    # lets a copy be checked against it, without holding its text.
    sides = [change.fields] if before is None else [before, change.fields]
    event = AuditEvent(
        action=_AUDIT_ACTIONS[change.op],
        actor=author.analyst,
        edge_id=author.edge_id,
        report_id=change.report_id,
        change_id=change.change_id,
        before_digest=fields_digest(before),
        after_digest=fields_digest(change.fields),
        classification=highest_classification(sides).value,
        request_id=author.request_id,
    )
    audit.append(conn, [event], at=author.at)


def _fields(report: ReportPublic) -> ReportFields:
    return ReportFields(
        title=report.title,
        content=report.content,
        classification=report.classification,
        deleted=report.deleted,
    )


def _require(conn: sqlite3.Connection, report_id: str) -> ReportPublic:
    report = _load(conn, report_id)
    if report is None or report.deleted:
        raise ReportNotFoundError(report_id)
    return report


def _require_visible(
    conn: sqlite3.Connection, author: Author, report_id: str
) -> ReportPublic:
    # A report above the author's clearance is missing, exactly as when it is
    # not there at all: a 403 would tell that it exists.
    report = _require(conn, report_id)
    if not within(author.clearance, report.classification):
        raise ReportNotFoundError(report_id)
    return report


def _load(conn: sqlite3.Connection, report_id: str) -> ReportPublic | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM reports WHERE report_id = ?", (report_id,)
    ).fetchone()
    return None if row is None else to_public(row)


def get_report(
    conn: sqlite3.Connection,
    report_id: str,
    *,
    include_deleted: bool = False,
    clearance: Classification | None = None,
) -> ReportPublic:
    """
    Return one report, or raise :class:`ReportNotFoundError`.

    A report above *clearance* is not found: its existence is itself withheld.
    """
    report = _load(conn, report_id)
    if report is None or (report.deleted and not include_deleted):
        raise ReportNotFoundError(report_id)
    if not within(clearance, report.classification):
        raise ReportNotFoundError(report_id)
    return report


def list_reports(
    conn: sqlite3.Connection,
    *,
    limit: int,
    after: str | None = None,
    classification: Classification | None = None,
    sync_state: SyncState | None = None,
    include_deleted: bool = False,
    clearance: Classification | None = None,
) -> ReportsPublic:
    """Return a page of reports in ``report_id`` order, none above *clearance*."""
    where = ["report_id > ?"]
    args: list[Any] = [after or ""]
    if clearance is not None:
        # Filtered in SQL, so a page is still full when hidden reports exist.
        visible = [c.value for c in Classification if within(clearance, c)]
        where.append(f"classification IN ({', '.join('?' * len(visible))})")
        args.extend(visible)
    if classification is not None:
        where.append("classification = ?")
        args.append(classification.value)
    if sync_state is not None:
        where.append("sync_state = ?")
        args.append(sync_state.value)
    if not include_deleted:
        where.append("NOT deleted")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM reports WHERE {' AND '.join(where)} "
        "ORDER BY report_id LIMIT ?",
        (*args, limit + 1),
    ).fetchall()
    reports = [to_public(row) for row in rows[:limit]]
    next_after = reports[-1].report_id if len(rows) > limit else None

    return ReportsPublic(reports=reports, next_after=next_after)


def to_public(row: sqlite3.Row) -> ReportPublic:
    """Build the API view of a ``reports`` row."""
    cloud = None
    if row["sync_state"] == SyncState.CONFLICT and row["cloud_fields"] is not None:
        cloud = CloudVersion(
            fields=ReportFields.model_validate(json.loads(row["cloud_fields"])),
            clock=json.loads(row["cloud_clock"]),
        )
    clock: Clock = json.loads(row["clock"])
    return ReportPublic(
        report_id=row["report_id"],
        title=row["title"],
        content=row["content"],
        classification=Classification(row["classification"]),
        deleted=bool(row["deleted"]),
        clock=clock,
        created_by=row["created_by"],
        created_at=from_db_time(row["created_at"]),
        updated_by=row["updated_by"],
        updated_at=from_db_time(row["updated_at"]),
        sync_state=SyncState(row["sync_state"]),
        cloud=cloud,
    )
