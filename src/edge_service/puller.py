"""
Pull: apply the cloud's feed, page by page, with the clock rules.

A page and the cursor move are one writer job, so a failure in the middle of
a page leaves both as they were and the page is applied again, whole, on the
next attempt (docs/protocol.md, "Pull"; BC-05). The same job writes the
page's ``feed.applied`` audit record.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from functools import partial

import structlog

from edge_service import audit, meta
from edge_service.cloud_client import CloudClient
from edge_service.db import ReaderPool, to_db_time, to_json
from edge_service.models import OutboxState, SyncState
from edge_service.writer import Writer
from syncproto import Clock, FeedEntry, FeedPage, Ordering, compare
from syncproto.audit import AuditAction, AuditEvent

log = structlog.get_logger()

_SEEN = (Ordering.BEFORE, Ordering.EQUAL)


class CursorMovedError(RuntimeError):
    """The feed cursor changed while a page was being fetched."""


def apply_page(
    conn: sqlite3.Connection,
    page: FeedPage,
    after: int,
    now: datetime,
    *,
    edge_id: str,
) -> Counter[str]:
    """
    Apply every entry of *page* fetched after *after*, then move the cursor.

    A page with entries leaves one ``feed.applied`` record. An empty page
    writes none, even when it moves the cursor past entries above this
    edge's clearance: the log must not fill with idle polls.
    """
    if meta.feed_cursor(conn) != after:
        msg = f"feed cursor is no longer {after}; the page is dropped"
        raise CursorMovedError(msg)
    results: Counter[str] = Counter()
    for entry in page.entries:
        results[apply_entry(conn, entry)] += 1
    cursor = max(after, page.next_after)
    meta.move_cursor(conn, cursor, len(page.entries), now, head=page.head)
    if page.entries:
        audit.append(conn, [_applied(page, after, results, edge_id)], at=now)

    return results


def _applied(
    page: FeedPage, after: int, results: Counter[str], edge_id: str
) -> AuditEvent:
    detail = {
        "entries": len(page.entries),
        "after": after,
        "next_after": page.next_after,
        "head": page.head,
        **results,
    }
    return AuditEvent(
        action=AuditAction.FEED_APPLIED, actor=edge_id, edge_id=edge_id, detail=detail
    )


def apply_entry(conn: sqlite3.Connection, entry: FeedEntry) -> str:
    """Apply one feed entry to the local report; return what was done."""
    row = conn.execute(
        "SELECT clock, sync_state, cloud_clock FROM reports WHERE report_id = ?",
        (entry.report_id,),
    ).fetchone()
    if row is None:
        _store(conn, entry, _cloud_state(entry))
        return "inserted"
    pending = _pending_clocks(conn, entry.report_id)
    ordering = compare(entry.clock, json.loads(row["clock"]))
    if ordering is Ordering.AFTER or (ordering is Ordering.CONCURRENT and not pending):
        # A local change the cloud has not seen keeps the report pending.
        unseen = [c for c in pending if compare(c, entry.clock) not in _SEEN]
        _store(conn, entry, SyncState.PENDING if unseen else _cloud_state(entry))
        return "replaced"
    if ordering is Ordering.CONCURRENT:
        _remember(conn, entry, SyncState.CONFLICT)
        return "conflict"
    newest = row["cloud_clock"] is None or compare(
        entry.clock, json.loads(row["cloud_clock"])
    ) in (Ordering.AFTER, Ordering.CONCURRENT)
    if ordering is Ordering.EQUAL and not pending:
        _remember(conn, entry, _cloud_state(entry))
    elif newest:
        _remember(conn, entry, SyncState(row["sync_state"]))
    return "ignored"


def _cloud_state(entry: FeedEntry) -> SyncState:
    return SyncState.CONFLICT if entry.conflict_id else SyncState.SYNCED


def _pending_clocks(conn: sqlite3.Connection, report_id: str) -> list[Clock]:
    rows = conn.execute(
        "SELECT payload ->> '$.clock' AS clock FROM outbox "
        "WHERE report_id = ? AND state = ?",
        (report_id, OutboxState.PENDING.value),
    ).fetchall()
    return [json.loads(row["clock"]) for row in rows]


def _store(conn: sqlite3.Connection, entry: FeedEntry, state: SyncState) -> None:
    fields = entry.fields
    conn.execute(
        "INSERT INTO reports (report_id, title, content, classification, deleted, "
        "clock, created_by, created_at, updated_by, updated_at, sync_state, "
        "cloud_clock, cloud_fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (report_id) DO UPDATE SET title = excluded.title, "
        "content = excluded.content, classification = excluded.classification, "
        "deleted = excluded.deleted, clock = excluded.clock, "
        "created_by = excluded.created_by, created_at = excluded.created_at, "
        "updated_by = excluded.updated_by, updated_at = excluded.updated_at, "
        "sync_state = excluded.sync_state, cloud_clock = excluded.cloud_clock, "
        "cloud_fields = excluded.cloud_fields",
        (
            entry.report_id,
            fields.title,
            fields.content,
            fields.classification.value,
            fields.deleted,
            to_json(entry.clock),
            entry.created_by,
            to_db_time(entry.created_at),
            entry.updated_by,
            to_db_time(entry.updated_at),
            state.value,
            to_json(entry.clock),
            to_json(fields.model_dump(mode="json")),
        ),
    )


def _remember(conn: sqlite3.Connection, entry: FeedEntry, state: SyncState) -> None:
    conn.execute(
        "UPDATE reports SET cloud_clock = ?, cloud_fields = ?, sync_state = ? "
        "WHERE report_id = ?",
        (
            to_json(entry.clock),
            to_json(entry.fields.model_dump(mode="json")),
            state.value,
            entry.report_id,
        ),
    )


class Puller:
    """Fetch feed pages after the stored cursor until the feed is drained."""

    def __init__(
        self,
        client: CloudClient,
        writer: Writer,
        reader: ReaderPool,
        *,
        edge_id: str,
        limit: int,
        now: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._writer = writer
        self._reader = reader
        self._edge_id = edge_id
        self._limit = limit
        self._now = now

    async def pull_all(self) -> None:
        """Apply every page up to the feed's head; raise on a transport failure."""
        after = await self._reader.run(meta.feed_cursor)
        while True:
            page = await self._client.feed(after=after, limit=self._limit)
            job = partial(
                apply_page,
                page=page,
                after=after,
                now=self._now(),
                edge_id=self._edge_id,
            )
            results = await self._writer.run(job)
            # An idle poll every few seconds is no news: debug, not info.
            log.log(
                logging.INFO if page.entries else logging.DEBUG,
                "feed_page_applied",
                entries=len(page.entries),
                cursor=page.next_after,
                head=page.head,
                **results,
            )
            if not page.has_more or page.next_after <= after:
                return
            after = page.next_after
