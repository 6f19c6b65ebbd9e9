"""
The edge's audit log: records appended with the actions they record, and read back.

:func:`append` runs inside the writer job of the action it records, so the
record and the action share one savepoint: a write that fails leaves no
record, and no action is stored without one. Records are chained by
hash (``syncproto.audit``); ``audit_head`` names the last one, and SQLite
triggers refuse UPDATE and DELETE on ``audit``. Readers page by ``seq`` and
stream through a cursor, so neither a page nor a verification of a million
records holds more than a page in memory.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

import structlog

from edge_service.db import from_db_time, to_db_time, to_json
from syncproto import Classification
from syncproto.audit import (
    RECORD_FIELDS,
    AuditEvent,
    AuditFilter,
    AuditPage,
    AuditRecord,
    AuditVerification,
    ChainCheck,
    chain,
)

log = structlog.get_logger()

_HEAD_ID = 1
_COLUMNS = RECORD_FIELDS
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM audit"
_INSERT = (
    f"INSERT INTO audit ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)})"
)
# Rows fetched at a time when streaming: a page, never the whole log.
_STREAM_ROWS = 500


class UnreadableRecordError(ValueError):
    """A stored row is not an audit record: it was written outside the service."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"audit record {seq} is not readable")
        self.seq = seq


def append(
    conn: sqlite3.Connection, events: Sequence[AuditEvent], *, at: datetime
) -> list[AuditRecord]:
    """
    Chain *events* after the head, store them and move the head; call in a job.

    The head is read and written on the writer's connection inside the job's
    savepoint, so two jobs never take the same ``seq`` and a job rolled back
    gives its numbers back.
    """
    head = conn.execute(
        "SELECT seq, hash FROM audit_head WHERE id = ?", (_HEAD_ID,)
    ).fetchone()
    records = chain(events, last_seq=head["seq"], last_hash=head["hash"], at=at)
    if not records:
        return records
    conn.executemany(_INSERT, [_row(record) for record in records])
    conn.execute(
        "UPDATE audit_head SET seq = ?, hash = ? WHERE id = ?",
        (records[-1].seq, records[-1].hash, _HEAD_ID),
    )
    log.debug(
        "audit_records_appended", first_seq=records[0].seq, last_seq=records[-1].seq
    )

    return records


def list_records(
    conn: sqlite3.Connection,
    filters: AuditFilter,
    *,
    limit: int,
    after: int = 0,
    through: int | None = None,
    clearance: Classification | None = None,
) -> AuditPage:
    """
    Return up to *limit* records after *after* (up to *through*), in seq order.

    Records about a report above *clearance* are left out, as the report
    itself is (docs/protocol.md, "Who may call").
    """
    where, args = _where(filters, after, through, clearance)
    rows = conn.execute(
        f"{_SELECT} WHERE {where} ORDER BY seq LIMIT ?", (*args, limit + 1)
    ).fetchall()
    records = [_record(row) for row in rows[:limit]]
    next_after = records[-1].seq if len(rows) > limit else None

    return AuditPage(records=records, next_after=next_after)


def iter_records(
    conn: sqlite3.Connection, filters: AuditFilter
) -> Generator[AuditRecord, None, None]:
    """
    Yield every record matching *filters* in seq order, a few rows at a time.

    Raises :class:`UnreadableRecordError` at a row that is no audit record.
    """
    where, args = _where(filters, 0, None, None)
    cursor = conn.execute(f"{_SELECT} WHERE {where} ORDER BY seq", args)
    while rows := cursor.fetchmany(_STREAM_ROWS):
        for row in rows:
            yield _record(row)


def verify(
    conn: sqlite3.Connection, anchors: dict[int, str] | None = None
) -> AuditVerification:
    """
    Check the whole chain in seq order, then its end against ``audit_head``.

    *anchors* are ``seq: hash`` pairs noted outside the database; they catch
    a chain rewritten from some record on, head included. Head and records
    are read in one snapshot, so a record appended meanwhile cannot look like
    one inserted behind the service's back.
    """
    with _snapshot(conn):
        head = conn.execute(
            "SELECT seq, hash FROM audit_head WHERE id = ?", (_HEAD_ID,)
        ).fetchone()
        check = ChainCheck(anchors=anchors)
        try:
            with contextlib.closing(iter_records(conn, AuditFilter())) as records:
                for record in records:
                    if not check.add(record):
                        break
        except UnreadableRecordError as exc:
            return _unreadable(check, exc.seq, head["seq"], head["hash"])

    return check.finish(head["seq"], head["hash"])


@contextlib.contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    # A read transaction: in WAL mode every statement in it sees one state.
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("ROLLBACK")


def _unreadable(
    check: ChainCheck, seq: int, head_seq: int, head_hash: str
) -> AuditVerification:
    # The check stops at its first break, so up to *seq* the chain held,
    # unless records are missing right before it: those come first.
    first_bad = min(seq, check.expected)
    return AuditVerification(
        ok=False,
        checked=check.checked + 1,
        head_seq=head_seq,
        head_hash=head_hash,
        first_bad_seq=first_bad,
        problem=f"record {seq} is not a readable audit record: it was altered",
    )


def _where(
    filters: AuditFilter,
    after: int,
    through: int | None,
    clearance: Classification | None,
) -> tuple[str, list[Any]]:
    where = ["seq > ?"]
    args: list[Any] = [after]
    equal = {
        "report_id": filters.report_id,
        "actor": filters.actor,
        "edge_id": filters.edge_id,
        "action": None if filters.action is None else filters.action.value,
    }
    for column, value in equal.items():
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if filters.since is not None:
        where.append("at >= ?")
        args.append(to_db_time(filters.since))
    if filters.until is not None:
        where.append("at < ?")
        args.append(to_db_time(filters.until))
    if through is not None:
        where.append("seq <= ?")
        args.append(through)
    if clearance is not None:
        visible = [c.value for c in Classification if c.rank <= clearance.rank]
        marks = ", ".join("?" * len(visible))
        where.append(f"(classification IS NULL OR classification IN ({marks}))")
        args.extend(visible)

    return " AND ".join(where), args


def _row(record: AuditRecord) -> tuple[Any, ...]:
    return (
        record.seq,
        to_db_time(record.at),
        record.action.value,
        record.actor,
        record.edge_id,
        record.report_id,
        None if record.change_id is None else str(record.change_id),
        None if record.conflict_id is None else str(record.conflict_id),
        record.outcome,
        record.reason,
        record.before_digest,
        record.after_digest,
        record.classification,
        record.request_id,
        to_json(record.detail),
        record.prev_hash,
        record.hash,
    )


def _record(row: sqlite3.Row) -> AuditRecord:
    # Validated, not constructed: a row altered in the file must not pass
    # for a record, and fails here instead.
    try:
        data = dict(row)
        data["at"] = from_db_time(row["at"])
        data["detail"] = None if row["detail"] is None else json.loads(row["detail"])
        return AuditRecord.model_validate(data)
    except (ValueError, TypeError) as exc:
        raise UnreadableRecordError(row["seq"]) from exc
