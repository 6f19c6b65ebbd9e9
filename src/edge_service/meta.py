"""
The ``sync_meta`` row: the feed cursor and how the last sync runs went.

There is exactly one row (``id = 1``); :func:`ensure_row` creates it at start
so that every other function can assume it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from edge_service.db import from_db_time_or_none, to_db_time

_ID = 1


@dataclass(frozen=True)
class SyncMeta:
    """A snapshot of the ``sync_meta`` row."""

    feed_cursor: int
    feed_head: int
    entries_pulled: int
    last_push_at: datetime | None
    last_pull_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    next_attempt_at: datetime | None
    last_purge_at: datetime | None


def ensure_row(conn: sqlite3.Connection) -> None:
    """Create the single row if this database has none yet."""
    conn.execute(
        "INSERT OR IGNORE INTO sync_meta "
        "(id, feed_cursor, entries_pulled, consecutive_failures) VALUES (?, 0, 0, 0)",
        (_ID,),
    )


def load(conn: sqlite3.Connection) -> SyncMeta:
    """Return the current row."""
    row = conn.execute("SELECT * FROM sync_meta WHERE id = ?", (_ID,)).fetchone()
    return SyncMeta(
        feed_cursor=row["feed_cursor"],
        feed_head=row["feed_head"],
        entries_pulled=row["entries_pulled"],
        last_push_at=from_db_time_or_none(row["last_push_at"]),
        last_pull_at=from_db_time_or_none(row["last_pull_at"]),
        last_success_at=from_db_time_or_none(row["last_success_at"]),
        last_error=row["last_error"],
        consecutive_failures=row["consecutive_failures"],
        next_attempt_at=from_db_time_or_none(row["next_attempt_at"]),
        last_purge_at=from_db_time_or_none(row["last_purge_at"]),
    )


def feed_cursor(conn: sqlite3.Connection) -> int:
    """Return the sequence number of the last feed entry applied here."""
    row = conn.execute(
        "SELECT feed_cursor FROM sync_meta WHERE id = ?", (_ID,)
    ).fetchone()
    return int(row["feed_cursor"])


def move_cursor(
    conn: sqlite3.Connection, cursor: int, applied: int, now: datetime, *, head: int
) -> None:
    """Store the new feed cursor and the cloud's *head*, count the entries applied."""
    conn.execute(
        "UPDATE sync_meta SET feed_cursor = ?, feed_head = ?, "
        "entries_pulled = entries_pulled + ?, last_pull_at = ? WHERE id = ?",
        (cursor, head, applied, to_db_time(now), _ID),
    )


def record_push(conn: sqlite3.Connection, now: datetime) -> None:
    """Note an answered push."""
    conn.execute(
        "UPDATE sync_meta SET last_push_at = ? WHERE id = ?", (to_db_time(now), _ID)
    )


def record_success(conn: sqlite3.Connection, now: datetime) -> None:
    """Note a sync run that succeeded: it ends a run of failures and its error."""
    conn.execute(
        "UPDATE sync_meta SET last_success_at = ?, consecutive_failures = 0, "
        "last_error = NULL, next_attempt_at = NULL WHERE id = ?",
        (to_db_time(now), _ID),
    )


def record_failure(conn: sqlite3.Connection, error: str) -> None:
    """Note a failed sync run; the next attempt is not scheduled yet."""
    conn.execute(
        "UPDATE sync_meta SET last_error = ?, "
        "consecutive_failures = consecutive_failures + 1, next_attempt_at = NULL "
        "WHERE id = ?",
        (error, _ID),
    )


def record_next_attempt(conn: sqlite3.Connection, at: datetime) -> None:
    """Note when the next attempt after a failure is due."""
    conn.execute(
        "UPDATE sync_meta SET next_attempt_at = ? WHERE id = ?",
        (to_db_time(at), _ID),
    )


def record_purge(conn: sqlite3.Connection, now: datetime) -> None:
    """Note when the outbox was last purged."""
    conn.execute(
        "UPDATE sync_meta SET last_purge_at = ? WHERE id = ?", (to_db_time(now), _ID)
    )
