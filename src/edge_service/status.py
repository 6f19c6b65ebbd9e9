"""The sync status an operator reads: backlog, refusals, loop health."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from edge_service import meta, outbox
from edge_service.models import OutboxState, SyncState, SyncStatus


def build_status(
    conn: sqlite3.Connection, *, edge_id: str, loop_alive: bool, now: datetime
) -> SyncStatus:
    """Read the outbox, the reports in conflict and the sync row into a status."""
    counts = outbox.count_by_state(conn)
    oldest = outbox.oldest_pending_at(conn)
    row = meta.load(conn)
    in_conflict = conn.execute(
        "SELECT count(*) FROM reports WHERE sync_state = ?",
        (SyncState.CONFLICT.value,),
    ).fetchone()[0]

    return SyncStatus(
        edge_id=edge_id,
        pending=counts.get(OutboxState.PENDING, 0),
        oldest_pending_age=None if oldest is None else (now - oldest).total_seconds(),
        held=counts.get(OutboxState.HELD, 0),
        rejected=counts.get(OutboxState.REJECTED, 0),
        recent_held=outbox.recent_reasons(conn, OutboxState.HELD),
        recent_rejected=outbox.recent_reasons(conn, OutboxState.REJECTED),
        in_conflict=in_conflict,
        outbox=counts,
        feed_cursor=row.feed_cursor,
        feed_head=row.feed_head,
        lag=max(row.feed_head - row.feed_cursor, 0),
        entries_pulled=row.entries_pulled,
        last_push_at=row.last_push_at,
        last_pull_at=row.last_pull_at,
        last_success_at=row.last_success_at,
        last_error=row.last_error,
        consecutive_failures=row.consecutive_failures,
        next_attempt_at=row.next_attempt_at,
        loop_alive=loop_alive,
    )
