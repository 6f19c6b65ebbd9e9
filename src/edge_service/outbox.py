"""
The outbox: every local change, in the order it was written, until answered.

Rows are appended by the report write jobs and marked by the pusher, one
writer job per answered batch, so a batch is never half marked. Answered rows
are purged after a retention period; pending rows are kept forever.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from edge_service.db import from_db_time, from_db_time_or_none, to_db_time
from edge_service.models import (
    ChangeReason,
    OutboxEntryPublic,
    OutboxPublic,
    OutboxState,
    SyncState,
)
from syncproto import Change, ChangeOp, Classification, Clock, ReportFields, tick

if TYPE_CHECKING:
    from edge_service.reports import Author

# States that still stand between a report and "synced".
_UNFINISHED = (OutboxState.PENDING.value, OutboxState.HELD.value)
# Answered for good, and safe to purge after the retention period.
_DELIVERED = tuple(
    state.value
    for state in OutboxState
    if state not in (OutboxState.PENDING, OutboxState.HELD, OutboxState.REJECTED)
)


@dataclass(frozen=True)
class PendingChange:
    """A change waiting to be pushed, with its payload encoded as it is sent."""

    origin_seq: int
    change_id: str
    report_id: str
    payload: bytes


@dataclass(frozen=True)
class Answer:
    """What became of one change: an outcome from the cloud, or held here."""

    change_id: str
    state: OutboxState
    reason: str | None = None


def append_change(
    conn: sqlite3.Connection,
    author: Author,
    report_id: str,
    op: ChangeOp,
    fields: ReportFields,
    *,
    base_clock: Clock,
) -> Change:
    """Append the change of a local write; its ``origin_seq`` is the new rowid."""
    change_id = uuid.uuid4()
    cursor = conn.execute(
        "INSERT INTO outbox (change_id, report_id, payload, state, attempts, "
        "created_at) VALUES (?, ?, '', ?, 0, ?)",
        (
            str(change_id),
            report_id,
            OutboxState.PENDING.value,
            to_db_time(author.at),
        ),
    )
    assert cursor.lastrowid is not None
    change = Change(
        change_id=change_id,
        report_id=report_id,
        op=op,
        fields=fields,
        base_clock=base_clock,
        clock=tick(base_clock, author.edge_id),
        origin=author.edge_id,
        origin_seq=cursor.lastrowid,
        author=author.analyst,
        authored_at=author.at,
    )
    conn.execute(
        "UPDATE outbox SET payload = ? WHERE origin_seq = ?",
        (change.model_dump_json(), cursor.lastrowid),
    )

    return change


def count_held(conn: sqlite3.Connection) -> int:
    """Return how many changes are held as too large for the cloud's limit."""
    row = conn.execute(
        "SELECT count(*) FROM outbox WHERE state = ?", (OutboxState.HELD.value,)
    ).fetchone()
    return int(row[0])


def release_held(conn: sqlite3.Connection, max_payload_bytes: int) -> int:
    """Make held changes that now fit *max_payload_bytes* pending again."""
    cursor = conn.execute(
        "UPDATE outbox SET state = ?, reason = NULL "
        "WHERE state = ? AND length(CAST(payload AS BLOB)) <= ?",
        (OutboxState.PENDING.value, OutboxState.HELD.value, max_payload_bytes),
    )
    return cursor.rowcount


def pending_changes(
    conn: sqlite3.Connection, *, after: int, limit: int
) -> list[PendingChange]:
    """Return up to *limit* pending changes after *after*, oldest first."""
    rows = conn.execute(
        "SELECT origin_seq, change_id, report_id, payload FROM outbox "
        "WHERE state = ? AND origin_seq > ? ORDER BY origin_seq LIMIT ?",
        (OutboxState.PENDING.value, after, limit),
    ).fetchall()
    return [
        PendingChange(
            row["origin_seq"],
            row["change_id"],
            row["report_id"],
            row["payload"].encode(),
        )
        for row in rows
    ]


def record_answers(
    conn: sqlite3.Connection, answers: Sequence[Answer], now: datetime
) -> None:
    """
    Mark every answered change, then settle the sync state of its report.

    Only pending rows change: an answer that arrives twice (a retry after a
    lost response) cannot move a row that was already answered.
    """
    last_state: dict[str, OutboxState] = {}
    stamp = to_db_time(now)
    for answer in answers:
        row = conn.execute(
            "UPDATE outbox SET state = ?, outcome = ?, reason = ?, "
            "attempts = attempts + 1, answered_at = ? "
            "WHERE change_id = ? AND state = ? RETURNING report_id",
            (
                answer.state.value,
                None if answer.state is OutboxState.HELD else answer.state.value,
                answer.reason,
                stamp,
                answer.change_id,
                OutboxState.PENDING.value,
            ),
        ).fetchone()
        if row is not None:
            last_state[row["report_id"]] = answer.state
    for report_id, state in last_state.items():
        _settle_report(conn, report_id, state)


def count_attempt(conn: sqlite3.Connection, change_ids: Iterable[str]) -> None:
    """Count one more failed delivery attempt for each change."""
    conn.executemany(
        "UPDATE outbox SET attempts = attempts + 1 WHERE change_id = ?",
        [(change_id,) for change_id in change_ids],
    )


def _settle_report(conn: sqlite3.Connection, report_id: str, last: OutboxState) -> None:
    # A report with changes still to deliver stays as it is until they are.
    placeholders = ", ".join("?" for _ in _UNFINISHED)
    unfinished = conn.execute(
        f"SELECT 1 FROM outbox WHERE report_id = ? AND state IN ({placeholders}) "
        "LIMIT 1",
        (report_id, *_UNFINISHED),
    ).fetchone()
    if unfinished is not None:
        return
    if last is OutboxState.REJECTED:
        _restore_cloud_version(conn, report_id)
        return
    row = conn.execute(
        "SELECT sync_state FROM reports WHERE report_id = ?", (report_id,)
    ).fetchone()
    # A stale or duplicate answer says nothing new about an open conflict.
    keeps_conflict = last in (OutboxState.STALE, OutboxState.DUPLICATE) and (
        row["sync_state"] == SyncState.CONFLICT
    )
    in_conflict = last is OutboxState.CONFLICT or keeps_conflict
    state = SyncState.CONFLICT if in_conflict else SyncState.SYNCED
    conn.execute(
        "UPDATE reports SET sync_state = ? WHERE report_id = ?",
        (state.value, report_id),
    )


def _restore_cloud_version(conn: sqlite3.Connection, report_id: str) -> None:
    row = conn.execute(
        "SELECT cloud_fields, cloud_clock FROM reports WHERE report_id = ?",
        (report_id,),
    ).fetchone()
    if row["cloud_fields"] is None:
        conn.execute(
            "UPDATE reports SET sync_state = ? WHERE report_id = ?",
            (SyncState.REJECTED.value, report_id),
        )
        return
    fields = ReportFields.model_validate(json.loads(row["cloud_fields"]))
    conn.execute(
        "UPDATE reports SET title = ?, content = ?, classification = ?, "
        "deleted = ?, clock = ?, sync_state = ? WHERE report_id = ?",
        (
            fields.title,
            fields.content,
            fields.classification.value,
            fields.deleted,
            row["cloud_clock"],
            SyncState.SYNCED.value,
            report_id,
        ),
    )


def purge(
    conn: sqlite3.Connection,
    now: datetime,
    *,
    delivered_retention: timedelta,
    rejected_retention: timedelta,
) -> int:
    """Delete answered rows past their retention; never pending or held ones."""
    delivered = ", ".join("?" for _ in _DELIVERED)
    removed = conn.execute(
        f"DELETE FROM outbox WHERE state IN ({delivered}) AND answered_at < ?",
        (*_DELIVERED, to_db_time(now - delivered_retention)),
    ).rowcount
    removed += conn.execute(
        "DELETE FROM outbox WHERE state = ? AND answered_at < ?",
        (OutboxState.REJECTED.value, to_db_time(now - rejected_retention)),
    ).rowcount
    return removed


def list_outbox(
    conn: sqlite3.Connection,
    *,
    limit: int,
    after: int = 0,
    state: OutboxState | None = None,
    clearance: Classification | None = None,
) -> OutboxPublic:
    """
    Return a page of the outbox in ``origin_seq`` order, none above *clearance*.

    A change is listed only if both the classification it carries and its
    report's current one are within *clearance*: neither a change marked above
    it nor any change of a report now above it tells that the report exists.
    """
    where = ["origin_seq > ?"]
    args: list[Any] = [after]
    if state is not None:
        where.append("state = ?")
        args.append(state.value)
    if clearance is not None:
        # Filtered in SQL, so a page is still full when hidden changes exist.
        visible = [c.value for c in Classification if c.rank <= clearance.rank]
        marks = ", ".join("?" * len(visible))
        where.append(
            f"json_extract(payload, '$.fields.classification') IN ({marks}) "
            "AND NOT EXISTS (SELECT 1 FROM reports AS r "
            "WHERE r.report_id = outbox.report_id "
            f"AND r.classification NOT IN ({marks}))"
        )
        args.extend(visible + visible)
    rows = conn.execute(
        "SELECT origin_seq, change_id, report_id, state, outcome, reason, "
        f"attempts, created_at, answered_at FROM outbox WHERE {' AND '.join(where)} "
        "ORDER BY origin_seq LIMIT ?",
        (*args, limit + 1),
    ).fetchall()
    entries = [
        OutboxEntryPublic(
            change_id=row["change_id"],
            report_id=row["report_id"],
            origin_seq=row["origin_seq"],
            state=OutboxState(row["state"]),
            outcome=row["outcome"],
            reason=row["reason"],
            attempts=row["attempts"],
            created_at=from_db_time(row["created_at"]),
            answered_at=from_db_time_or_none(row["answered_at"]),
        )
        for row in rows[:limit]
    ]
    next_after = entries[-1].origin_seq if len(rows) > limit else None

    return OutboxPublic(entries=entries, next_after=next_after)


def count_by_state(conn: sqlite3.Connection) -> dict[OutboxState, int]:
    """Return how many outbox rows are in each state."""
    rows = conn.execute("SELECT state, count(*) FROM outbox GROUP BY state")
    return {OutboxState(state): count for state, count in rows}


def oldest_pending_at(conn: sqlite3.Connection) -> datetime | None:
    """Return when the oldest pending change was written."""
    row = conn.execute(
        "SELECT created_at FROM outbox WHERE state = ? ORDER BY origin_seq LIMIT 1",
        (OutboxState.PENDING.value,),
    ).fetchone()
    return None if row is None else from_db_time(row["created_at"])


def recent_reasons(
    conn: sqlite3.Connection, state: OutboxState, limit: int = 5
) -> list[ChangeReason]:
    """Return the reasons of the latest changes in *state*."""
    rows = conn.execute(
        "SELECT change_id, report_id, origin_seq, reason FROM outbox "
        "WHERE state = ? ORDER BY origin_seq DESC LIMIT ?",
        (state.value, limit),
    ).fetchall()
    return [
        ChangeReason(
            change_id=row["change_id"],
            report_id=row["report_id"],
            origin_seq=row["origin_seq"],
            reason=row["reason"],
        )
        for row in rows
    ]
