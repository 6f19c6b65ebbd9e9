"""Inbox retention: change ids are remembered for a configured time, then purged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud_service.db import write_transaction
from cloud_service.tables import inbox_table

log = structlog.get_logger()
_inbox = inbox_table


async def purge_inbox(session: AsyncSession, older_than: datetime) -> int:
    """Delete inbox entries received before *older_than*; return how many."""
    result = await session.execute(
        delete(_inbox).where(_inbox.c.received_at < older_than)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge_periodically(
    sessions: async_sessionmaker[AsyncSession],
    retention: timedelta,
    interval: float,
) -> None:
    """Purge the inbox every *interval* seconds, forever, whatever one run meets."""
    while True:
        try:
            async with write_transaction(sessions) as session:
                purged = await purge_inbox(session, datetime.now(UTC) - retention)
        except Exception as exc:
            # A database blip must not end purging for the life of the process.
            log.warning("inbox_purge_failed", error=type(exc).__name__)
        else:
            log.info("inbox_purged", purged=purged, retention_days=retention.days)
        await asyncio.sleep(interval)
